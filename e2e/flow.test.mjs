// The power-flow picture in emulator mode: PV, grid, battery and home around the inverter,
// balanced, moving the right way, and said in words for screen readers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

const kw = (text) => {
  const m = text.match(/([\d.]+) (kW|W)/);
  return m ? Number(m[1]) * (m[2] === 'kW' ? 1000 : 1) : 0;
};

test('power flows from the sun at noon and the picture says so', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-day&seed=3`);
  await page.getByTestId('power-flow').waitFor({ timeout: 20_000 });
  // 06:00 → about noon at 3600×, then hold still to read it.
  await page.getByTestId('speed-select').selectOption('3600');
  await page.waitForFunction(() => /day 1, 1[1-4]:/.test(document.querySelector('[data-testid="emulated-time"]')?.textContent ?? ''), null, { timeout: 30_000 });
  await page.getByTestId('pause').click();
  await page.waitForTimeout(700);
  const pv = kw(await page.getByTestId('flow-pv').textContent());
  const home = kw(await page.getByTestId('flow-home').textContent());
  const battery = await page.getByTestId('flow-battery').textContent();
  const grid = await page.getByTestId('flow-grid').textContent();
  assert.ok(pv > 1500, `the sun shines at noon: ${pv} W`);
  assert.ok(home > 0);
  // What comes in goes somewhere: PV = home + battery charge + export (± rounding).
  const batteryW = /charging/.test(battery) && !/dis/.test(battery) ? kw(battery) : /discharging/.test(battery) ? -kw(battery) : 0;
  const gridW = /importing/.test(grid) ? kw(grid) : /exporting/.test(grid) ? -kw(grid) : 0;
  assert.ok(Math.abs(pv + gridW - home - batteryW) < 40, `balance: pv ${pv} grid ${gridW} home ${home} battery ${batteryW}`);
  // The PV line runs toward the inverter, the home line away from it.
  assert.match(await page.getByTestId('flow-line-pv').getAttribute('class'), /active to-hub/);
  assert.match(await page.getByTestId('flow-line-home').getAttribute('class'), /active from-hub/);
  const label = await page.locator('[data-testid="power-flow"] svg').getAttribute('aria-label');
  assert.match(label, /^Solar [\d.]+ k?W; battery .+; home uses [\d.]+ k?W; grid .+\.$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('during a grid outage the picture shows the grid down', async () => {
  const page = await dashboard.browser.newPage();
  await page.goto(`${dashboard.url}?scenario=grid-outage&seed=1`);
  await page.getByTestId('power-flow').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  await page.getByTestId('flow-grid').filter({ hasText: 'down (outage)' }).waitFor({ timeout: 30_000 });
  await page.close();
});

test('on a winter night the heater waits for the sun, then draws inside the battery', async () => {
  const page = await dashboard.browser.newPage();
  await page.goto(`${dashboard.url}?scenario=winter-cold&seed=1`);
  await page.getByTestId('power-flow').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  const clock = (pattern) =>
    page.waitForFunction(
      (source) => new RegExp(source).test(document.querySelector('[data-testid="emulated-time"]')?.textContent ?? ''),
      pattern.source,
      { timeout: 60_000 },
    );
  // The second night, the battery resting at its reserve while the grid carries the house:
  // nothing will charge it before sunrise, so the cold cells are not heated.
  await clock(/day 2, 0[2-4]:/);
  await page.getByTestId('pause').click();
  assert.equal(await page.getByTestId('flow-pv').textContent(), '0 W');
  assert.equal(await page.getByTestId('flow-heater').count(), 0);
  await page.getByTestId('pause').click();
  // The morning's surplus is on offer: the heater warms the cells first (seed 1: 07:00–10:14).
  await clock(/day 2, 0[89]:/);
  await page.getByTestId('pause').click();
  await page.getByTestId('flow-heater').waitFor({ timeout: 5_000 });
  assert.match(await page.getByTestId('flow-heater').textContent(), /^heater [\d.]+ k?W$/);
  assert.notEqual(await page.getByTestId('flow-pv').textContent(), '0 W');
  const label = await page.locator('[data-testid="power-flow"] svg').getAttribute('aria-label');
  assert.match(label, /battery .+, its heater [\d.]+ k?W;/);
  await page.close();
});
