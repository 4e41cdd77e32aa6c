// The history view: SOC (estimate, its 3σ band and, in emulator mode, the truth), pack voltage
// and current, cell spread and temperatures, drawn by plotly as the session grows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the history charts grow with the session and can be zoomed', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-30&seed=42`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  await page.waitForTimeout(4_000);
  const span = await page.getByTestId('history-span').textContent();
  const m = span.match(/^(\d+) points over (\d+\.\d) h/);
  assert.ok(m, span);
  assert.ok(Number(m[1]) >= 6 && Number(m[2]) >= 1.0, `4 s at 3600× is hours of history: ${span}`);
  // One line per series: estimate, +3σ, −3σ, truth; voltage, current; spread, coldest, hottest.
  for (const [id, traces] of [['history-soc', 4], ['history-pack', 2], ['history-cells', 3]]) {
    await page.locator(`#${id} .scatterlayer .trace`).first().waitFor({ timeout: 5_000 });
    assert.equal(await page.locator(`#${id} .scatterlayer .trace`).count(), traces, id);
  }
  const legend = await page.locator('#history-soc .legend').textContent();
  assert.match(legend, /true \(emulator\)/);
  // Not a static picture: plotly's drag layer is there to zoom and pan.
  assert.ok((await page.locator('#history-pack .draglayer').count()) > 0, 'zoom and pan enabled');
  assert.deepEqual(errors, []);
  await page.close();
});
