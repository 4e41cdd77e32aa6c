// Opening the dashboard on the overcharge scenario: the emulated charger pushes 0.5 C into a
// 97 % pack, the engine trips over-voltage, and the page shows the alarm, the open charge switch,
// a zero charge current limit and the event explained in one sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('an over-voltage trip is shown, acted on and explained', async () => {
  const page = await dashboard.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=overcharge&seed=3`);

  await page.getByTestId('scenario').filter({ hasText: 'overcharge' }).waitFor({ timeout: 20_000 });
  const trip = page
    .getByTestId('event-log')
    .locator('li', { hasText: /over-voltage protection at 3\.\d{3} V \(limit 3\.650 V\) after 2\.0 s: charging stopped; discharging still allowed\./ });
  await trip.first().waitFor({ timeout: 30_000 });
  // Told on the emulated clock the banner shows, the time since the start on hover.
  assert.match(await trip.first().textContent(), /^day 1, \d\d:\d\d:\d\d\s*Cell \d{1,2} over-voltage/);
  const when = trip.first().locator('.event-time');
  assert.match(await when.getAttribute('title'), /^\+0d \d\d:\d\d:\d\d after the start$/);
  const banner = await page.getByTestId('emulated-time').textContent();
  assert.ok((await when.textContent()).trim() <= banner, `event after the clock: ${banner}`);

  await page.getByTestId('alarms').filter({ hasText: 'over-voltage' }).waitFor({ timeout: 5_000 });
  // The alarm says what the BMS did about it, in the trip's red.
  const alarm = page.getByTestId('alarm-list').locator('li.alarm.trip').filter({ hasText: /^over-voltage/ });
  assert.equal((await alarm.locator('.consequence').textContent()).trim(), 'charging stopped');
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'OFF');
  assert.equal(await page.getByTestId('discharge-switch').textContent(), 'ON');
  assert.equal(await page.getByTestId('limits-ccl').textContent(), '0');
  assert.ok(Number(await page.getByTestId('limits-cvl').textContent()) > 50, 'CVL never 0');
  assert.deepEqual(errors, []);
  await page.close();
});
