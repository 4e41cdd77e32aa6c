// Each cell's resistance as the BMS learns it: nothing before the current has stepped, then a
// value on every cell's tile, and the cell behind a connection gone bad marked, with a line
// saying which connection to check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

test('the cell behind a bad connection stands out by its learnt resistance', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}?scenario=fault-resistance-step&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  const note = page.getByTestId('resistance-note');
  assert.match(await note.textContent(), /not learnt yet/);
  assert.equal((await page.getByTestId('cell-r0-3').textContent()).trim(), '');

  await page.getByTestId('speed-select').selectOption('3600');
  await waitFor('cell 3 to stand out', async () => /^Cell 3: /.test(await note.textContent()), 30_000);
  const text = await note.textContent();
  assert.match(text, /Cell 3: \d+\.\d\d mΩ, \d+× the cells' median \(0\.\d\d mΩ\)\..*check cell 3's busbars/);
  const mohm = (n) => page.getByTestId(`cell-r0-${n}`).textContent().then((t) => {
    assert.match(t, /^\d+\.\d\d mΩ$/, `cell ${n}: "${t}"`);
    return Number(t.replace(' mΩ', ''));
  });
  const bad = await mohm(3);
  assert.ok(bad > 4 && bad < 7, `cell 3 (+5 mΩ on a 0.3 mΩ cell): ${bad} mΩ`);
  for (const n of [1, 2, 4, 16]) {
    const r = await mohm(n);
    assert.ok(r > 0.2 && r < 0.5, `cell ${n}: ${r} mΩ`);
  }
  const tile = page.locator('li.cell').nth(2);
  assert.match(await tile.getAttribute('class'), /\bresistive\b/);
  assert.doesNotMatch(await page.locator('li.cell').nth(0).getAttribute('class'), /\bresistive\b/);
  assert.deepEqual(errors, []);
  await page.close();
});
