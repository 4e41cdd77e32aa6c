// The dashboard's performance figures (`cargo xtask perf`, after a release build into dist/):
//   1. first telemetry on screen after navigation, on loopback (median of 5 cold loads);
//   2. bytes transferred, gzip-compressed, with and without plotly.js;
//   3. frames per second while the emulator runs a 16-cell pack at 3600× and at 86 400× (and the
//      longest frame), and the simulated time the clock really covered per real second;
//   4. the JS heap (and WebAssembly memory) through a simulated 24 h at 3600×, sampled after
//      garbage collection: it must level off, not grow with time.
// Prints a Markdown table for README.md. Figures, not assertions: the machine decides them.
import { readFile, readdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { emulatedSecs, launch } from './browser.mjs';
import { serveDist } from './serve.mjs';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;

async function transferSizes() {
  let app = 0;
  let plotly = 0;
  for (const name of await readdir(DIST)) {
    if (!/\.(wasm|js|css|html)$/.test(name) || name === 'sw.js') continue;
    const gz = gzipSync(await readFile(DIST + name), { level: 9 }).length;
    if (name.startsWith('plotly')) plotly += gz;
    else app += gz;
  }
  return { app, plotly };
}

/** ms from navigation start until the SOC card shows a number. */
async function firstTelemetry(browser, url) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(
    () => /\d/.test(document.querySelector('[data-testid="soc"]')?.textContent ?? ''),
    null,
    { polling: 'raf', timeout: 20_000 },
  );
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

async function framesAt(browser, url, speed) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${url}?cells=16&seed=1`);
  await page.getByTestId('emulated-time').waitFor();
  await page.getByTestId('speed-select').selectOption(String(speed));
  await page.waitForTimeout(2_000);
  const startedSecs = await emulatedSecs(page);
  const startedMs = Date.now();
  const result = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const frames = [];
        let last = performance.now();
        const start = last;
        const tick = (now) => {
          frames.push(now - last);
          last = now;
          if (now - start < 10_000) requestAnimationFrame(tick);
          else resolve({ fps: frames.length / ((now - start) / 1000), longest: Math.max(...frames.slice(1)) });
        };
        requestAnimationFrame(tick);
      }),
  );
  result.reached = (await emulatedSecs(page) - startedSecs) / ((Date.now() - startedMs) / 1000);
  await page.close();
  return result;
}

async function heapThrough24h(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const cdp = await page.context().newCDPSession(page);
  await page.addInitScript(() => {
    addEventListener('TrunkApplicationStarted', (e) => { window.__wasm = e.detail.wasm; });
  });
  await page.goto(`${url}?cells=16&seed=1`);
  await page.getByTestId('emulated-time').waitFor();
  await page.getByTestId('speed-select').selectOption('3600');
  const samples = [];
  // 24 simulated hours at 3600× take 24 s; sample every 3 s for 60 s (about 2.5 days).
  for (let i = 0; i <= 20; i++) {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    // The wasm module's linear memory, from the exports trunk's loader announces.
    const wasm = await page.evaluate(() => window.__wasm?.memory?.buffer?.byteLength ?? null);
    const time = await page.getByTestId('emulated-time').textContent();
    samples.push({ s: i * 3, heap: usedSize, wasm, time: time.trim() });
    await page.waitForTimeout(3_000);
  }
  await page.close();
  return samples;
}

const server = await serveDist();
const browser = await launch();
try {
  const sizes = await transferSizes();
  const loads = [];
  for (let i = 0; i < 5; i++) loads.push(await firstTelemetry(browser, server.url));
  const frames = await framesAt(browser, server.url, 3600);
  const fast = await framesAt(browser, server.url, 86_400);
  const heap = await heapThrough24h(browser, server.url);
  const mb = (n) => (n == null ? 'n/a' : `${(n / 1048576).toFixed(1)} MiB`);
  console.log('| Figure | Goal | Measured |');
  console.log('|---|---|---|');
  console.log(`| First telemetry on screen after navigation (loopback, median of 5) | ≤ 1 s | ${median(loads).toFixed(0)} ms (runs: ${loads.map((x) => x.toFixed(0)).join(', ')}) |`);
  console.log(`| wasm + JS + CSS + HTML, gzip, without plotly.js | ≤ 1.5 MB | ${kb(sizes.app)} |`);
  console.log(`| … with plotly.js (basic bundle) | — | ${kb(sizes.app + sizes.plotly)} |`);
  console.log(`| Frames per second, 16 cells at 3600× (10 s) | ≥ 50 | ${frames.fps.toFixed(1)} (longest frame ${frames.longest.toFixed(0)} ms) |`);
  console.log(`| Frames per second, 16 cells at 86400× (10 s) | ≥ 50 | ${fast.fps.toFixed(1)} (longest frame ${fast.longest.toFixed(0)} ms) |`);
  console.log(`| Simulated time per real second at 86400× (16 cells, in the worker) | 1 day | ${(fast.reached / 3600).toFixed(1)} h (${fast.reached.toFixed(0)}×) |`);
  const first = heap[1];
  const day = heap[9]; // 27 s: just past 24 simulated hours
  const last = heap[heap.length - 1];
  const peak = Math.max(...heap.map((h) => h.heap));
  console.log(`| JS heap at 3600× (after GC) | bounded | ${mb(first.heap)} at ${first.time} → ${mb(day.heap)} at ${day.time} → ${mb(last.heap)} at ${last.time}; peak ${mb(peak)} |`);
  console.log(`| WebAssembly memory, same run | bounded | ${mb(first.wasm)} → ${mb(day.wasm)} → ${mb(last.wasm)} |`);
  console.log('\nheap samples:', heap.map((h) => `${h.s}s ${mb(h.heap)}`).join(', '));
} finally {
  await browser.close();
  await server.close();
}
