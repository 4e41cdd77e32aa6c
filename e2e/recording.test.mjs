// Recordings: every session is written to IndexedDB as it happens, survives a reload, exports
// as CSV (one row per telemetry frame) and as the raw capture, replays, and is deleted only
// when the user says so; a full quota pauses recording visibly and loses nothing stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

/** The reports count a recording item shows. */
async function reportsOf(item) {
  const m = (await item.textContent()).match(/(\d+) reports/);
  assert.ok(m, await item.textContent());
  return Number(m[1]);
}

test('a recording survives a reload, exports as CSV and raw bytes, replays, and is deleted on request', async () => {
  const context = await dashboard.browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=solar-day&seed=5&cells=8`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('600');
  const status = page.getByTestId('recording-status');
  await waitFor('the first stored reports', async () => /Recording this session as #1: ([1-9]\d*) reports/.test(await status.textContent()));
  await page.waitForTimeout(3_000);

  // A reload starts recording #2; #1 is still there with what it had stored.
  await page.reload();
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('two recordings listed', async () => (await page.getByTestId('recording-item').count()) === 2);
  const first = page.locator('[data-testid="recording-item"][data-recording="1"]');
  const stored = await reportsOf(first);
  assert.ok(stored >= 6, `at least 6 reports kept across the reload: ${stored}`);
  assert.match(await first.textContent(), /emulator: solar-day, seed 5, 8 cells/);
  assert.match(await status.textContent(), /#2/);

  // CSV: a header, then one row per report, with an 8-cell pack's voltages.
  const [csvDownload] = await Promise.all([
    page.waitForEvent('download'),
    first.getByTestId('recording-csv').click(),
  ]);
  assert.equal(csvDownload.suggestedFilename(), 'cellsight-recording-1.csv');
  const csv = (await readFile(await csvDownload.path(), 'utf8')).trim().split('\n');
  const header = csv[0].split(',');
  assert.equal(header[0], 'device_time_s');
  assert.ok(header.includes('cell8_v') && !header.includes('cell9_v'), header.join(','));
  assert.ok(header.includes('soc_bound_pct') && header.includes('temp1_c'));
  const rows = csv.slice(1).map((l) => l.split(','));
  assert.equal(rows.length, stored, 'one row per stored report');
  const t = rows.map((r) => Number(r[0]));
  assert.ok(t.every((x, i) => i === 0 || x > t[i - 1]), 'device time increases row by row');
  const cell1 = header.indexOf('cell1_v');
  // The current sensor's learnt offset and its σ (1 A before anything is learnt).
  const offset = header.indexOf('current_offset_a');
  assert.equal(header[offset + 1], 'current_offset_sigma_a');
  for (const r of rows) {
    assert.equal(r.length, header.length);
    for (const v of r.slice(cell1, cell1 + 8).map(Number)) assert.ok(v > 2.5 && v < 3.65, `cell voltage ${v}`);
    assert.match(r[offset], /^-?\d+\.\d{3}$/);
    const sigma = Number(r[offset + 1]);
    assert.ok(sigma > 0 && sigma <= 1.01, `offset σ ${sigma} A`);
  }
  await page.getByTestId('recording-message').filter({ hasText: `${stored} rows` }).waitFor();

  // The raw capture: the wire bytes, frames ending in 0x00.
  const [rawDownload] = await Promise.all([
    page.waitForEvent('download'),
    first.getByTestId('recording-raw').click(),
  ]);
  const raw = await readFile(await rawDownload.path());
  assert.ok(raw.length > stored * 40, `${raw.length} bytes`);
  assert.equal(raw[raw.length - 1], 0);
  assert.ok(raw.filter((b) => b === 0).length >= stored + 1, 'greeting plus one frame per report');

  // The session's own export button gives the recording being made.
  const [current] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  assert.equal(current.suggestedFilename(), 'cellsight-recording-2.csv');

  // Replay #1 at a day a second (reports thinned, the last kept): the same numbers come back
  // through the same views; nothing new is recorded. (#2 is listed there once it has stored
  // something: an empty recording has nothing to show.)
  await waitFor('#2 to store reports', async () => /#2: [1-9]\d* reports/.test(await status.textContent()));
  await first.getByTestId('recording-replay').click();
  await page.getByTestId('replay-bar').waitFor({ state: 'visible', timeout: 20_000 });
  await page.getByTestId('replay-speed').selectOption('86400');
  await waitFor('the replay to finish', async () => /100 % played · finished/.test(await page.getByTestId('replay-bar').textContent()));
  const lastRow = rows[rows.length - 1];
  const soc = header.indexOf('soc_pct');
  assert.equal((await page.getByTestId('soc').textContent()).trim(), lastRow[soc]);
  assert.equal(
    (await page.getByTestId('cell-voltage-1').textContent()).trim().replace(/\s*V$/, ''),
    lastRow[cell1],
  );
  assert.match(await status.textContent(), /Replaying/);
  // A background tab never passes a recording off as the battery now.
  assert.match(await page.title(), / — Cellsight replay$/);
  // Nor notifies its trips: they are history.
  assert.equal(await page.getByTestId('notify-trips').count(), 0);
  assert.equal(await page.getByTestId('recording-item').count(), 2);

  // Back to live (recording #3), then delete #1 after saying yes.
  await page.getByTestId('replay-exit').click();
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await waitFor('three recordings listed', async () => (await page.getByTestId('recording-item').count()) === 3);
  const questions = [];
  page.once('dialog', (d) => { questions.push(d.message()); d.dismiss(); });
  await first.getByTestId('recording-delete').click();
  await page.waitForTimeout(500);
  assert.equal(await page.getByTestId('recording-item').count(), 3, 'kept when the user says no');
  page.once('dialog', (d) => { questions.push(d.message()); d.accept(); });
  await first.getByTestId('recording-delete').click();
  await waitFor('#1 gone', async () => (await page.getByTestId('recording-item').count()) === 2);
  assert.match(questions[0], /Delete recording #1\?/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a full quota pauses recording visibly, holds what arrives, and stores it after Resume', async () => {
  const context = await dashboard.browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Chromium's DevTools protocol lets the test give this origin a tiny quota.
  const cdp = await context.newCDPSession(page);
  const origin = dashboard.url.replace(/\/$/, '');
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 30_000 });
  await page.goto(`${dashboard.url}?seed=9&cells=16`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  const alert = page.getByTestId('recording-full');
  await alert.waitFor({ timeout: 30_000 });
  const text = await alert.textContent();
  assert.match(text, /Recording paused/);
  assert.match(text, /held in this tab/);
  assert.match(text, /Nothing is deleted unless you delete it/);
  assert.equal(await alert.getAttribute('role'), 'alert');
  // The user makes room (here: a larger quota) and resumes; what waited is stored.
  await page.waitForTimeout(2_000);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 500_000_000 });
  await page.getByTestId('recording-resume').click();
  await alert.waitFor({ state: 'detached', timeout: 10_000 });
  await page.getByTestId('speed-select').selectOption('60');
  await page.waitForTimeout(2_500);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const rows = (await readFile(await download.path(), 'utf8')).trim().split('\n').slice(1);
  const t = rows.map((r) => Number(r.split(',')[0]));
  const gaps = t.slice(1).map((x, i) => x - t[i]);
  assert.ok(rows.length >= 10, `${rows.length} rows`);
  assert.ok(Math.max(...gaps) <= 1_800.5, `no report lost while paused: largest gap ${Math.max(...gaps)} s`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a session that ends before anything is stored leaves no empty recording behind', async () => {
  const context = await dashboard.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?seed=3&cells=4`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  // Two empty recordings as sessions leave them (a reload before the first write): one a
  // minute old, one begun a moment ago (as another tab's would be).
  await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('cellsight');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('recordings', 'readwrite');
      const store = tx.objectStore('recordings');
      const empty = (id, started_ms) => ({ id, started_ms, source: 'emulator: solar-day, seed 3, 4 cells', bytes: 0, reports: 0, duration_s: 0, last_device_time_s: null });
      store.put(empty(50, Date.now() - 60_000));
      store.put(empty(51, Date.now()));
      tx.oncomplete = () => { open.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  }));
  // A reload at once: this session's own recording may not have been written yet either.
  await page.reload();
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const status = page.getByTestId('recording-status');
  await waitFor('the new recording to store reports', async () => /#52: [1-9]\d* reports/.test(await status.textContent()));
  const items = page.getByTestId('recording-item');
  const listed = await items.evaluateAll((els) => els.map((e) => [e.dataset.recording, e.textContent]));
  for (const [id, text] of listed) {
    assert.ok(id === '52' || !/\b0 reports/.test(text), `empty recording #${id} listed: ${text}`);
  }
  assert.ok(!listed.some(([id]) => id === '50' || id === '51'), JSON.stringify(listed));
  const kept = await page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('cellsight');
    open.onsuccess = () => {
      const get = open.result.transaction('recordings').objectStore('recordings').getAllKeys();
      get.onsuccess = () => { open.result.close(); resolve(get.result); };
    };
  }));
  assert.ok(!kept.includes(50), `the minute-old leftover is deleted: ${kept}`);
  assert.ok(kept.includes(51), `the one just begun may be another tab's and is kept: ${kept}`);
  assert.deepEqual(errors, []);
  await context.close();
});
