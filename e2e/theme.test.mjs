// Light and dark themes: the header button cycles auto → light → dark, the page's colours follow,
// and the choice survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the theme button switches light and dark and is remembered', async () => {
  const context = await dashboard.browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  await page.goto(dashboard.url);
  await page.getByRole('button', { name: /Colour theme: auto/ }).waitFor({ timeout: 20_000 });
  const toggle = page.getByTestId('theme-toggle');
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(await theme(), 'light', 'auto follows the system (light here)');
  const light = await background();

  await toggle.click(); // → light
  await toggle.click(); // → dark
  assert.equal(await theme(), 'dark');
  assert.match(await page.getByTestId('theme-toggle').textContent(), /dark/);
  const dark = await background();
  assert.notEqual(dark, light, 'the page background changes');

  await page.reload();
  await page.getByTestId('theme-toggle').waitFor({ timeout: 20_000 });
  assert.equal(await theme(), 'dark', 'remembered after a reload');
  await page.getByTestId('cell-voltage-16').waitFor({ timeout: 20_000 });
  await mkdir(new URL('./artifacts/', import.meta.url), { recursive: true });
  await page.screenshot({ path: new URL('./artifacts/dashboard-dark.png', import.meta.url).pathname });
  await context.close();
});
