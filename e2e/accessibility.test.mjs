// Every control has an accessible name, and the dashboard works from the keyboard alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

const CONTROLS = new Set(['button', 'combobox', 'textbox', 'spinbutton', 'link', 'checkbox', 'slider', 'listbox']);

test('every control has an accessible name', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.getByTestId('soc').filter({ hasText: /\d/ }).waitFor({ timeout: 20_000 });
  await page.getByTestId('recording-item').first().waitFor({ timeout: 10_000 });
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  const controls = nodes.filter((n) => !n.ignored && CONTROLS.has(n.role?.value));
  assert.ok(controls.length >= 15, `${controls.length} controls found`);
  const unnamed = controls.filter((n) => !(n.name?.value ?? '').trim()).map((n) => n.role.value);
  assert.deepEqual(unnamed, [], 'controls without a name');
  await page.close();
});

test('the console works from the keyboard: tab to Pause, press Enter, the clock stops', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  let focused = '';
  for (let i = 0; i < 40 && focused !== 'pause'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.dataset?.testid ?? '');
  }
  assert.equal(focused, 'pause', 'Pause is reachable with Tab');
  // The focused control is visibly marked.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await page.keyboard.press('Enter');
  await page.getByTestId('emulator-speed').filter({ hasText: 'paused' }).waitFor({ timeout: 5_000 });
  await page.close();
});
