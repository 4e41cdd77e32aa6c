// Each cell's capacity as the BMS learns it: nothing at the start, then the weak cell (cell 8
// of `fault-weak-cell`, 70 % of the others: full first and empty first, so its ends are seen
// first) on its tile, marked, with a line saying what it costs the pack and what it may be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

test('the weak cell stands out by its learnt capacity', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=fault-weak-cell&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const note = page.getByTestId('capacity-note');
  assert.match(await note.textContent(), /not learnt yet/);
  assert.equal((await page.getByTestId('cell-capacity-8').textContent()).trim(), '');

  await page.getByTestId('speed-select').selectOption('86400');
  await waitFor('cell 8 to stand out', async () => /^Cell 8: /.test(await note.textContent()), 30_000);
  const text = await note.textContent();
  assert.match(text, /^Cell 8: \d+\.\d Ah, (6[5-9]|7[0-5]) % of the rated 280 Ah\. The pack holds only what cell 8 holds.*worn or faulty.*internal short/);
  const ah = Number(/^Cell 8: (\d+\.\d) Ah/.exec(text)[1]);
  // The true capacity is 70 % of a cell near 280 Ah; the estimate within 3 % of it.
  assert.ok(ah > 190 && ah < 202, `cell 8: ${ah} Ah`);
  assert.equal(await page.getByTestId('cell-capacity-8').textContent(), `${Math.round(ah)} Ah`);
  const tiles = page.locator('li.cell');
  assert.match(await tiles.nth(7).getAttribute('class'), /\bweak\b/);
  for (const n of [0, 6, 8, 15]) {
    assert.doesNotMatch(await tiles.nth(n).getAttribute('class'), /\bweak\b/);
  }
  // The SOH is the weakest cell's, and the SOC card says which cell that is.
  assert.match(await page.getByTestId('soc-detail').textContent(), /SOH (6[5-9]|7[0-5])\.\d % \(cell 8\)/);
  // The first line of the weak cell's tile still fits its column: its SOC ends inside it.
  const inside = await tiles.nth(7).evaluate((li) => {
    const tile = li.getBoundingClientRect();
    const soc = li.querySelector('.cell-soc').getBoundingClientRect();
    return soc.right <= tile.right;
  });
  assert.ok(inside, 'the SOC stays inside the tile');
  assert.deepEqual(errors, []);
  await page.close();
});
