// A link with a scenario that does not exist says what is wrong and which scenarios exist, and
// the dashboard still runs the default demo instead of showing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('an unknown scenario in the address is named and the demo runs', async () => {
  const page = await dashboard.browser.newPage();
  await page.goto(`${dashboard.url}?scenario=sunny`);
  const error = page.getByTestId('startup-error');
  await error.waitFor({ timeout: 20_000 });
  const text = await error.textContent();
  assert.match(text, /unknown scenario `sunny`/);
  assert.match(text, /solar-day/);
  assert.match(text, /running the default demo/);
  await page.getByTestId('cell-voltage-16').waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId('scenario').textContent(), 'solar-day');
  await page.close();
});
