// In emulator mode the SOC card shows the BMS's estimate with its 3σ bound beside the emulated
// pack's true SOC, and the truth lies inside the bound. solar-30 starts the BMS 20 points wrong;
// the first frame comes a minute (emulated) later, when the voltage has already pulled the
// estimate in: from then on the truth must stay inside the bound and the bound stay tight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

async function readSoc(page) {
  // All three in one turn of the page: read one by one, a tick could land between them and
  // pair one report's estimate with the next one's truth.
  const shown = await page.evaluate(() => {
    const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    return { soc: text('soc'), bound: text('soc-bound'), truth: text('true-soc') };
  });
  const match = shown.bound.match(/^± (\d+\.\d) % \(3σ\)$/);
  assert.ok(match, `the bound reads "± x.x % (3σ)", got "${shown.bound}"`);
  return { soc: Number(shown.soc), bound: Number(match[1]), truth: Number(shown.truth) };
}

test('the SOC estimate shows its bound and the truth inside it', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-30&seed=42`);
  await page.getByTestId('true-soc').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('600');

  // Ten seconds of dashboard at 600× are 100 emulated minutes: read every half second.
  const readings = [];
  for (let i = 0; i < 20; i++) {
    const r = await readSoc(page);
    readings.push(r);
    // The card rounds to 0.1: allow that much.
    assert.ok(Math.abs(r.soc - r.truth) <= r.bound + 0.1, `truth outside the bound: ${JSON.stringify(r)}`);
    await page.waitForTimeout(500);
  }
  // The truth panel puts what truly flows and how warm the cells truly are beside the sensors.
  assert.match(await page.getByTestId('true-current').textContent(), /^[+-]\d+\.\d\d A$/);
  assert.match(await page.getByTestId('true-temperatures').textContent(), /^-?\d+\.\d … -?\d+\.\d °C$/);
  assert.match(await page.getByTestId('truth-panel').textContent(), /measured [+-]\d+\.\d\d A/);
  const last = readings[readings.length - 1];
  assert.ok(last.bound <= 5, `converged: bound ${last.bound} %`);
  assert.ok(new Set(readings.map((r) => r.truth)).size > 1, 'the emulated pack moves');
  assert.deepEqual(errors, [], 'no uncaught errors on the page');
  await page.close();
});
