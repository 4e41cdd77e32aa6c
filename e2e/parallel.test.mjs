// Your own packs in parallel: two JBD BMSs on mock serial ports (the browser's chooser hands
// out one, then the other), each answering the dashboard's polls with frames built here from
// the published layout (../shared/DOMAIN.md §4). The first connects as the page's device, the
// second is added beside it: both must show in the table with their own numbers, added up by
// capacity, and the one carrying nothing for a minute while the other discharges must be
// pointed at; then the second disconnects and only the page's device is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { emulatorWire, openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const be16 = (v) => [(v >> 8) & 0xff, v & 0xff];
const checksum = (covered) => be16((0x10000 - covered.reduce((s, b) => s + b, 0)) & 0xffff);
const request = (reg) => [0xdd, 0xa5, reg, 0, ...checksum([reg, 0]), 0x77];
const answer = (reg, data) => {
  const covered = [0, data.length, ...data];
  return [0xdd, reg, ...covered, ...checksum(covered), 0x77];
};

/** A JBD pack's answers: `centiamps` of current (negative discharges), `soc` %, charge left
 *  and full capacity in Ah, no protection active, both FETs on, four cells. */
function jbd({ centiamps, soc, leftAh, fullAh, cellsMv }) {
  const volts = Math.round(cellsMv.reduce((a, b) => a + b, 0) / 10);
  const basic = answer(0x03, [
    ...be16(volts), ...be16(centiamps & 0xffff), ...be16(leftAh * 100), ...be16(fullAh * 100),
    ...be16(12), ...be16(0x2a61), ...be16(0), ...be16(0), ...be16(0), 0x10, soc, 0b11,
    cellsMv.length, 1, ...be16(2981),
  ]);
  return {
    [hex(request(0x03))]: [basic],
    [hex(request(0x04))]: [answer(0x04, cellsMv.flatMap(be16))],
  };
}

const PACK_1 = jbd({ centiamps: -4000, soc: 60, leftAh: 168, fullAh: 280, cellsMv: [3290, 3292, 3288, 3291] });
const PACK_2 = jbd({ centiamps: 20, soc: 80, leftAh: 80, fullAh: 100, cellsMv: [3310, 3325, 3312, 3311] });

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const encode = (answers) => Object.fromEntries(Object.entries(answers).map(([k, frames]) => [k, frames.map(b64)]));
const JBD_BLE = { service: '0000ff00-0000-1000-8000-00805f9b34fb', notify: '0000ff01-0000-1000-8000-00805f9b34fb', write: '0000ff02-0000-1000-8000-00805f9b34fb' };

/** A page whose serial chooser hands out a port answering as `packs[0]`, then one answering
 *  as `packs[1]`… (with `granted`, every one was allowed before: `getPorts` offers them all);
 *  with `radio`, its Bluetooth chooser offers a JBD named `radio.name` that answers as
 *  `radio.answers` and drops out once, after `radio.dropAfter` answers. */
