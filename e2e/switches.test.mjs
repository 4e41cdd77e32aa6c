// A person can open both switches from the switches card and keep them open (a Cellsight device,
// here the emulated one): the dashboard asks first, says when the BMS confirms, shows both
// switches off and why (no fault: a command holds them), and offers to give them back to
// protection, after which the switches close again; the event list tells both commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('both switches are held open from the dashboard and given back to protection', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=solar-day&seed=1`);
  const hold = page.getByTestId('hold-open');
  await hold.waitFor({ timeout: 30_000 });
  const charge = page.getByTestId('charge-switch');
  const discharge = page.getByTestId('discharge-switch');
  await page.getByTestId('switches').filter({ has: page.locator('.switch.on') }).waitFor();
  assert.equal(await page.getByTestId('switches-held').count(), 0, 'nothing held yet');

  // Declining the question sends nothing.
  page.once('dialog', (d) => d.dismiss());
  await hold.click();
  assert.equal(await page.getByTestId('switches-status').count(), 0);

  let question = '';
  page.once('dialog', (d) => { question = d.message(); d.accept(); });
  await hold.click();
  assert.match(question, /Open both switches and keep them open\?/);
  const status = page.getByTestId('switches-status');
  await status.filter({ hasText: 'Held open: the BMS confirmed' }).waitFor({ timeout: 10_000 });
  await page.getByTestId('switches-held').waitFor({ timeout: 10_000 });
  assert.equal(await charge.textContent(), 'OFF');
  assert.equal(await discharge.textContent(), 'OFF');
  // Open because of the command, not a fault: no alarm, nothing to reset.
  assert.equal(await page.getByTestId('reset-latched').count(), 0);
  assert.equal(await page.getByTestId('alarm-list').locator('.alarm.trip').count(), 0);
  assert.equal(await hold.count(), 0, 'held already: the card offers to give them back instead');
  // The device's log says so too, for whoever looks later.
  const log = page.getByTestId('event-log');
  await log.locator('li.event.bad', { hasText: 'Both switches held open by a host command' }).waitFor({ timeout: 10_000 });

  await page.getByTestId('release-switches').click();
  await status.filter({ hasText: 'Given back: the BMS confirmed' }).waitFor({ timeout: 10_000 });
  await page.getByTestId('switches-held').waitFor({ state: 'detached', timeout: 10_000 });
  await page.getByTestId('switches').filter({ has: page.locator('.switch.on') }).waitFor({ timeout: 10_000 });
  await hold.waitFor();
  await log.locator('li.event.good', { hasText: 'Switches given back to protection by a host command' }).waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});
