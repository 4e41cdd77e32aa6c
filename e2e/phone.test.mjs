// A 390 px phone: nothing runs off the side of the screen, and the numbers, the console and the
// recordings are all reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('on a 390 px phone nothing runs off the screen', async () => {
  const context = await dashboard.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await page.goto(dashboard.url);
  await page.getByTestId('soc').filter({ hasText: /\d/ }).waitFor({ timeout: 20_000 });
  await page.waitForTimeout(1_000);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `page is ${width} px wide`);
  for (const id of ['pack-voltage', 'soc', 'inject-fault', 'power-flow', 'export-csv', 'cell-voltage-16']) {
    const box = await page.getByTestId(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 391, `${id} within the screen: ${JSON.stringify(box)}`);
  }
  // What the inverter reads from each CAN frame gets the width of the screen, below the frame's
  // id and bytes (as a third column it was about 60 px wide, a word a line, and cut off).
  for (const id of ['can-351', 'can-356', 'can-35C']) {
    const row = page.getByTestId(id);
    const bytes = await row.locator('td').nth(1).boundingBox();
    const meaning = await row.locator('td').nth(2).boundingBox();
    assert.ok(meaning.width >= 300, `${id}: what the inverter reads is ${meaning.width} px wide`);
    assert.ok(meaning.x >= 0 && meaning.x + meaning.width <= 391, `${id} within the screen: ${JSON.stringify(meaning)}`);
    assert.ok(meaning.y >= bytes.y + bytes.height - 1, `${id}: the meaning below the bytes`);
  }
  // Every setting open: the limit table scrolls inside its card, the fields keep their rows.
  await page.getByTestId('config-read').click();
  await page.locator('.config-fields summary').click();
  await page.getByTestId('config-limits').waitFor();
  const open = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(open <= 390, `with the settings open the page is ${open} px wide`);
  const field = await page.getByTestId('config-field-balance_min_cell_mv').boundingBox();
  const label = await page.locator('.config-label', { hasText: 'Balance only cells at or above' }).boundingBox();
  assert.ok(field.x + field.width <= 391, `setting within the screen: ${JSON.stringify(field)}`);
  assert.ok(Math.abs(field.y - label.y) < field.height, 'a setting beside its words, not below them');
  await context.close();
});
