// Device mode over Web Serial, against a mock `navigator.serial` that replays the byte stream
// the emulator writes with `emulator wire`: the numbers must be the same whether the bytes come
// whole, one at a time, or with a burst of garbage in the middle; a silent device, a clean
// disconnect and a port that closes mid-frame must each show as what they are.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { emulatorWire, openDashboard, untilQuiet, useDashboard } from './browser.mjs';

const dashboard = useDashboard();
let wire;

before(async () => {
  // An 8-cell pack being overcharged, a report every 10 s for half an hour.
  wire = await emulatorWire('wire-overcharge.bin', [
    '--scenario', 'overcharge', '--seed', '3', '--cells', '8', '--days', '0.02', '--interval', '10',
  ]);
});

/** A page whose `navigator.serial` hands out one port streaming `bytes` in `chunk`-byte
 *  pieces; `end`: 'open' keeps the port open after the bytes, 'close' ends the stream. */
async function pageWithPort(bytes, { chunk = bytes.length, end = 'open', granted = false, baud } = {}) {
  const context = await dashboard.browser.newContext();
  await context.addInitScript(({ b64, chunk, end, granted, baud }) => {
    if (baud) localStorage.setItem('cellsight-baud', baud);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const makePort = (closes = end === 'close') => ({
      async open(options) { window.__serialOpened = options; },
      async close() { window.__serialClosed = true; },
      readable: new ReadableStream({
        start(controller) {
          let i = 0;
          const push = () => {
            // Many small pieces per timer turn, so a byte-by-byte stream still ends in time.
            for (let n = 0; n < 400 && i < bytes.length; n++, i += chunk) {
              controller.enqueue(bytes.slice(i, i + chunk));
            }
            if (i < bytes.length) setTimeout(push, 0);
            else if (closes) controller.close();
          };
          push();
        },
      }),
    });
    const serial = new EventTarget();
    serial.requestPort = async (options) => { window.__requestPortOptions = options; return makePort(); };
    serial.getPorts = async () => (granted ? [makePort()] : []);
    // A port the user allowed before, plugged in again: the browser fires `connect` at it.
    window.__plugInAgain = () => {
      const event = new Event('connect');
      Object.defineProperty(event, 'target', { value: makePort(false) });
      serial.dispatchEvent(event);
    };
    Object.defineProperty(navigator, 'serial', { configurable: true, value: serial });
  }, { b64: Buffer.from(bytes).toString('base64'), chunk, end, granted, baud });
  // A port allowed before connects by itself, so the emulator's banner never shows.
  return openDashboard(context, dashboard.url, granted ? 'device-status' : 'emulated-time');
}

/** Connects and waits until the whole stream has been read (the charge switch opens at the
 *  overcharge trip, and the frame count stops growing). */
async function connectAndRead(page) {
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('device-status').filter({ hasText: 'Connected over Web Serial at 115200 baud' }).waitFor();
  await page.getByTestId('charge-switch').filter({ hasText: 'OFF' }).waitFor({ timeout: 30_000 });
  await untilQuiet(page);
}

async function shown(page) {
  const values = { cells: [] };
  for (let n = 1; n <= 8; n++) values.cells.push(await page.getByTestId(`cell-voltage-${n}`).textContent());
  values.pack = await page.getByTestId('pack-voltage').textContent();
  values.soc = await page.getByTestId('soc').textContent();
  values.alarms = await page.getByTestId('alarm-list').textContent();
  values.events = await page.getByTestId('event-log').locator('li').count();
  return values;
}

let reference;

test('a Cellsight device streaming over serial is shown like the emulator', async () => {
  const { context, page, errors } = await pageWithPort(wire);
  await connectAndRead(page);
  assert.deepEqual(await page.evaluate(() => window.__serialOpened), { baudRate: 115200 });
  // The chooser offers USB-serial adapters (CH340, CP210x, FTDI, PL2303, Espressif) by default.
  const offered = (await page.evaluate(() => window.__requestPortOptions)).filters.map((f) => f.usbVendorId);
  assert.deepEqual(offered, [0x1a86, 0x10c4, 0x0403, 0x067b, 0x303a]);
  reference = await shown(page);
  assert.equal(await page.getByTestId('cell-voltage-9').count(), 0, 'an 8-cell pack');
  const sum = reference.cells.map(Number).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(Number(reference.pack) - sum) < 0.02, `pack ${reference.pack} V = cells ${sum} V`);
  assert.match(reference.alarms, /over-voltage/i);
  assert.ok(reference.events >= 1, 'the trip is in the event log');
  assert.equal(await page.getByTestId('link-errors').textContent(), '0');
  // The emulator stepped aside: its console and truth panel are gone while the device shows.
  assert.equal(await page.getByTestId('truth-panel').count(), 0);
  assert.match(await page.getByTestId('recording-status').textContent(), /Recording this session/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the same stream one byte at a time shows the same numbers', async () => {
  const { context, page } = await pageWithPort(wire, { chunk: 1 });
  // Every port this time (a board whose USB chip is not in the adapters' list).
  await page.getByTestId('port-filter').uncheck();
  await connectAndRead(page);
  assert.deepEqual((await page.evaluate(() => window.__requestPortOptions)).filters, []);
  assert.deepEqual(await shown(page), reference);
  assert.equal(await page.getByTestId('link-errors').textContent(), '0');
  await context.close();
});

