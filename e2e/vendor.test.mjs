// The BMSs people already own, against mock `navigator.serial` / `navigator.bluetooth` devices
// that answer the dashboard's requests with frames built here from the published layouts
// (../shared/DOMAIN.md §4): JBD over serial, Daly's classic A5 frames over serial, Daly's D2
// Modbus dialect and JK over Bluetooth. Each must show the right numbers through the same views
// as a Cellsight device, with what the protocol lacks shown as unavailable; a garbage burst, a
// frame split at every byte, a device gone silent and a drop-out mid-frame each show as what
// they are; a switch is only written after the user confirms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const sum8 = (bytes) => bytes.reduce((s, b) => (s + b) & 0xff, 0);
const be16 = (v) => [(v >> 8) & 0xff, v & 0xff];
const le16 = (v) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

// --- JBD: `DD <reg> <status> <len> <data> <chk> 77`, chk = 0x10000 − sum(status … data).
const jbdChecksum = (covered) => be16((0x10000 - covered.reduce((s, b) => s + b, 0)) & 0xffff);
const jbdRequest = (reg) => [0xdd, 0xa5, reg, 0, ...jbdChecksum([reg, 0]), 0x77];
const jbdAnswer = (reg, data) => {
  const covered = [0, data.length, ...data];
  return [0xdd, reg, ...covered, ...jbdChecksum(covered), 0x77];
};
const JBD_CELLS_MV = [3300, 3301, 3299, 3302, 3298, 3300, 3301, 3303];
const jbdBasic = jbdAnswer(0x03, [
  ...be16(2640), ...be16(1234), ...be16(15000), ...be16(28000), ...be16(42), ...be16(0x2a61),
  ...be16(0b100), ...be16(0), ...be16(0b1), 0x10, 54, 0b11, 8, 2, ...be16(2981), ...be16(3006),
]);
const jbdCells = jbdAnswer(0x04, JBD_CELLS_MV.flatMap(be16));

// --- Daly classic: 13-byte `A5 <addr> <cmd> 08 <8 bytes> <sum8>`.
const dalyFrame = (addr, cmd, data) => {
  const f = [0xa5, addr, cmd, 0x08, ...data];
  return [...f, sum8(f)];
};
const dalyRequest = (cmd, host = 0x80) => dalyFrame(host, cmd, [0, 0, 0, 0, 0, 0, 0, 0]);
const dalyAnswer = (cmd, data) => dalyFrame(0x01, cmd, data);
const DALY_CELLS_MV = Array.from({ length: 16 }, (_, i) => 3300 + i);
const dalyCellFrames = [];
for (let n = 0; n < 6; n++) {
  const three = [0, 1, 2].map((k) => DALY_CELLS_MV[n * 3 + k] ?? 0);
  dalyCellFrames.push(dalyAnswer(0x95, [n + 1, ...three.flatMap(be16), 0]));
}
/** A Daly that answers requests from host address `host` (0x80 UART/BLE, 0x40 RS485). */
const dalyAnswersFrom = (host) => ({
  [hex(dalyRequest(0x90, host))]: [dalyAnswer(0x90, [...be16(528), 0, 0, ...be16(30125), ...be16(675)])],
  [hex(dalyRequest(0x93, host))]: [dalyAnswer(0x93, [1, 1, 1, 0, ...[0x00, 0x02, 0x49, 0xf0]])],
  [hex(dalyRequest(0x94, host))]: [dalyAnswer(0x94, [16, 2, 0, 0, 0, ...be16(42), 0])],
  [hex(dalyRequest(0x95, host))]: dalyCellFrames,
  [hex(dalyRequest(0x96, host))]: [dalyAnswer(0x96, [1, 65, 66, 0, 0, 0, 0, 0])],
  [hex(dalyRequest(0x97, host))]: [dalyAnswer(0x97, [0b1100, 0, 0, 0, 0, 0, 0, 0])],
  [hex(dalyRequest(0x98, host))]: [dalyAnswer(0x98, [0b10, 0, 0, 0, 0, 0, 0, 0])],
});
const dalyAnswers = dalyAnswersFrom(0x80);

