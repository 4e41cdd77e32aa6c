// When the analog front end stops answering, the BMS holds its last measurements and opens both
// switches. The cards must not go on presenting those numbers as live: a "charging · full in
// 52 h" under open switches was what the page once said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();
const STALE = 'last reading before the front end stopped answering';

test('the last measurements before the front end went silent are marked as such', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=fault-front-end-lost&seed=1`);
  await page.getByTestId('pause').click();
  const current = page.locator('.card.metric', { has: page.getByTestId('pack-current') });
  await current.locator('.note').filter({ hasText: /charging|discharging|idle/ }).waitFor({ timeout: 10_000 });
  assert.doesNotMatch(await current.locator('.note').textContent(), new RegExp(STALE));

  await page.getByRole('button', { name: 'Run to next event' }).click();
  await page.getByTestId('alarm-list').filter({ hasText: 'front end not responding' }).waitFor({ timeout: 60_000 });
  await current.locator('.note').filter({ hasText: STALE }).waitFor({ timeout: 10_000 });
  await page.locator('section.cells .thermal').filter({ hasText: STALE }).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'OFF');
  const log = await page.getByTestId('event-log').textContent();
  assert.match(log, /Front end not responding protection at [\d.]+ s \(limit [\d.]+ s\): charging and discharging stopped\./);
  assert.doesNotMatch(log, /after 0\.0 s/);
  assert.deepEqual(errors, []);
  await context.close();
});