async function pageWithPacks(packs, radio, granted = false, baud = undefined) {
  const context = await dashboard.browser.newContext();
  await context.addInitScript(({ packs, radio, ble, granted, baud }) => {
    localStorage.setItem('cellsight-protocol', 'jbd');
    if (baud) localStorage.setItem('cellsight-baud', baud);
    const bytesOf = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    window.__closed = [];
    const makePort = (answers, k) => {
      let controller;
      return {
        async open() {},
        async close() { window.__closed.push(k); },
        readable: new ReadableStream({ start(c) { controller = c; } }),
        writable: new WritableStream({
          write(chunk) {
            for (const frame of answers[toHex(chunk)] ?? []) {
              setTimeout(() => { try { controller.enqueue(bytesOf(frame)); } catch { /* closed */ } }, 5);
            }
          },
        }),
      };
    };
    const ports = packs.map(makePort);
    let handed = 0;
    const serial = new EventTarget();
    serial.requestPort = async () => ports[handed++];
    serial.getPorts = async () => (granted ? ports : []);
    Object.defineProperty(navigator, 'serial', { configurable: true, value: serial });
    if (!radio) return;
    // A JBD over Bluetooth: requests on the write characteristic, answers as 20-byte
    // notifications; once, after `dropAfter` answers, the link drops (it can connect again).
    const device = new EventTarget();
    device.name = radio.name;
    const notify = new EventTarget();
    notify.uuid = ble.notify;
    notify.startNotifications = async () => notify;
    const write = new EventTarget();
    write.uuid = ble.write;
    write.properties = { write: true, writeWithoutResponse: true };
    let answered = 0;
    window.__drops = 0;
    const written = async (data) => {
      const frames = radio.answers[toHex(new Uint8Array(data.buffer ?? data))] ?? [];
      answered += frames.length ? 1 : 0;
      if (answered === radio.dropAfter + 1 && window.__drops === 0) {
        window.__drops += 1;
        device.gatt.connected = false;
        setTimeout(() => device.dispatchEvent(new Event('gattserverdisconnected')), 5);
        return;
      }
      for (const frame of frames) {
        const bytes = bytesOf(frame);
        for (let i = 0; i < bytes.length; i += 20) {
          setTimeout(() => {
            if (!device.gatt.connected) return;
            notify.value = new DataView(bytes.slice(i, i + 20).buffer);
            notify.dispatchEvent(new Event('characteristicvaluechanged'));
          }, 5);
        }
      }
    };
    write.writeValueWithoutResponse = written;
    write.writeValue = written;
    const service = { getCharacteristic: async (uuid) => (uuid === ble.notify ? notify : write) };
    const server = {
      getPrimaryService: async (uuid) => {
        if (uuid !== ble.service) throw new DOMException('no such service', 'NotFoundError');
        return service;
      },
    };
    device.gatt = { connected: false, connect: async () => { device.gatt.connected = true; return server; }, disconnect: () => { device.gatt.connected = false; } };
    Object.defineProperty(navigator, 'bluetooth', { configurable: true, value: { requestDevice: async () => device } });
  }, { packs: packs.map(encode), radio: radio && { ...radio, answers: encode(radio.answers) }, ble: JBD_BLE, granted, baud });
  // The page's clock flows as usual until a test runs it on.
  await context.clock.install();
  // Ports allowed before connect by themselves, so the emulator's banner never shows.
  return openDashboard(context, dashboard.url, granted ? 'device-status' : 'emulated-time');
}

const text = (page, id) => page.getByTestId(id).textContent();

