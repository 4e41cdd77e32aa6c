// Trips told where an owner sees them with the page in the background: the tab's title (SOC and
// current, then the trip) and, once asked for, a browser notification for each trip the page
// sees happen — one, with the event list's sentence, and none for what happened before. A pack
// in parallel taken for cut off the bus is told the same way, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

// Records every notification the page makes, and otherwise leaves the browser's own API be.
function spyOnNotifications() {
  const Real = window.Notification;
  window.__notices = [];
  window.__shown = [];
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notices.push({ title, body: options?.body, tag: options?.tag });
      window.__shown.push(this);
    }
  };
}

// A page allowed notifications, with the spy in place, at `query`; and its page errors.
async function spiedPage(query = '') {
  const context = await dashboard.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['notifications'], { origin: new URL(dashboard.url).origin });
  await context.addInitScript(spyOnNotifications);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}${query}`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  return { context, page, errors };
}

test('a trip is told in the tab title and, once asked for, as one notification', async () => {
  const { context, page, errors } = await spiedPage();
  await waitFor('the SOC in the title', async () => /^\d+ % · [+-]\d+\.\d A — Cellsight emulator$/.test(await page.title()), 5_000);

  const button = page.getByTestId('notify-trips');
  assert.equal(await button.getAttribute('aria-pressed'), 'false');
  await button.click();
  await page.getByTestId('notify-status').filter({ hasText: 'Trips are told as notifications' }).waitFor();
  assert.equal(await button.getAttribute('aria-pressed'), 'true');

  // An open sense wire trips at once.
  const options = await page.getByTestId('inject-fault').locator('option').allTextContents();
  const wire = options.findIndex((o) => o.startsWith('Open sense wire'));
  await page.getByTestId('inject-fault').selectOption(String(wire));
  await page.getByTestId('inject-fault-apply').click();
  await waitFor('a notification', async () => (await page.evaluate(() => window.__notices.length)) > 0, 10_000);
  await page.waitForTimeout(2_000);
  const notices = await page.evaluate(() => window.__notices);
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.equal(notices[0].title, 'Emulated battery trip: open sense wire');
  assert.equal(notices[0].tag, 'cellsight-open-wire');
  const log = await page.getByTestId('event-log').textContent();
  assert.ok(log.includes(notices[0].body), `the event list's sentence: ${notices[0].body}`);
  assert.match(await page.title(), /^⚠ Trip: open sense wire, cell \d+ · \d+ % — Cellsight emulator$/);
  // Clicked, it brings the tab forward and closes.
  assert.ok(await page.evaluate(() => {
    const shown = window.__shown[0];
    let closed = false;
    shown.close = () => { closed = true; };
    shown.onclick();
    return closed;
  }));

  // The choice is remembered for the next visit.
  await page.reload();
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('notify-trips').getAttribute('aria-pressed'), 'true');
  // And pressed again, it stops.
  await page.getByTestId('notify-trips').click();
  assert.equal(await page.getByTestId('notify-trips').getAttribute('aria-pressed'), 'false');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a page the browser refuses notifications says where to allow them', async () => {
  const context = await dashboard.browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(() => {
    Object.defineProperty(window.Notification, 'permission', { get: () => 'denied' });
  });
  const page = await context.newPage();
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('notify-trips').click();
  await page.getByTestId('notify-status').filter({ hasText: "allow them in the browser's site settings" }).waitFor();
  assert.equal(await page.getByTestId('notify-trips').getAttribute('aria-pressed'), 'false');
  await context.close();
});

test('a pack in parallel cut off the bus is told as one notification', async () => {
  const { context, page, errors } = await spiedPage('?scenario=fault-bus-disconnected');
  await page.getByTestId('notify-trips').click();
  await page.getByTestId('notify-status').filter({ hasText: 'so is a pack in parallel that seems cut off the bus' }).waitFor();
  // Pack 1's breaker opens at 10:00, four emulated hours in.
  await page.getByTestId('speed-select').selectOption('3600');
  await waitFor('a notification', async () => (await page.evaluate(() => window.__notices.length)) > 0, 60_000);
  await page.waitForTimeout(3_000);
  const notices = await page.evaluate(() => window.__notices);
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.equal(notices[0].title, 'Emulated battery: pack 1 may be cut off the bus');
  assert.equal(notices[0].tag, 'cellsight-cut-off-1');
  assert.match(notices[0].body, /^Pack 1 carries no current while the others are charging at \d+ A each on average, its switches on: it may be cut off the bus\./);
  assert.deepEqual(errors, []);
  await context.close();
});
