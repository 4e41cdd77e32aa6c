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