test('a second pack added beside the first is shown, added up, and pointed at when it carries nothing', async () => {
  const { context, page, errors } = await pageWithPacks([PACK_1, PACK_2]);
  // The panel belongs to devices: not there while the emulator runs.
  assert.equal(await page.getByTestId('parallel').isVisible(), false);
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('pack-current').filter({ hasText: '-40.0' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel').waitFor();
  assert.match(await text(page, 'parallel'), /More packs on the same bus/);
  assert.equal(await page.getByTestId('parallel-packs').count(), 0);

  await page.getByTestId('parallel-add-serial').click();
  await page.getByTestId('parallel-link-2').filter({ hasText: 'USB serial at 115200 baud · JBD / Xiaoxiang / Overkill · live' }).waitFor({ timeout: 15_000 });
  const row = async (n) => (await page.getByTestId(`parallel-pack-${n}`).locator('td').allTextContents());
  // Both answers in: the basic figures and the cells (each pack is polled for them in turn).
  await page.getByTestId('parallel-pack-2').filter({ hasText: '15 mV apart' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel-pack-1').filter({ hasText: '4 mV apart' }).waitFor();
  assert.deepEqual((await row(1)).slice(0, 7), [
    '60.0 %', '—', '-40.0 A', '13.16 V', '3.288–3.292 V4 mV apart, cells 3 and 2', 'charge on · discharge on', 'none',
  ]);
  assert.deepEqual((await row(2)).slice(0, 7), [
    '80.0 %', '—', '+0.2 A', '13.26 V', '3.310–3.325 V15 mV apart, cells 1 and 2', 'charge on · discharge on', 'none',
  ]);
  assert.match(await text(page, 'parallel-link-1'), /on this page · JBD \/ Xiaoxiang \/ Overkill · live/);
  // (60 × 280 + 80 × 100) / 380 = 65.3 %; 168 + 80 Ah left of 380.
  await page.getByTestId('parallel-together').filter({ hasText: 'SOC 65.3 % of 380 Ah (248.0 Ah left)' }).waitFor();
  // JBD tells no limits: what the packs allow together cannot be known, and the page says why.
  assert.equal(await text(page, 'parallel-told'), 'What they allow together: not known, as JBD / Xiaoxiang / Overkill does not tell its limits.');
  assert.match(await text(page, 'parallel-together'), /^Together: 2 packs · -39\.8 A · -5\d\d W · /);
  // Idle beside a busy pack for a moment is nothing; for a minute, it is named (the page's
  // clock run a minute on, the packs answering all along).
  assert.equal(await page.getByTestId('parallel-cut-off').count(), 0);
  await page.clock.runFor(61_000);
  await page.getByTestId('parallel-cut-off').waitFor();
  assert.match(await text(page, 'parallel-cut-off'), /^Pack 2 carries no current while the others are discharging at 40 A each on average/);
  assert.equal(await text(page, 'parallel-left-out-2'), 'may be cut off the bus');
  assert.equal(await page.getByTestId('parallel-left-out-1').count(), 0);
  // The rest of the page stays pack 1's.
  assert.equal(await text(page, 'soc'), '60.0');
  // Both packs over time: a line each in both charts, a point a second, and as CSV.
  for (const id of ['parallel-current', 'parallel-soc']) {
    await page.locator(`#${id} .scatterlayer .trace`).nth(1).waitFor({ state: 'attached', timeout: 15_000 });
    assert.equal(await page.locator(`#${id} .scatterlayer .trace`).count(), 2, id);
  }
  assert.match(await text(page, 'parallel-history-span'), /^Each pack's current and SOC as its BMS tells them, over 1 min /);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('parallel-csv').click()]);
  assert.equal(download.suggestedFilename(), 'cellsight-parallel.csv');
  const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'time_s,clock,pack1_soc_pct,pack1_current_a,pack2_soc_pct,pack2_current_a');
  assert.ok(csv.length > 60, `${csv.length} lines`);
  assert.match(csv.at(-1), /^\d+,"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",60\.0,-40\.00,80\.0,0\.20$/);
  await page.getByTestId('parallel-csv-status').filter({ hasText: 'points of every pack exported as CSV' }).waitFor();

  await page.getByTestId('parallel-remove-2').click();
  await page.getByTestId('parallel-packs').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('parallel-cut-off').count(), 0);
  assert.deepEqual(await page.evaluate(() => window.__closed), [1]);
  assert.equal(await text(page, 'pack-current'), '-40.0');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a pack added over Bluetooth that drops out is connected again, and a cancelled chooser adds nothing', async () => {
  const { context, page, errors } = await pageWithPacks([PACK_1], { name: 'SP04S034', answers: PACK_2, dropAfter: 4 });
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('parallel').waitFor();
  await page.getByTestId('parallel-add-bluetooth').click();
  await page.getByTestId('parallel-link-2').filter({ hasText: 'SP04S034 over Bluetooth (reconnected) · JBD / Xiaoxiang / Overkill · live' }).waitFor({ timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.__drops), 1);
  await page.getByTestId('parallel-pack-2').filter({ hasText: '80.0 %' }).waitFor();
  await page.getByTestId('parallel-together').filter({ hasText: /^Together: 2 packs/ }).waitFor();

  // The serial chooser has no second port to give: the browser says so, and no row is left.
  await page.evaluate(() => { navigator.serial.requestPort = async () => { throw new DOMException('No port selected by the user.', 'NotFoundError'); }; });
  await page.getByTestId('parallel-add-serial').click();
  await page.getByTestId('parallel-message').filter({ hasText: /^No pack added: .*No port selected by the user/ }).waitFor();
  assert.equal(await page.getByTestId('parallel-pack-3').count(), 0);

  // Back to the emulator: the added pack is disconnected with the page's own.
  await page.getByTestId('use-emulator').click();
  await page.getByTestId('emulated-time').waitFor();
  assert.equal(await page.getByTestId('parallel').isVisible(), false);
  assert.deepEqual(errors, []);
  await context.close();
});

test("on the next visit every port allowed before comes back: the first as the page's device, the others beside it", async () => {
  // At the baud rate that worked last time, pack 1's and so the others' too.
  const { context, page, errors } = await pageWithPacks([PACK_1, PACK_2], undefined, true, '9600');
  await page.getByTestId('device-status').filter({ hasText: 'Connected over Web Serial at 9600 baud (the port you allowed before)' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel-link-2').filter({ hasText: 'USB serial at 9600 baud (allowed before) · JBD / Xiaoxiang / Overkill · live' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel-together').filter({ hasText: 'SOC 65.3 % of 380 Ah' }).waitFor();
  assert.equal(await text(page, 'soc'), '60.0');
  assert.equal(await page.getByTestId('parallel-pack-3').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('two Cellsight devices side by side: what they allow together is told as a bank controller works it out', async () => {
  // Two emulated packs' serial streams (seeds 1 and 2); once through, each port repeats its
  // last frames every second, as a device reporting on would, so both stay live.
  const streams = [];
  for (const seed of ['1', '2']) {
    streams.push(await emulatorWire(`wire-parallel-${seed}.bin`, ['--scenario', 'solar-day', '--days', '0.1', '--seed', seed]));
  }
  const context = await dashboard.browser.newContext();
  await context.addInitScript((streams) => {
    localStorage.setItem('cellsight-protocol', 'cellsight');
    const ports = streams.map((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      // The last few frames (each ends at a 0 byte): the newest report among them.
      let tail = bytes.length - 1;
      for (let zeros = 0; tail > 0 && zeros < 5; tail--) if (bytes[tail - 1] === 0) zeros++;
      return {
        async open() {},
        async close() {},
        readable: new ReadableStream({
          start(controller) {
            controller.enqueue(bytes);
            setInterval(() => controller.enqueue(bytes.slice(tail)), 1000);
          },
        }),
        writable: new WritableStream({ write() {} }),
      };
    });
    let handed = 0;
    const serial = new EventTarget();
    serial.requestPort = async () => ports[handed++];
    serial.getPorts = async () => [];
    Object.defineProperty(navigator, 'serial', { configurable: true, value: serial });
  }, streams.map((b) => Buffer.from(b).toString('base64')));
  const { page, errors } = await openDashboard(context, dashboard.url);
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('device-status').filter({ hasText: 'Connected over Web Serial' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel-add-serial').click();
  await page.getByTestId('parallel-link-2').filter({ hasText: /Cellsight.* · live$/ }).waitFor({ timeout: 15_000 });
  await page.getByTestId('parallel-told').filter({ hasText: / · 2 of 2 packs charging, 2 discharging · / }).waitFor({ timeout: 15_000 });
  assert.match(await text(page, 'parallel-told'), /^What they allow together: CVL \d+\.\d V · CCL \d+ A · DCL \d+ A · 2 of 2 packs charging, 2 discharging · SOC \d+\.\d %$/);
  // A Cellsight device tells its nominal capacity: the SOC is weighted by it.
  assert.match(await text(page, 'parallel-together'), /^Together: 2 packs · .* · SOC \d+\.\d % of 560 Ah \(\d+\.\d Ah left\)$/);
  // Each pack allows at most what its own limits card says for pack 1 (the packs are alike):
  // together, no more than twice that.
  const own = Number((await text(page, 'limits-ccl')).match(/[\d.]+/)[0]);
  const together = Number((await text(page, 'parallel-told')).match(/CCL (\d+) A/)[1]);
  assert.ok(together > own && together <= 2 * own + 1, `${together} A together, ${own} A pack 1`);
  assert.equal(await page.getByTestId('parallel-cut-off').count(), 0);
  await page.getByTestId('parallel').screenshot({ path: 'e2e/artifacts/parallel-cellsight.png' });
  assert.deepEqual(errors, []);
  await context.close();
});
