// A link with a scenario that does not exist says what is wrong and which scenarios exist, and
// the dashboard still runs the default demo instead of showing nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist } from './serve.mjs';
import { launch } from './browser.mjs';

let server;
let browser;

before(async () => {
  server = await serveDist();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('an unknown scenario in the address is named and the demo runs', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}?scenario=sunny`);
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
