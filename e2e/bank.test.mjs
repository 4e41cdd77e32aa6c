// Packs in parallel: three packs on one bus, each with its own BMS (the emulator's bank). The
// bank panel tells what the inverter is told together and a line a pack; the CAN frames are the
// bank's. An open sense wire in pack 1 opens it: the bank then tells the two others' limits.
// The console restarts a run with another number of packs. A pack whose breaker opens is named
// by the packs beside it, its own BMS seeing nothing wrong; the `fault-bus-disconnected`
// scenario, picked in the console, brings its own three packs and opens pack 1's at 10:00.
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

test('three packs in parallel are told to the inverter as one', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?packs=3`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const bank = page.getByTestId('bank');
  await bank.waitFor({ state: 'visible', timeout: 10_000 });
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  const told = page.getByTestId('bank-told');
  assert.match(await told.textContent(), /^Told to the inverter: CVL 55\.2 V · CCL 4(19|20) A · DCL (599|600) A · 3 of 3 packs charging, 3 discharging · SOC \d+\.\d %$/);
  assert.equal(await page.getByTestId('packs-select').inputValue(), '3');
  assert.equal(await page.getByTestId('limits-label').textContent(), "Pack 1's own limits");
  assert.match(await page.getByTestId('bank-pack-2').textContent(), /^Pack 2\d+\.\d %learning[+-]?\d+\.\d A\d+\.\d\d Vcharge on · discharge on140 A in · 200 A out\s*noneShow$/);
  // The CAN frames are the bank's: three modules, three packs' limits.
  assert.match(await page.getByTestId('can-359').textContent(), /3 module/);
  assert.match(await page.getByTestId('can-351').textContent(), /charge current limit 4(19|20)\.\d A/);

  // An open sense wire in pack 1 (the faults go to pack 1).
  await page.getByRole('button', { name: 'Pause' }).click();
  const options = await page.getByTestId('inject-fault').locator('option').allTextContents();
  const wire = options.findIndex((o) => o.startsWith('Open sense wire'));
  await page.getByTestId('inject-fault').selectOption(String(wire));
  await page.getByTestId('inject-fault-apply').click();
  await page.getByRole('button', { name: 'Run to next event' }).click();
  await page.getByTestId('console-message').filter({ hasText: 'Paused at the next event' }).waitFor();
  await waitFor('pack 1 to open', async () => /charge off · discharge off/.test(await page.getByTestId('bank-pack-1').textContent()));
  assert.match(await page.getByTestId('bank-pack-1').textContent(), /open sense wire \(trip\)/);
  assert.match(await page.getByTestId('bank-pack-1').getAttribute('class'), /\btripped\b/);
  // Two packs' 140 A and 200 A (a few amperes less while the two take up pack 1's part: the
  // limit allows for the packs' uneven sharing of any change).
  assert.match(await told.textContent(), / · CCL 2[78]\d A · DCL (39\d|400) A · 2 of 3 packs charging, 2 discharging · /);
  assert.match(await page.getByTestId('can-351').textContent(), /charge current limit 2[78]\d\.\d A/);

  // Pack 2's BMS on the page instead: a new session (its greeting, its reports), pack 2's
  // limits, and a fault injected now goes to pack 2.
  assert.equal(await page.getByTestId('bank-shown-1').textContent(), 'on this page');
  await page.getByTestId('bank-show-2').click();
  await page.getByTestId('console-message').filter({ hasText: 'Showing pack 2' }).waitFor();
  await page.getByTestId('bank-shown-2').waitFor();
  assert.equal(await page.getByTestId('limits-label').textContent(), "Pack 2's own limits");
  assert.match(await page.getByTestId('charge-switch').textContent(), /ON/);
  await page.getByTestId('inject-fault').selectOption(String(wire));
  await page.getByTestId('inject-fault-apply').click();
  await page.getByRole('button', { name: 'Run to next event' }).click();
  await waitFor('pack 2 to open', async () => /charge off · discharge off/.test(await page.getByTestId('bank-pack-2').textContent()));
  await waitFor("this page's switches to open", async () => /OFF/.test(await page.getByTestId('charge-switch').textContent()));
  assert.match(await told.textContent(), / · 1 of 3 packs charging, 1 discharging · /);

  // Back to one pack: no bank panel, the pack's own frames.
  await page.getByTestId('packs-select').selectOption('1');
  await page.getByTestId('restart').click();
  await page.getByTestId('console-message').filter({ hasText: 'Restarted: solar-day with seed 1, 16 cells.' }).waitFor();
  await waitFor('the bank panel to go', async () => !(await bank.isVisible()));
  await waitFor('one module', async () => /1 module/.test(await page.getByTestId('can-359').textContent()));
  assert.equal(await page.getByTestId('limits-label').textContent(), 'Told to the inverter');
  assert.deepEqual(errors, []);
  await page.close();
});

test('packs brought together at different charge levels even out through the bus', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // 15 points apart: pack 3 starts 30 points below pack 1, near empty on the solar morning.
  await page.goto(`${dashboard.url}?packs=3&pack-soc-step=15`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  await page.getByRole('button', { name: 'Pause' }).click();
  const line = async (k) => {
    const text = await page.getByTestId(`bank-pack-${k}`).textContent();
    const m = /^Pack \d(\d+\.\d) %(?:learning|\d+ %)([+-]?\d+\.\d) A/.exec(text);
    assert.ok(m, text);
    return { soc: Number(m[1]), current: Number(m[2]) };
  };
  const [one, three] = [await line(1), await line(3)];
  assert.ok(one.soc - three.soc > 25, `${one.soc} % and ${three.soc} %`);
  // The fullest pack gives, the emptiest takes, more than the house's morning load (about 5 A
  // a pack): 62 A a minute in, still 19 A twenty minutes in (60× for twenty seconds).
  assert.ok(one.current < -10 && three.current > 10, `${one.current} A and ${three.current} A`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a full pack stands by so that the others charge on', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Pack 1's weak cell is full about six hours in; half a minute later its BMS opens its
  // charge switch and stands by until the evening draws on it.
  await page.goto(`${dashboard.url}?packs=3&scenario=fault-weak-cell`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  await page.getByTestId('speed-select').selectOption('3600');
  await waitFor('pack 1 to stand by', async () => /charge standing by · discharge on/.test(await page.getByTestId('bank-pack-1').textContent()), 60_000);
  await page.getByRole('button', { name: 'Pause' }).click();
  const line = await page.getByTestId('bank-pack-1').textContent();
  assert.doesNotMatch(await page.getByTestId('bank-pack-1').getAttribute('class'), /\btripped\b/, line);
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'STANDBY');
  await page.getByTestId('charge-standby').waitFor();
  assert.match(await page.getByTestId('bank-told').textContent(), / · 2 of 3 packs charging, 3 discharging · /);
  // No note says pack 1 holds the bank's charge back any more.
  assert.equal(await page.getByTestId('bank-held').filter({ hasText: 'pack 1 asks' }).count(), 0);
  assert.match(await page.getByTestId('event-log').textContent(), /Charge switch opened at \d+\.\d\d V to stand by/);
  // The bank's history: a line a pack in both charts, over the hours run so far.
  for (const id of ['bank-current', 'bank-soc']) {
    await waitFor(`${id}'s three lines`, async () => (await page.locator(`#${id} .scatterlayer .trace`).count()) === 3);
  }
  assert.match(await page.getByTestId('bank-history-span').textContent(), /over \d+ h/);
  // And downloads as CSV: a pair of columns a pack, a row a point, on the emulated clock.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('bank-csv').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'cellsight-bank.csv');
  const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'time_s,clock,pack1_soc_pct,pack1_current_a,pack2_soc_pct,pack2_current_a,pack3_soc_pct,pack3_current_a');
  assert.ok(csv.length > 100, `${csv.length} lines`);
  assert.match(csv[1], /^\d+,"?day 1, 0[6-9]:\d\d:\d\d"?,\d+\.\d,-?\d+\.\d\d,/);
  await page.getByTestId('bank-csv-status').filter({ hasText: 'points of every pack exported as CSV' }).waitFor();
  await page.getByTestId('switches').screenshot({ path: 'e2e/artifacts/bank-standby-switches.png' });
  await page.getByTestId('bank').screenshot({ path: 'e2e/artifacts/bank-standby.png' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('an old bank with a new pack: the older packs take less and their BMSs know them', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Pack 1 new, pack 2 six years in service, pack 3 twelve.
  await page.goto(`${dashboard.url}?packs=3&pack-age-step=6`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  await page.getByRole('button', { name: 'Pause' }).click();
  const line = async (k) => {
    const text = await page.getByTestId(`bank-pack-${k}`).textContent();
    const m = /^Pack \d\d+\.\d %(learning|\d+ %)([+-]?\d+\.\d) A/.exec(text);
    assert.ok(m, text);
    return { soh: m[1], current: Number(m[2]) };
  };
  const [one, two, three] = [await line(1), await line(2), await line(3)];
  assert.equal(one.soh, 'learning');
  // About 86 % and 78 % of their capacity left.
  assert.match(two.soh, /^8\d %$/);
  assert.match(three.soh, /^7\d %$/);
  // The house draws on the bank: the newest pack gives the most, the oldest the least.
  assert.ok(one.current < two.current && two.current < three.current && three.current < 0,
    `${one.current} A, ${two.current} A, ${three.current} A`);
  await page.getByTestId('bank-show-3').click();
  await page.getByTestId('console-message').filter({ hasText: 'Showing pack 3' }).waitFor();
  await page.getByTestId('bank').screenshot({ path: 'e2e/artifacts/bank-ages.png' });
  // The console says what runs and restarts another bank: two packs four years apart.
  assert.equal(await page.getByTestId('age-step-select').inputValue(), '6');
  await page.getByTestId('packs-select').selectOption('2');
  await page.getByTestId('age-step-select').selectOption('4');
  await page.getByTestId('restart').click();
  await page.getByTestId('console-message').filter({ hasText: 'Restarted: solar-day with seed 1, 16 cells, 2 packs in parallel, each 4 years older than the one before.' }).waitFor();
  await waitFor('two pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 2);
  await waitFor('pack 2 known at 8x %', async () => /^Pack 2\d+\.\d %8\d %/.test(await page.getByTestId('bank-pack-2').textContent()));
  // One pack: no steps between packs to choose.
  await page.getByTestId('packs-select').selectOption('1');
  assert.equal(await page.getByTestId('age-step-select').isVisible(), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a pack cut off the bus is named, though its own BMS sees nothing wrong", async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?packs=3`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  // Pack 1's breaker opens at dawn (faults go to the pack on the page); as the sun climbs the
  // two others charge at tens of amperes while it carries nothing.
  const options = await page.getByTestId('inject-fault').locator('option').allTextContents();
  const breaker = options.findIndex((o) => o.startsWith("The pack's breaker to the bus opens"));
  assert.ok(breaker >= 0, options.join(' | '));
  await page.getByTestId('inject-fault').selectOption(String(breaker));
  await page.getByTestId('inject-fault-apply').click();
  await page.getByTestId('speed-select').selectOption('3600');
  await page.getByTestId('bank-cut-off').filter({ hasText: /^Pack 1 carries no current while the others are charging at \d+ A each on average, its switches on: it may be cut off the bus\./ }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  // Its own BMS: switches on, nothing wrong, nothing flowing but its sensor's noise.
  assert.match(await page.getByTestId('bank-pack-1').textContent(), /[+-]0\.\d A.*charge on · discharge on.*none/);
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'ON');
  // The bank leaves it out of what it tells the inverter: the other two's limits, their SOC.
  assert.match(await page.getByTestId('bank-told').textContent(), / · 2 of 3 packs charging, 2 discharging · SOC \d+\.\d % of the packs it reaches · 1 left out, cut off the bus$/);
  assert.equal(await page.getByTestId('bank-left-out-1').textContent(), 'left out: cut off the bus');
  assert.equal(await page.locator('[data-testid^="bank-left-out-"]').count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the bus-disconnected scenario picked in the console brings its own packs', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('packs-select').inputValue(), '1');
  await page.getByTestId('scenario-select').selectOption('fault-bus-disconnected');
  // A pack on its own could not notice: the console offers the scenario's three.
  assert.equal(await page.getByTestId('packs-select').inputValue(), '3');
  await page.getByRole('button', { name: 'Restart' }).click();
  await page.getByTestId('console-message').filter({ hasText: 'Restarted: fault-bus-disconnected with seed 1, 16 cells, 3 packs in parallel.' }).waitFor();
  await waitFor('three pack lines', async () => (await page.getByTestId('bank-packs').locator('tbody tr').count()) === 3);
  await page.getByTestId('speed-select').selectOption('3600');
  // 10:00, four hours in: pack 1's breaker opens, and a minute later the bank leaves it out.
  await page.getByTestId('bank-left-out-1').waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  assert.equal(await page.getByTestId('bank-left-out-1').textContent(), 'left out: cut off the bus');
  assert.match(await page.getByTestId('bank-told').textContent(), / · 1 left out, cut off the bus$/);
  // Its own BMS sees nothing wrong: the page is pack 1's.
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'ON');
  assert.match(await page.getByTestId('bank-pack-1').textContent(), /charge on · discharge on.*none/);
  assert.deepEqual(errors, []);
  await page.close();
});