// --- Daly D2 Modbus: `D2 03 7C <62 registers> <CRC-16/Modbus, low byte first>`.
const crc16 = (bytes) => {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return le16(crc);
};
const modbusRead = [0xd2, 0x03, 0x00, 0x00, 0x00, 0x3e, ...crc16([0xd2, 0x03, 0x00, 0x00, 0x00, 0x3e])];
const registers = new Array(62).fill(0);
[3310, 3312, 3309, 3311].forEach((mv, i) => { registers[i] = mv; });
Object.assign(registers, { 32: 61, 33: 62, 40: 132, 41: 29950, 42: 873, 48: 876, 49: 4, 50: 2, 51: 9, 53: 0, 54: 1 });
const d2Body = [0xd2, 0x03, 124, ...registers.flatMap(be16)];
const d2Block = [...d2Body, ...crc16(d2Body)];

// --- JK: 20-byte commands, 300-byte `55 AA EB 90 <type>` frames with an 8-bit sum at 299.
const jkCommand = (cmd, len, value) => {
  const f = [0xaa, 0x55, 0x90, 0xeb, cmd, len, ...le32(value), ...new Array(9).fill(0)];
  return [...f, sum8(f)];
};
const jkFrame = (type, fill) => {
  const f = new Array(300).fill(0);
  f.splice(0, 6, 0x55, 0xaa, 0xeb, 0x90, type, 0x00);
  fill(f);
  f[299] = sum8(f.slice(0, 299));
  return f;
};
const put = (f, at, bytes) => f.splice(at, bytes.length, ...bytes);
const JK_CELLS_MV = Array.from({ length: 16 }, (_, i) => 3320 + (i % 4));
const jkCells = jkFrame(0x02, (f) => {
  JK_CELLS_MV.forEach((mv, i) => put(f, 6 + 2 * i, le16(mv)));
  put(f, 70, le32(0xffff));
  put(f, 150, le32(JK_CELLS_MV.reduce((a, b) => a + b, 0)));
  put(f, 158, le32(-20000));
  put(f, 162, le16(245));
  put(f, 164, le16(251));
  f[173] = 77;
  put(f, 174, le32(215000));
  put(f, 178, le32(280000));
  put(f, 182, le32(31));
  f[190] = 96;
  f[198] = 1;
  f[199] = 1;
});
const jkInfo = jkFrame(0x03, (f) => put(f, 6, [...Buffer.from('JK_B2A16S20P')]));

const JBD = { service: '0000ff00-0000-1000-8000-00805f9b34fb', notify: '0000ff01-0000-1000-8000-00805f9b34fb', write: '0000ff02-0000-1000-8000-00805f9b34fb' };
const JK = { service: '0000ffe0-0000-1000-8000-00805f9b34fb', notify: '0000ffe1-0000-1000-8000-00805f9b34fb', write: '0000ffe1-0000-1000-8000-00805f9b34fb' };
const DALY = { service: '0000fff0-0000-1000-8000-00805f9b34fb', notify: '0000fff1-0000-1000-8000-00805f9b34fb', write: '0000fff2-0000-1000-8000-00805f9b34fb' };

/**
 * A page with a mock device that answers requests from `answers` (request hex → frames).
 * `transport`: 'serial' (answers in `chunk`-byte reads) or a Bluetooth profile (20-byte
 * notifications). `garbageFirst`: bytes before the first answer; `silentAfter`: answers
 * before it stops answering; `dropAfter`: answers after which the next is cut in half and the
 * link drops (once: the device can be connected again). Every request written is kept in
 * `window.__writes` (hex).
 */
