// An active balancer at work: on the imbalance scenario (cells 5 % apart, a 2 A active
// balancer) the cells panel says which cell gives charge to which, and marks both tiles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the active balancer shows which cell gives charge to which', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=imbalance&seed=42`);
  await page.getByTestId('speed-select').selectOption('3600');
  const cells = page.locator('section.cells');
  const said = cells.locator('.thermal').filter({ hasText: /balancer moving 2\.0 A from cell \d+ to cell \d+/ });
  // Pause while a transfer runs; reports already on their way may still land, so look once
  // the page has settled, and go on if the transfer ended just then.
  let text = '';
  for (let attempt = 0; attempt < 5 && !text; attempt += 1) {
    await said.waitFor({ timeout: 120_000 });
    await page.getByTestId('pause').click();
    await page.waitForTimeout(1_000);
    if (await said.count()) text = await said.textContent();
    else await page.getByTestId('pause').click();
  }
  const [, from, to] = text.match(/from cell (\d+) to cell (\d+)/);
  assert.notEqual(from, to);
  const tile = (n) => cells.locator('li.cell').nth(Number(n) - 1);
  assert.match(await tile(from).getAttribute('class'), /\bbalancing\b/);
  assert.match(await tile(to).getAttribute('class'), /\breceiving\b/);
  assert.equal((await page.getByTestId(`cell-balancing-${to}`).textContent()).trim(), '⇡');
  // Charge goes to the lowest cell the panel lists.
  assert.match(await page.getByTestId('cell-stats').textContent(), new RegExp(`min [\\d.]+ V \\(cell ${to}\\)`));
  assert.deepEqual(errors, []);
  await context.close();
});
