// The current sensor's offset as the BMS learns it: "not learnt yet" at the start of `solar-30`,
// whose sensor reads 0.1 A high; after a few sunny days the line under the cells tells the
// learnt offset with its 1σ, small enough that nothing needs doing. A sensor drifting 0.1 A an
// hour (`fault-current-drift`) is named as drifting, and the truth card shows how far the
// BMS's estimate lags the sensor's true offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

test('the current sensor offset is told once the BMS has learnt it', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-30&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const note = page.getByTestId('offset-note');
  assert.match(await note.textContent(), /^Current sensor offset: not learnt yet \(±1\.00 A, 1σ;/);

  await page.getByTestId('speed-select').selectOption('86400');
  // Day 4: three sunny days of charge and evening rests behind it.
  await waitFor('day 4', async () => /^day ([4-9]|\d\d),/.test(await page.getByTestId('emulated-time').textContent()), 30_000);
  const text = await note.textContent();
  const m = /^Current sensor: reads (\d+\.\d\d) A (high|low) \(±(\d+\.\d\d) A, 1σ\), as the BMS has learnt; it takes that off the reading before counting charge\.$/.exec(text);
  assert.ok(m, text);
  const offset = Number(m[1]) * (m[2] === 'high' ? 1 : -1);
  const sigma = Number(m[3]);
  // The truth is +0.10 A: the estimate within 0.15 A of it, its σ down from 1 A.
  assert.ok(Math.abs(offset - 0.1) < 0.15, `offset ${offset} A`);
  assert.ok(sigma < 0.5, `σ ${sigma} A`);
  assert.doesNotMatch(await note.getAttribute('class'), /attention/);
  // The truth beside it: the emulated sensor's offset, and what the BMS has learnt.
  assert.equal(await page.getByTestId('true-offset').textContent(), '+0.10 A');
  assert.match(await page.getByTestId('learnt-offset').textContent(), /^BMS learnt [+-]\d\.\d\d A$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a drifting current sensor is named as drifting', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=fault-current-drift&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const note = page.getByTestId('offset-note');
  await page.getByTestId('speed-select').selectOption('86400');
  await waitFor('the drift to be named', async () => /drifting/.test(await note.textContent()), 30_000);
  // Held where it was named: a day of the clock passes each second at this speed, and after a
  // day of seeing it move the BMS lets its estimate follow the drift.
  await page.getByTestId('pause').click();
  const text = await note.textContent();
  assert.match(text, /^Current sensor: reads \d+\.\d\d A high \(±\d+\.\d\d A, 1σ\), as the BMS has learnt;/);
  const moved = /The estimate has moved (\d+\.\d\d) A in (\d+) h: the sensor's zero is drifting/.exec(text);
  assert.ok(moved, text);
  assert.ok(Number(moved[1]) >= 0.6 && Number(moved[2]) <= 24, text);
  assert.match(await note.getAttribute('class'), /\battention\b/);
  // The true offset has run ahead of the estimate.
  const truth = Number((await page.getByTestId('true-offset').textContent()).replace(' A', ''));
  const learntText = await page.getByTestId('learnt-offset').textContent();
  const learnt = Number(/BMS learnt ([+-]\d+\.\d\d) A/.exec(learntText)?.[1]);
  assert.ok(Number.isFinite(learnt), learntText);
  const when = await page.getByTestId('emulated-time').textContent();
  assert.ok(truth > learnt + 0.5, `${when}: true ${truth} A, learnt ${learnt} A`);
  assert.deepEqual(errors, []);
  await page.close();
});