async function pageWithVendor({ transport, answers, name = 'BMS', chunk = 1, garbageFirst = [], silentAfter, dropAfter, protocol }) {
  const context = await dashboard.browser.newContext();
  const b64 = (bytes) => Buffer.from(bytes).toString('base64');
  const encoded = Object.fromEntries(Object.entries(answers).map(([k, frames]) => [k, frames.map(b64)]));
  await context.addInitScript((o) => {
    if (o.protocol) localStorage.setItem('cellsight-protocol', o.protocol);
    const bytesOf = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const concat = (parts) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let i = 0;
      for (const p of parts) { out.set(p, i); i += p.length; }
      return out;
    };
    window.__writes = [];
    let answered = 0;
    // What the device sends back to a request, and whether the link then ends.
    const replyTo = (request) => {
      const key = toHex(request);
      window.__writes.push(key);
      const frames = o.answers[key];
      if (!frames || (o.silentAfter !== undefined && answered >= o.silentAfter)) return null;
      answered += 1;
      let out = concat(frames.map(bytesOf));
      if (answered === 1 && o.garbageFirst.length) out = concat([Uint8Array.from(o.garbageFirst), out]);
      if (o.dropAfter !== undefined && answered === o.dropAfter + 1) return { bytes: out.slice(0, out.length >> 1), drop: true };
      return { bytes: out, drop: false };
    };
    // Pieces go out on a timer, as a real link delivers them.
    const deliver = (bytes, size, send, done) => {
      let i = 0;
      const next = () => {
        for (let n = 0; n < 40 && i < bytes.length; n++, i += size) send(bytes.slice(i, i + size));
        if (i < bytes.length) setTimeout(next, 2);
        else if (done) done();
      };
      setTimeout(next, 5);
    };
    if (o.transport === 'serial') {
      let controller;
      const port = {
        async open(options) { window.__serialOpened = options; },
        async close() { window.__serialClosed = true; },
        readable: new ReadableStream({ start(c) { controller = c; } }),
        writable: new WritableStream({
          write(chunk) {
            const reply = replyTo(chunk);
            if (reply) deliver(reply.bytes, o.chunk, (piece) => controller.enqueue(piece), reply.drop ? () => controller.close() : null);
          },
        }),
      };
      const serial = new EventTarget();
      serial.requestPort = async () => port;
      serial.getPorts = async () => [];
      Object.defineProperty(navigator, 'serial', { configurable: true, value: serial });
      return;
    }
    const profile = o.transport;
    const device = new EventTarget();
    device.name = o.name;
    const notify = new EventTarget();
    notify.uuid = profile.notify;
    const drop = () => {
      device.gatt.connected = false;
      device.dispatchEvent(new Event('gattserverdisconnected'));
    };
    notify.startNotifications = async () => notify;
    const write = profile.write === profile.notify ? notify : new EventTarget();
    write.uuid = profile.write;
    write.properties = { write: true, writeWithoutResponse: true };
    const written = async (data) => {
      const reply = replyTo(new Uint8Array(data.buffer ?? data));
      if (reply) {
        deliver(reply.bytes, 20, (piece) => {
          if (!device.gatt.connected) return;
          notify.value = new DataView(piece.slice().buffer);
          notify.dispatchEvent(new Event('characteristicvaluechanged'));
        }, reply.drop ? drop : null);
      }
    };
    write.writeValueWithoutResponse = written;
    write.writeValue = written;
    const service = { getCharacteristic: async (uuid) => (uuid === profile.notify ? notify : write) };
    const server = {
      getPrimaryService: async (uuid) => {
        if (uuid !== profile.service) throw new DOMException('no such service', 'NotFoundError');
        return service;
      },
    };
    device.gatt = { connected: false, connect: async () => { device.gatt.connected = true; return server; }, disconnect: drop };
    Object.defineProperty(navigator, 'bluetooth', {
      configurable: true,
      value: { requestDevice: async (options) => { window.__bleRequest = options; return device; } },
    });
  }, { transport, answers: encoded, name, chunk, garbageFirst, silentAfter, dropAfter, protocol });
  return openDashboard(context, dashboard.url);
}

const text = (page, id) => page.getByTestId(id).textContent();
const cells = async (page, n) => {
  const out = [];
  for (let i = 1; i <= n; i++) out.push(Number(await text(page, `cell-voltage-${i}`)));
  return out;
};

