// Offline: after one visit the dashboard opens, runs its emulator and shows telemetry with the
// network gone (a service worker keeps the page and everything it names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the dashboard opens and runs offline after the first visit', async () => {
  const context = await dashboard.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dashboard.url);
  await page.getByTestId('soc').filter({ hasText: /\d/ }).waitFor({ timeout: 20_000 });
  // Wait until the worker has cached the app and controls the page.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    }
  });
  await context.setOffline(true);
  // Offline for real: the server is unreachable from this page.
  const reachable = await page.evaluate(() => fetch('/nothing-here-' + Date.now()).then(() => true, () => false));
  assert.equal(reachable, false);
  await page.goto(`${dashboard.url}?scenario=overcharge&seed=4`);
  await page.getByTestId('soc').filter({ hasText: /\d/ }).waitFor({ timeout: 20_000 });
  assert.match(await page.getByTestId('scenario').textContent(), /overcharge/);
  const v = Number((await page.getByTestId('pack-voltage').textContent()).match(/[\d.]+/)[0]);
  assert.ok(v > 40 && v < 60, `pack voltage ${v}`);
  // The charts too: plotly.js came from the cache.
  await page.locator('.history-chart .main-svg').first().waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await context.close();
});
