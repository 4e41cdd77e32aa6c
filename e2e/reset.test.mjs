// A latched fault waits for a person: the alarms card offers "Reset latched faults…" on a
// Cellsight device (here the emulated one), asks first, sends the device's reset command and
// says when the BMS confirms; a fault still present (the sense wire is still open) keeps the
// switches open, no longer latched, until it clears; the event log tells the reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('a latched fault is reset from the alarms card; one still there keeps the switches open', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=fault-open-wire&seed=1`);
  await page.getByTestId('pause').click();
  const reset = page.getByTestId('reset-latched');
  assert.equal(await reset.count(), 0, 'nothing latched, nothing to reset');

  await page.getByRole('button', { name: 'Run to next event' }).click();
  const wireAlarm = page.getByTestId('alarm-list').locator('li.alarm.trip').filter({ hasText: /^open sense wire/ });
  await wireAlarm.filter({ hasText: 'charging and discharging stopped · reset needed' }).waitFor({ timeout: 60_000 });
  await reset.waitFor();

  // Declining the question sends nothing.
  page.once('dialog', (d) => d.dismiss());
  await reset.click();
  assert.equal(await page.getByTestId('reset-status').count(), 0);

  let question = '';
  page.once('dialog', (d) => { question = d.message(); d.accept(); });
  await reset.click();
  assert.match(question, /Reset the latched faults\?/);
  await page.getByTestId('reset-status').filter({ hasText: 'the BMS confirmed' }).waitFor({ timeout: 10_000 });

  // The wire is still open: the log shows the reset, and the trip stays (no longer latched),
  // the switches open, until the fault clears by itself.
  for (let i = 0; i < 3; i += 1) await page.getByRole('button', { name: 'Step 1 s' }).click();
  const log = page.getByTestId('event-log');
  await log.filter({ hasText: 'Open sense wire reset by the user.' }).waitFor({ timeout: 10_000 });
  const alarms = page.getByTestId('alarms');
  await alarms.filter({ hasNotText: 'reset needed' }).waitFor({ timeout: 10_000 });
  assert.equal((await wireAlarm.locator('.consequence').textContent()).trim(), 'charging and discharging stopped');
  assert.equal(await reset.count(), 0, 'nothing latched now');
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'OFF');
  assert.equal(await page.getByTestId('discharge-switch').textContent(), 'OFF');
  assert.deepEqual(errors, []);
  await context.close();
});