test('JBD over serial, found from the bytes, split at every byte and after a garbage burst', async () => {
  const garbage = Array.from({ length: 120 }, (_, i) => (i * 53 + 7) % 256);
  const { context, page, errors } = await pageWithVendor({
    transport: 'serial',
    answers: { [hex(jbdRequest(0x03))]: [jbdBasic], [hex(jbdRequest(0x04))]: [jbdCells] },
    chunk: 1,
    garbageFirst: garbage,
  });
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('protocol-status').filter({ hasText: 'JBD / Xiaoxiang / Overkill (detected)' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('cell-voltage-8').filter({ hasText: '3.303' }).waitFor({ timeout: 15_000 });
  assert.equal(await text(page, 'pack-voltage'), '26.40');
  assert.equal(await text(page, 'pack-current'), '+12.3');
  assert.equal(await text(page, 'soc'), '54.0');
  assert.deepEqual(await cells(page, 8), JBD_CELLS_MV.map((mv) => mv / 1000));
  assert.equal(await page.getByTestId('cell-voltage-9').count(), 0);
  assert.equal(await text(page, 'temperature-2'), '27.5 °C');
  assert.equal(await text(page, 'charge-switch'), 'ON');
  // JBD reports a protection (cell over-voltage) and its balancing; it tells no limits.
  assert.match(await text(page, 'alarm-list'), /over-voltage/i);
  // Trips are told as notifications from the event log, which a vendor BMS does not keep.
  assert.equal(await page.getByTestId('notify-trips').count(), 0);
  assert.match(await text(page, 'limits-cvl'), /unavailable|—/);
  await page.getByTestId('limits-unavailable').waitFor();
  // The garbage burst is one rejected stretch, never a reading.
  assert.ok(Number(await text(page, 'link-errors')) >= 1);
  const writes = await page.evaluate(() => window.__writes);
  assert.ok(writes.includes('dda50300fffd77') && writes.includes('dda50400fffc77'), writes.join(' '));
  assert.deepEqual(errors, []);
  await context.close();
});

test('Daly A5 over serial, chosen by hand: every round filled in; then silent', async () => {
  const { context, page, errors } = await pageWithVendor({
    transport: 'serial', answers: dalyAnswers, chunk: 5, protocol: 'daly', silentAfter: 14,
  });
  assert.equal(await page.getByTestId('protocol-select').inputValue(), 'daly');
  await page.getByTestId('connect-serial').click();
  await page.getByTestId('cell-voltage-16').filter({ hasText: '3.315' }).waitFor({ timeout: 15_000 });
  assert.equal(await text(page, 'pack-voltage'), '52.80');
  assert.equal(await text(page, 'pack-current'), '+12.5');
  assert.equal(await text(page, 'soc'), '67.5');
  assert.deepEqual(await cells(page, 16), DALY_CELLS_MV.map((mv) => mv / 1000));
  // Temperatures, balancing and faults are the round's later requests (0x96, 0x97, 0x98).
  await page.getByTestId('temperature-1').filter({ hasText: '25.0 °C' }).waitFor();
  await page.getByTestId('cell-balancing-3').filter({ hasText: '⇣' }).waitFor();
  await page.getByTestId('alarm-list').filter({ hasText: /over-voltage/i }).waitFor();
  assert.equal(await text(page, 'cell-balancing-2'), '');
  assert.match(await text(page, 'protocol-status'), /Protocol: Daly \(A5 frames\)\./);
  // Two rounds answered, then nothing: the page says so, and keeps asking.
  await page.getByTestId('protocol-status').filter({ hasText: 'No answer to the last' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('connection-status').filter({ hasText: /No data for \d+ s/ }).waitFor({ timeout: 15_000 });
  assert.equal(await text(page, 'pack-voltage'), '52.80', 'the last numbers stay, marked silent');
  assert.equal(await text(page, 'link-errors'), '0');
  assert.deepEqual(errors, []);
  await context.close();
});

test('Daly D2 over Bluetooth: the dialect found from the answer; a drop-out mid-frame shows nothing half-read, and the link comes back', async () => {
  const { context, page, errors } = await pageWithVendor({
    transport: DALY, name: 'DL-40D63C3223A2', answers: { [hex(modbusRead)]: [d2Block] }, dropAfter: 1,
  });
  await page.getByTestId('connect-bluetooth').click();
  await page.getByTestId('protocol-status').filter({ hasText: 'Daly (D2 Modbus, DL- units) (detected)' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('cell-voltage-4').filter({ hasText: '3.311' }).waitFor();
  assert.equal(await text(page, 'pack-voltage'), '13.20');
  assert.equal(await text(page, 'pack-current'), '-5.0');
  assert.equal(await text(page, 'soc'), '87.3');
  assert.equal(await text(page, 'temperature-2'), '22.0 °C');
  // Registers 53 and 54 are the switches; the block says nothing about protections:
  // unavailable, not "none".
  assert.equal(await text(page, 'charge-switch'), 'OFF');
  assert.equal(await text(page, 'discharge-switch'), 'ON');
  await page.getByTestId('switch-control-unavailable').waitFor();
  assert.equal(await page.getByTestId('switch-charge').count(), 0, 'no button that cannot work');
  await page.getByTestId('alarms-unavailable').waitFor();
  const request = await page.evaluate(() => window.__bleRequest);
  assert.ok(request.optionalServices.includes(DALY.service), 'the service is declared');
  assert.ok(request.filters.some((f) => f.namePrefix === 'DL-'));
  // The second answer is cut in half by the drop-out; the device is connected again and
  // polled on, and the half frame is neither shown nor counted as a bad one.
  await page.getByTestId('device-status').filter({ hasText: 'Connected to DL-40D63C3223A2 (reconnected)' }).waitFor({ timeout: 15_000 });
  await page.getByTestId('link-counters').filter({ hasText: /^[3-9]\d* frames received|^\d{2,} frames received/ }).waitFor({ timeout: 15_000 });
  assert.equal(await text(page, 'pack-voltage'), '13.20');
  assert.equal(await text(page, 'link-errors'), '0', 'the cut frame is dropped, not rejected data');
  assert.deepEqual(errors, []);
  await context.close();
});

test('JK over Bluetooth: the stream asked for, read, and a switch written only after confirming', async () => {
  const { context, page, errors } = await pageWithVendor({
    transport: JK,
    name: 'JK_B2A16S20P',
    answers: { [hex(jkCommand(0x97, 0, 0))]: [jkInfo], [hex(jkCommand(0x96, 0, 0))]: [jkCells] },
  });
  await page.getByTestId('connect-bluetooth').click();
  await page.getByTestId('cell-voltage-16').waitFor({ timeout: 15_000 });
  assert.match(await text(page, 'protocol-status'), /Protocol: JK \(detected\)/);
  assert.equal(await text(page, 'pack-voltage'), (JK_CELLS_MV.reduce((a, b) => a + b, 0) / 1000).toFixed(2));
  assert.equal(await text(page, 'pack-current'), '-20.0');
  assert.equal(await text(page, 'soc'), '77.0');
  assert.deepEqual(await cells(page, 16), JK_CELLS_MV.map((mv) => mv / 1000));
  assert.equal(await text(page, 'temperature-1'), '24.5 °C');
  assert.equal(await text(page, 'discharge-switch'), 'ON');
  assert.match(await text(page, 'soc-bound'), /as the BMS counts it/);
  // What JK does not report is said to be unavailable, and the session is not recorded.
  await page.getByTestId('alarms-unavailable').waitFor();
  await page.getByTestId('can-unavailable').waitFor();
  assert.match(await text(page, 'recording-status'), /Not recording: .* JK BMS/);

  // Declining the confirmation writes nothing; accepting writes JK's charge-switch command.
  const charge = page.getByTestId('switch-charge');
  assert.equal(await charge.textContent(), 'Turn charging off…');
  page.once('dialog', (d) => d.dismiss());
  await charge.click();
  await page.waitForTimeout(300);
  const off = hex(jkCommand(0x1d, 4, 0));
  assert.ok(!(await page.evaluate(() => window.__writes)).includes(off));
  let question = '';
  page.once('dialog', (d) => { question = d.message(); d.accept(); });
  await charge.click();
  await page.waitForFunction((w) => window.__writes.includes(w), off);
  assert.match(question, /charge switch OFF.*Nothing can charge the battery/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the other transports: JBD and Daly A5 over Bluetooth, Daly D2 over serial, a Daly on RS485', async () => {
  const cases = [
    {
      what: 'JBD over Bluetooth (0xFF00)',
      options: { transport: JBD, name: 'JBD-SP04S034', answers: { [hex(jbdRequest(0x03))]: [jbdBasic], [hex(jbdRequest(0x04))]: [jbdCells] } },
      protocol: /JBD \/ Xiaoxiang \/ Overkill \(detected\)/,
      pack: '26.40',
      service: JBD.service,
    },
    {
      what: 'Daly A5 over Bluetooth (0xFFF0)',
      options: { transport: DALY, name: 'DL-A5', answers: dalyAnswers },
      protocol: /Daly \(A5 frames\) \(detected\)/,
      pack: '52.80',
      service: DALY.service,
    },
    {
      what: 'Daly D2 over serial',
      options: { transport: 'serial', answers: { [hex(modbusRead)]: [d2Block] }, chunk: 7 },
      protocol: /Daly \(D2 Modbus, DL- units\) \(detected\)/,
      pack: '13.20',
    },
    {
      what: 'Daly on RS485 (host address 0x40), chosen by hand',
      options: { transport: 'serial', answers: dalyAnswersFrom(0x40), chunk: 13, protocol: 'daly' },
      protocol: /Daly \(A5 frames\)\./,
      pack: '52.80',
    },
  ];
  for (const c of cases) {
    const { context, page, errors } = await pageWithVendor(c.options);
    await page.getByTestId(c.service ? 'connect-bluetooth' : 'connect-serial').click();
    await page.getByTestId('pack-voltage').filter({ hasText: c.pack }).waitFor({ timeout: 25_000 });
    assert.match(await text(page, 'protocol-status'), c.protocol, c.what);
    if (c.service) {
      const request = await page.evaluate(() => window.__bleRequest);
      assert.ok(request.optionalServices.includes(c.service), `${c.what}: service declared`);
    }
    assert.equal(await text(page, 'link-errors'), '0', c.what);
    assert.deepEqual(errors, [], c.what);
    await context.close();
  }
});
