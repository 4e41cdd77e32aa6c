// The dashboard loads from dist/, connects to the in-page emulated pack, and every one of the
// 16 cell voltages changes over time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

const CELLS = 16;

async function readCells(page) {
  const values = [];
  for (let n = 1; n <= CELLS; n++) {
    const text = await page.getByTestId(`cell-voltage-${n}`).textContent();
    assert.match(text, /^\d\.\d{3}$/, `cell ${n} shows volts with 3 decimals, got "${text}"`);
    values.push(Number(text));
  }
  return values;
}

test('all 16 cell voltages are shown and change over time', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const violations = [];
  const consoleErrors = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    else if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(dashboard.url);

  await page.getByTestId(`cell-voltage-${CELLS}`).waitFor({ timeout: 20_000 });
  await assert.doesNotReject(
    page.getByTestId('connection-status').filter({ hasText: 'Connected' }).waitFor({ timeout: 10_000 }),
  );

  const first = await readCells(page);
  for (const v of first) assert.ok(v > 2.5 && v < 3.65, `plausible LFP cell voltage: ${v}`);
  const pack = Number(await page.getByTestId('pack-voltage').textContent());
  const sum = first.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(pack - sum) < 0.02, `pack ${pack} V is the sum of the cells ${sum} V`);

  // Watch for up to 20 s: every cell must show a different value at least once.
  const changed = new Set();
  const deadline = Date.now() + 20_000;
  while (changed.size < CELLS && Date.now() < deadline) {
    await page.waitForTimeout(600);
    const now = await readCells(page);
    now.forEach((v, i) => {
      if (v !== first[i]) changed.add(i + 1);
    });
  }
  const still = [...Array(CELLS).keys()].map((i) => i + 1).filter((n) => !changed.has(n));
  assert.deepEqual(still, [], `cells that never changed: ${still.join(', ')}`);

  // plotly drew the bar chart (one bar per cell).
  const bars = await page.locator('#cell-chart .bars path').count();
  assert.equal(bars, CELLS, 'one bar per cell in the plotly chart');
  for (const id of ['charge-switch', 'discharge-switch']) {
    assert.match(await page.getByTestId(id).textContent(), /^(ON|OFF)$/);
  }
  assert.match(await page.getByTestId('soc').textContent(), /^\d{1,3}\.\d$/);
  for (const n of [1, CELLS]) {
    assert.match(await page.getByTestId(`cell-soc-${n}`).textContent(), /^\d{1,3} %$/, `cell ${n} shows its SOC`);
  }
  assert.match(await page.getByTestId('pack-current').textContent(), /^[+-]\d+\.\d$/);
  // Energy counted over the session, and when the pack will be full or empty at this current.
  await page.getByText(/^this session: in \d+\.\d\d kWh, out \d+\.\d\d kWh$/).waitFor({ timeout: 5_000 });
  await page.locator('span.note').filter({ hasText: /^(idle|(charging · full|discharging · empty) in (\d+ h \d\d min|\d+ min|more than 10 days))$/ }).waitFor({ timeout: 5_000 });

  await mkdir(new URL('./artifacts/', import.meta.url), { recursive: true });
  await page.screenshot({ path: new URL('./artifacts/dashboard.png', import.meta.url).pathname });
  assert.deepEqual(errors, [], 'no uncaught errors on the page');
  assert.deepEqual(violations, [], 'nothing the Content-Security-Policy had to block');
  // Nothing else in the console either: a missing file (the tab's icon was one) is a 404 there.
  assert.deepEqual(consoleErrors, [], 'no errors in the console');
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const response = await page.request.get(new URL(icon, dashboard.url).href);
  assert.equal(response.status(), 200, `the tab's icon ${icon} is served`);
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.doesNotMatch(csp, /https?:|\*/, `no remote origin is allowed: ${csp}`);
  await page.close();
});
