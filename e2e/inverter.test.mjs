// The inverter view: the six Pylontech CAN frames, their bytes, and what an inverter reads from
// them, live and consistent with the rest of the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('the CAN frames the BMS sends its inverter are shown decoded', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.getByTestId('can-351').waitFor({ timeout: 20_000 });
  for (const id of ['351', '355', '356', '359', '35C', '35E']) {
    const cells = await page.getByTestId(`can-${id}`).locator('td').allTextContents();
    assert.equal(cells[0], `0x${id}`);
    assert.match(cells[1], /^([0-9A-F]{2} ){7}[0-9A-F]{2}$/, `8 bytes in hex: ${cells[1]}`);
  }
  // Pause so that the numbers compare at one instant.
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.waitForTimeout(700);
  const limits = await page.getByTestId('can-351').locator('td').nth(2).textContent();
  const cvl = Number(await page.getByTestId('limits-cvl').textContent());
  assert.match(limits, new RegExp(`charge voltage limit ${cvl.toFixed(1)} V`), limits);
  // A morning pack, not yet full: the CVL is the absorption voltage (3.45 V a cell, 16 cells).
  assert.equal(cvl, 55.2);
  await page.getByText('CVL at the absorption voltage').waitFor();
  const soc = Number(await page.getByTestId('soc').textContent());
  const socFrame = await page.getByTestId('can-355').locator('td').nth(2).textContent();
  const sent = Number(socFrame.match(/^SOC (\d+) %/)[1]);
  assert.ok(Math.abs(sent - soc) <= 0.5, `0x355 sends ${sent} %, the card shows ${soc} %`);
  assert.match(await page.getByTestId('can-35E').textContent(), /PYLON/);
  await page.close();
});
