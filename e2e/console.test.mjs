// The emulator console: speed, pause, one step, fault injection with run-to-next-event, and a
// restart into another scenario and pack size. Every control is found by its role and name or
// by its contract test id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emulatedSecs, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('speed, pause and one step move the emulated clock as asked', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('emulator-speed').textContent(), '60× real time (1 min a second)');
  // The emulated device runs in its Web Worker, not in the page.
  assert.match(await page.getByTestId('emulator-placement').textContent(), /runs in a Web Worker/);
  const workers = page.workers().map((w) => w.url());
  assert.ok(workers.some((u) => u.endsWith('/emulator_worker_loader.js')), workers.join(', '));

  await page.getByTestId('speed-select').selectOption('3600');
  const before = await emulatedSecs(page);
  await page.waitForTimeout(2_000);
  const after = await emulatedSecs(page);
  assert.ok(after - before >= 3_600, `3600× for 2 s moved ${after - before} s`);

  // A day a second: a trainer's month goes by in half a minute.
  await page.getByTestId('speed-select').selectOption('86400');
  await page.getByTestId('emulator-speed').filter({ hasText: '86400× real time (1 day a second)' }).waitFor();
  const fast = await emulatedSecs(page);
  await page.waitForTimeout(3_000);
  const faster = await emulatedSecs(page);
  assert.ok(faster - fast >= 86_400, `86400× for 3 s moved ${faster - fast} s`);

  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByTestId('emulator-speed').filter({ hasText: 'paused' }).waitFor();
  const frozen = await emulatedSecs(page);
  await page.waitForTimeout(1_200);
  assert.equal(await emulatedSecs(page), frozen, 'paused: the clock stands still');
  assert.match(await page.getByTestId('connection-status').textContent(), /Connected/);

  await page.getByRole('button', { name: 'Step 1 s' }).click();
  await page.waitForTimeout(200);
  assert.equal(await emulatedSecs(page), frozen + 1, 'one step is one second');

  await page.getByRole('button', { name: 'Resume' }).click();
  await page.waitForTimeout(1_200);
  assert.ok((await emulatedSecs(page)) > frozen + 1, 'running again');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an injected open sense wire trips, and run-to-next-event stops right there', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  // Paused, so that the trip waits for the run to the next event.
  await page.getByRole('button', { name: 'Pause' }).click();
  const options = await page.getByTestId('inject-fault').locator('option').allTextContents();
  assert.equal(options.length, 11, 'one of each injectable fault');
  const wire = options.findIndex((o) => o.startsWith('Open sense wire'));
  assert.ok(wire >= 0, options.join(' | '));
  await page.getByTestId('inject-fault').selectOption(String(wire));
  await page.getByTestId('inject-fault-apply').click();
  await page.getByTestId('console-message').filter({ hasText: 'Injected: Open sense wire' }).waitFor();

  const injectedAt = await emulatedSecs(page);
  await page.getByRole('button', { name: 'Run to next event' }).click();
  await page.getByTestId('console-message').filter({ hasText: 'Paused at the next event' }).waitFor();
  assert.ok((await emulatedSecs(page)) - injectedAt < 120, 'stopped at the trip, not later');
  await page.getByTestId('alarms').filter({ hasText: /open/i }).waitFor({ timeout: 5_000 });
  const active = await page.getByTestId('alarm-list').locator('> li').allTextContents();
  assert.ok(active.some((a) => /open sense wire/i.test(a)), `one child per active alarm: ${active.join(' | ')}`);
  const log = await page.getByTestId('event-log').textContent();
  assert.match(log, /open sense wire.*charging and discharging stopped/i, `the event log explains the trip: ${log}`);
  await page.close();
});

test('a restart runs the chosen scenario with the chosen pack size', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('scenario-select').selectOption('winter-cold');
  await page.getByTestId('cells-select').selectOption('8');
  await page.getByTestId('seed-input').fill('7');
  await page.getByTestId('restart').click();
  await page.getByTestId('scenario').filter({ hasText: 'winter-cold' }).waitFor({ timeout: 5_000 });
  await page.getByTestId('cell-voltage-8').waitFor({ timeout: 5_000 });
  assert.equal(await page.getByTestId('cell-voltage-9').count(), 0, 'eight cells, not sixteen');
  assert.match(await page.getByTestId('console-message').textContent(), /winter-cold with seed 7, 8 cells/);

  // A bad seed changes nothing and says why.
  await page.getByTestId('seed-input').fill('-3');
  await page.getByTestId('restart').click();
  await page.getByTestId('console-message').filter({ hasText: 'nothing changed' }).waitFor();
  assert.match(await page.getByTestId('scenario').textContent(), /winter-cold/);
  await page.close();
});

test('without its worker the emulator runs in the page and says so', async () => {
  const context = await dashboard.browser.newContext();
  // A server that lacks the worker's files (or a browser that refuses the worker).
  await context.route('**/emulator_worker_loader.js', (route) => route.fulfill({ status: 404, body: 'not found' }));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dashboard.url);
  await page.getByTestId('emulator-placement').filter({ hasText: 'runs in the page' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('soc').filter({ hasText: /\d/ }).waitFor({ timeout: 5_000 });
  const before = await emulatedSecs(page);
  await page.waitForTimeout(1_500);
  assert.ok((await emulatedSecs(page)) > before, 'the clock runs in the page');
  assert.deepEqual(errors, []);
  await context.close();
});
