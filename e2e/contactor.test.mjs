// A rack with a main contactor: the event list tells its sequence, as a trainer teaching
// pre-charge would point at it: how long pre-charge took and at what voltages the contactor
// closed, and, when a host holds the switches open, that it opened and the pack is
// disconnected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the event list tells the contactor closing after pre-charge and opening', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=contactor-rack&seed=1`);
  const log = page.getByTestId('event-log');
  const closed = log.locator('li.event.good', { hasText: /Pre-charge done in \d+\.\d s \(DC bus [\d.]+ V, pack [\d.]+ V\): main contactor closed/ });
  await closed.waitFor({ timeout: 30_000 });
  await page.getByTestId('contactor').filter({ hasText: 'closed' }).waitFor({ timeout: 10_000 });
  // The bus matched the pack within the scenario’s 2 V voltage match (the sentence rounds to 0.1 V).
  const [, bus, pack] = (await closed.textContent()).match(/DC bus ([\d.]+) V, pack ([\d.]+) V/).map(Number);
  assert.ok(Math.abs(bus - pack) <= 2.1, `bus ${bus} V, pack ${pack} V`);

  page.once('dialog', (d) => d.accept());
  await page.getByTestId('hold-open').click();
  await log.locator('li.event.bad', { hasText: /Main contactor opened at [\d.]+ V: the pack disconnected/ }).waitFor({ timeout: 10_000 });
  await page.getByTestId('contactor').filter({ hasText: 'open' }).waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});
