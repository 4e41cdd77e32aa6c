// Device mode over Web Bluetooth, against a mock `navigator.bluetooth`: a Cellsight device
// notifying the `emulator wire` byte stream in 20-byte pieces (a BLE notification's size) on
// the Nordic-UART TX characteristic. The page must ask for that service, put the frames back
// together, and show the same numbers as over serial; a drop-out ends the link visibly.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { emulatorWire, openDashboard, untilQuiet, useDashboard } from './browser.mjs';

const dashboard = useDashboard();
const NUS = '6e400001-b5a3-f393-e0a9-e50e24dcca9e';
let wire;

before(async () => {
  wire = await emulatorWire('wire-solar.bin', [
    '--scenario', 'solar-day', '--seed', '6', '--cells', '16', '--days', '0.05', '--interval', '30',
  ]);
});

/** A page whose `navigator.bluetooth` offers one Cellsight device notifying `bytes` in 20-byte
 *  pieces. `dropAfter`: the link drops once after that many bytes; `comesBack`: whether the
 *  device can be connected again then (it resumes with its next whole frame). */
async function pageWithDevice(bytes, { dropAfter, comesBack = false, granted = false } = {}) {
  const context = await dashboard.browser.newContext();
  await context.addInitScript(({ b64, nus, dropAfter, comesBack, granted }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const device = new EventTarget();
    device.name = 'Cellsight-7F';
    const tx = new EventTarget();
    tx.uuid = '6e400003-b5a3-f393-e0a9-e50e24dcca9e';
    let i = 0;
    let dropped = false;
    window.__connects = 0;
    const drop = () => {
      if (!device.gatt.connected) return;
      device.gatt.connected = false;
      device.dispatchEvent(new Event('gattserverdisconnected'));
    };
    tx.startNotifications = async () => {
      const push = () => {
        const limit = !dropped && dropAfter !== undefined ? dropAfter : bytes.length;
        for (let n = 0; n < 50 && i < limit && device.gatt.connected; n++, i += 20) {
          // A fresh buffer per notification, as the browser gives.
          tx.value = new DataView(bytes.slice(i, Math.min(i + 20, limit)).buffer);
          tx.dispatchEvent(new Event('characteristicvaluechanged'));
        }
        if (i >= limit && limit < bytes.length && device.gatt.connected) {
          dropped = true;
          // A device that comes back starts with its next whole frame.
          i = bytes.indexOf(0, limit) + 1;
          drop();
        } else if (i < limit && device.gatt.connected) setTimeout(push, 0);
      };
      setTimeout(push, 0);
      return tx;
    };
    const service = { getCharacteristic: async (uuid) => { window.__bleCharacteristic = uuid; return tx; } };
    const server = { getPrimaryService: async (uuid) => { if (uuid !== nus) throw new DOMException('no such service', 'NotFoundError'); return service; } };
    device.gatt = {
      connected: false,
      connect: async () => {
        window.__connects += 1;
        if (dropped && !comesBack) throw new DOMException('out of range', 'NetworkError');
        device.gatt.connected = true;
        return server;
      },
      disconnect: drop,
    };
    Object.defineProperty(navigator, 'bluetooth', {
      configurable: true,
      value: {
        requestDevice: async (options) => { window.__bleRequest = options; return device; },
        // A browser that remembers devices allowed before (Chromium behind a flag).
        ...(granted ? { getDevices: async () => [device] } : {}),
      },
    });
  }, { b64: Buffer.from(bytes).toString('base64'), nus: NUS, dropAfter, comesBack, granted });
  return openDashboard(context, dashboard.url, granted ? 'device-status' : 'emulated-time');
}

