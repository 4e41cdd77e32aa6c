// Headless Debian Chromium driven by playwright-core (Playwright cannot download a browser here),
// and the fixture every spec uses: dist/ served on loopback plus one browser per spec file.
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { serveDist } from './serve.mjs';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Registers before/after hooks that serve dist/ and launch Chromium; returns { url, browser }
 *  once the hooks have run. */
export function useDashboard() {
  const fixture = { url: undefined, browser: undefined };
  let server;
  before(async () => {
    server = await serveDist();
    fixture.url = server.url;
    fixture.browser = await launch();
  });
  after(async () => {
    await fixture.browser?.close();
    await server?.close();
  });
  return fixture;
}

/** The byte stream `emulator wire` writes for `args` (built with cargo if needed), kept in
 *  e2e/artifacts/`name`: what a Cellsight device sends, for the device-mode mocks. */
export async function emulatorWire(name, args) {
  const { execFileSync } = await import('node:child_process');
  const { mkdir, readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  await mkdir(new URL('./artifacts/', import.meta.url), { recursive: true });
  const out = fileURLToPath(new URL(`./artifacts/${name}`, import.meta.url));
  execFileSync('cargo', ['run', '--quiet', '-p', 'emulator', '--', 'wire', ...args, '--out', out], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  });
  return readFile(out);
}

/** Opens the dashboard in `context` and waits for the element `ready` (by default the
 *  emulator's clock, i.e. its first report); page errors are collected in `errors`. */
export async function openDashboard(context, url, ready = 'emulated-time') {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.getByTestId(ready).waitFor({ timeout: 20_000 });
  return { context, page, errors };
}

/** Waits until the frame counters stop moving (a replayed stream has been read); returns them. */
export async function untilQuiet(page) {
  let last = '';
  for (;;) {
    await page.waitForTimeout(400);
    const now = await page.getByTestId('link-counters').textContent();
    if (now === last && /[1-9]\d* frames/.test(now)) return now;
    last = now;
  }
}

/** Simulated seconds since the start, from the emulator banner's "day d, hh:mm:ss". */
export async function emulatedSecs(page) {
  const text = await page.getByTestId('emulated-time').textContent();
  const m = text.match(/^day (\d+), (\d\d):(\d\d):(\d\d)$/);
  if (!m) throw new Error(`the clock reads "day d, hh:mm:ss", got "${text}"`);
  const [, day, h, min, s] = m.map(Number);
  return (day - 1) * 86_400 + h * 3600 + min * 60 + s;
}

/** Polls `check` every 200 ms until it returns something truthy (which it returns), failing
 *  with "timed out waiting for <what>" after `timeout` ms. */
export async function waitFor(what, check, timeout = 20_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
