// The history view: SOC (estimate, its 3σ band and, in emulator mode, the truth), pack voltage
// and current, cell spread and temperatures, drawn by plotly as the session grows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

/** The history's "N points over 2 h 05 min; …" (or "… over 45 min", "… over 3 days 4 h"). */
function spanOf(text) {
  const m = text.match(/^(\d+) points over (?:(\d+) days(?: (\d+) h)?|(?:(\d+) h )?(\d+) min);/);
  assert.ok(m, `the span reads "N points over …", got "${text}"`);
  const [days, dayHours, h, min] = [m[2], m[3], m[4], m[5]].map((x) => Number(x ?? 0));
  return { points: Number(m[1]), hours: days * 24 + dayHours + h + min / 60 };
}

test('the history charts grow with the session and can be zoomed', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-30&seed=42`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  await page.waitForTimeout(4_000);
  const span = await page.getByTestId('history-span').textContent();
  const { points, hours } = spanOf(span);
  assert.ok(points >= 6 && hours >= 1.0, `4 s at 3600× is hours of history: ${span}`);
  // One line per series: estimate, +3σ, −3σ, truth; voltage, current; spread, coldest, hottest.
  // (SOH joins once the BMS has estimated a capacity: see the next test.)
  for (const [id, traces] of [['history-soc', 4], ['history-pack', 2], ['history-cells', 3]]) {
    await page.locator(`#${id} .scatterlayer .trace`).first().waitFor({ timeout: 5_000 });
    assert.equal(await page.locator(`#${id} .scatterlayer .trace`).count(), traces, id);
  }
  const legend = await page.locator('#history-soc .legend').textContent();
  assert.match(legend, /truth/);
  // Not a static picture: plotly's drag layer is there to zoom and pan.
  assert.ok((await page.locator('#history-pack .draglayer').count()) > 0, 'zoom and pan enabled');
  // Resizing the window relayouts the charts without a zoom range: not a zoom, not an error.
  await page.setViewportSize({ width: 900, height: 700 });
  await page.waitForTimeout(800);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.waitForTimeout(800);
  assert.deepEqual(errors, []);
  await page.close();
});

test('at a day a second the SOH estimate follows the true SOH down, on the SOC chart', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // A pack at 90 % of its capacity, losing 10 % a year.
  await page.goto(`${dashboard.url}?scenario=capacity-fade&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('86400');
  await page.getByTestId('emulated-time').filter({ hasText: /^day (1[2-9]|[2-9]\d)/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('pause').click();
  const { points, hours } = spanOf(await page.getByTestId('history-span').textContent());
  assert.ok(hours >= 10 * 24, `ten days and more: ${hours} h`);
  // Reports 24 s apart at this speed: a day is 3 600 of them, not 86 400.
  assert.ok(points >= (hours - 1) * 150 && points <= (hours + 1) * 150 + 10, `${points} points`);
  await page.waitForFunction(() => {
    const d = document.getElementById('history-soc')?.data;
    return d && d.some((t) => t.name === 'true SOH');
  }, null, { timeout: 10_000 });
  const soh = await page.evaluate(() => {
    const div = document.getElementById('history-soc');
    const pick = (name) => div.data.find((t) => t.name === name).y.filter((y) => y != null);
    return { estimate: pick('SOH'), truth: pick('true SOH'), axis: div.layout.yaxis2.title.text };
  });
  assert.equal(soh.axis, 'SOH (%)');
  // The truth starts near 90 % and falls; the estimate ends within two points of it.
  const [t0, t1] = [soh.truth[0], soh.truth.at(-1)];
  assert.ok(t0 > 88 && t0 < 92 && t1 < t0, `true SOH ${t0} → ${t1}`);
  assert.ok(Math.abs(soh.estimate.at(-1) - t1) < 2, `estimate ${soh.estimate.at(-1)} against ${t1}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every second is kept: zooming into minutes at 3600× shows one point a second on all three charts', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-day&seed=2`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  await page.waitForTimeout(3_000);
  await page.getByTestId('pause').click();
  const span = await page.getByTestId('history-span').textContent();
  assert.match(span, /; every report kept/);
  const { points, hours } = spanOf(span);
  assert.ok(points >= (hours - 1 / 60) * 3600 * 0.99, `one point a second: ${span}`);
  // Zoom the SOC chart to ten minutes in the middle, as a drag would.
  await page.locator('#history-soc .main-svg').first().waitFor();
  const mid = await page.evaluate(() => {
    const x = document.getElementById('history-soc').data[0].x;
    return x[Math.floor(x.length / 2)];
  });
  await page.evaluate((mid) => window.Plotly.relayout('history-soc', { 'xaxis.range[0]': mid, 'xaxis.range[1]': mid + 10 / 60 }), mid);
  await page.getByTestId('history-span').filter({ hasText: 'showing' }).waitFor({ timeout: 5_000 });
  // All three charts follow, redrawn from the one-second samples in the window.
  await page.waitForFunction(
    (mid) => ['history-soc', 'history-pack', 'history-cells'].every((id) => {
      const div = document.getElementById(id);
      const r = div.layout.xaxis.range;
      return Math.abs(r[0] - mid) < 1e-6 && div.data[0].x.length >= 590 && div.data[0].x.length <= 602;
    }),
    mid,
    { timeout: 5_000 },
  );
  // The time axis reads on the emulated clock, as the banner and the events do: round
  // minutes in a ten-minute window, the first tick with its day.
  const ticks = await page.evaluate(() => document.getElementById('history-pack').layout.xaxis.ticktext);
  assert.match(ticks[0], /^day 1<br>\d\d:\d\d$/, ticks.join(' '));
  assert.ok(ticks.length >= 4 && ticks.length <= 11, ticks.join(' '));
  assert.ok(ticks.slice(1).every((t) => /^\d\d:\d\d$/.test(t)), ticks.join(' '));
  const steps = await page.evaluate(() => {
    const x = document.getElementById('history-pack').data[0].x;
    return x.slice(1).map((v, i) => Math.round((v - x[i]) * 3600));
  });
  assert.ok(steps.every((s) => s === 1), `one second apart: ${[...new Set(steps)].join(', ')}`);
  // Double-click back: everything again, decimated.
  await page.evaluate(() => window.Plotly.relayout('history-soc', { 'xaxis.autorange': true }));
  await page.waitForFunction(() => !/showing/.test(document.querySelector('[data-testid="history-span"]').textContent));
  assert.deepEqual(errors, []);
  await page.close();
});