test('a Cellsight device over Bluetooth: the UART service is asked for, frames are reassembled', async () => {
  const { context, page, errors } = await pageWithDevice(wire);
  await page.getByTestId('connect-bluetooth').click();
  await page.getByTestId('device-status').filter({ hasText: 'Connected to Cellsight-7F over Web Bluetooth' }).waitFor();
  const counters = await untilQuiet(page);
  const request = await page.evaluate(() => window.__bleRequest);
  assert.ok(request.optionalServices.includes(NUS), 'the service is declared, or the browser refuses it');
  assert.ok(request.filters.some((f) => f.namePrefix === 'Cellsight'));
  assert.equal(await page.evaluate(() => window.__bleCharacteristic), '6e400003-b5a3-f393-e0a9-e50e24dcca9e');
  // 0.05 days at one report per 30 s: a greeting and 144 reports, none rejected.
  assert.match(counters, /^145 frames received · 0 rejected/);
  assert.equal(await page.getByTestId('link-errors').textContent(), '0');
  const cells = [];
  for (let n = 1; n <= 16; n++) cells.push(Number(await page.getByTestId(`cell-voltage-${n}`).textContent()));
  const sum = cells.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(Number(await page.getByTestId('pack-voltage').textContent()) - sum) < 0.02);
  assert.ok(cells.every((v) => v > 2.5 && v < 3.65), cells.join(' '));
  // Disconnect: the device hears it and the link ends.
  await page.getByTestId('disconnect').click();
  await page.getByTestId('device-status').filter({ hasText: /^Disconnected\.$/ }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a device that drops out mid-frame and stays away: tries again, then ends, showing only whole reports', async () => {
  const cut = wire.indexOf(0, Math.floor(wire.length / 3)) + 30;
  const { context, page } = await pageWithDevice(wire, { dropAfter: cut });
  await page.getByTestId('connect-bluetooth').click();
  await page.getByTestId('device-status').filter({ hasText: /dropped out; connecting again \(try 1 of 3\)/ }).waitFor({ timeout: 20_000 });
  await page.getByTestId('device-status').filter({ hasText: 'did not come back after 3 tries' }).waitFor({ timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.__connects), 4, 'the first connection and three tries');
  assert.equal(await page.getByTestId('link-errors').textContent(), '0');
  const v = Number(await page.getByTestId('pack-voltage').textContent());
  assert.ok(v > 40 && v < 60, `a 16-cell pack: ${v} V`);
  await context.close();
});

test('a device that drops out and comes back is reconnected by itself and read on', async () => {
  const cut = wire.indexOf(0, Math.floor(wire.length / 3)) + 30;
  const { context, page, errors } = await pageWithDevice(wire, { dropAfter: cut, comesBack: true });
  await page.getByTestId('connect-bluetooth').click();
  await page.getByTestId('device-status').filter({ hasText: 'Connected to Cellsight-7F (reconnected) over Web Bluetooth' }).waitFor({ timeout: 20_000 });
  const counters = await untilQuiet(page);
  // Every frame but the one cut by the drop-out; the cut one is neither shown nor rejected.
  assert.match(counters, /^144 frames received · 0 rejected/);
  assert.equal(await page.getByTestId('link-errors').textContent(), '0');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a device allowed before connects by itself where the browser remembers it', async () => {
  const { context, page, errors } = await pageWithDevice(wire, { granted: true });
  await page.getByTestId('device-status').filter({ hasText: 'Connected to Cellsight-7F (allowed before) over Web Bluetooth' }).waitFor({ timeout: 20_000 });
  const counters = await untilQuiet(page);
  assert.match(counters, /^145 frames received · 0 rejected/);
  assert.equal(await page.evaluate(() => window.__bleRequest), undefined, 'no chooser was needed');
  assert.deepEqual(errors, []);
  await context.close();
});

test('without Web Bluetooth the page says which browsers have it', async () => {
  const context = await dashboard.browser.newContext();
  await context.addInitScript(() => Object.defineProperty(navigator, 'bluetooth', { configurable: true, value: undefined }));
  const page = await context.newPage();
  await page.goto(dashboard.url);
  await page.getByTestId('bluetooth-unavailable').waitFor({ timeout: 20_000 });
  assert.match(await page.getByTestId('bluetooth-unavailable').textContent(), /Android/);
  assert.equal(await page.getByTestId('connect-bluetooth').isDisabled(), true);
  await context.close();
});