test('a burst of garbage is counted and rejected, never shown', async () => {
  // 300 random bytes (zeros included, so they end frames) between two frames mid-stream.
  const cut = wire.indexOf(0, Math.floor(wire.length / 2)) + 1;
  const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) % 256));
  const { context, page } = await pageWithPort(Buffer.concat([wire.subarray(0, cut), garbage, wire.subarray(cut)]), { chunk: 37 });
  await connectAndRead(page);
  assert.ok(Number(await page.getByTestId('link-errors').textContent()) >= 1);
  assert.deepEqual(await shown(page), reference);
  await context.close();
});

test('a silent device shows how long it has been quiet; Disconnect closes the port', async () => {
  const { context, page } = await pageWithPort(wire);
  await connectAndRead(page);
  await page.getByTestId('connection-status').filter({ hasText: /No data for \d+ s/ }).waitFor({ timeout: 10_000 });
  await page.getByTestId('disconnect').click();
  await page.getByTestId('device-status').filter({ hasText: /^Disconnected\.$/ }).waitFor();
  assert.equal(await page.evaluate(() => window.__serialClosed), true);
  // Back to the emulator: its numbers and console return.
  await page.getByTestId('use-emulator').click();
  await page.getByTestId('truth-panel').waitFor({ timeout: 10_000 });
  await context.close();
});

test('a port that closes mid-frame keeps the last whole report and says it closed', async () => {
  const cut = wire.indexOf(0, Math.floor(wire.length / 2)) + 40; // 40 bytes into a frame
  const { context, page } = await pageWithPort(wire.subarray(0, cut), { end: 'close' });
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('device-status').filter({ hasText: 'Disconnected: the port closed.' }).waitFor({ timeout: 20_000 });
  const v = Number(await page.getByTestId('pack-voltage').textContent());
  assert.ok(v > 20 && v < 30, `an 8-cell pack's voltage: ${v}`);
  assert.equal(await page.getByTestId('link-errors').textContent(), '0', 'the cut frame is not a reading');
  await context.close();
});

test('the port allowed before connects by itself, at the baud rate that worked, and again when plugged in', async () => {
  const first = await pageWithPort(wire, { end: 'close' });
  await first.page.getByTestId('baud-select').selectOption('57600');
  await first.page.getByTestId('connect-serial').click();
  await first.page.getByTestId('device-status').filter({ hasText: 'Disconnected: the port closed.' }).waitFor({ timeout: 20_000 });
  assert.equal(await first.page.evaluate(() => localStorage.getItem('cellsight-baud')), '57600');
  // Plugged in again: it reconnects without a click.
  await first.page.evaluate(() => window.__plugInAgain());
  await first.page.getByTestId('device-status').filter({ hasText: '(the port, plugged in again)' }).waitFor({ timeout: 10_000 });
  await first.context.close();

  // Next visit: the browser still allows the port; the dashboard opens it at 57 600 baud.
  const { context, page } = await pageWithPort(wire, { granted: true, baud: '57600' });
  await page.getByTestId('device-status')
    .filter({ hasText: 'Connected over Web Serial at 57600 baud (the port you allowed before).' })
    .waitFor({ timeout: 20_000 });
  assert.deepEqual(await page.evaluate(() => window.__serialOpened), { baudRate: 57600 });
  await page.getByTestId('charge-switch').filter({ hasText: 'OFF' }).waitFor({ timeout: 30_000 });
  await context.close();
});

test('without Web Serial the page says which browsers have it', async () => {
  const context = await dashboard.browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(navigator, 'serial', { configurable: true, value: undefined });
  });
  const page = await context.newPage();
  await page.goto(dashboard.url);
  const alert = page.getByTestId('serial-unavailable');
  await alert.waitFor({ timeout: 20_000 });
  assert.match(await alert.textContent(), /Chrome, Edge or Opera/);
  assert.equal(await page.getByTestId('connect-serial').isDisabled(), true);
  await context.close();
});
