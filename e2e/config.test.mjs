// Configuration of a Cellsight device, on the emulated pack (a dry run): read it, edit it with
// the engine's own checks, see the diff, write it and see it confirmed, then run the scenario
// and see the engine act on the new limit; back it up to a JSON file and restore it, and a
// damaged file changes nothing. The same panel talks to a real device over the same frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('a configuration round-trips on the emulator: edit, diff, write, confirm, and the engine uses it', async () => {
  const context = await dashboard.browser.newContext({ acceptDownloads: true });
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=overcharge&cells=8&seed=3`);
  await page.getByTestId('pause').click();
  await page.getByTestId('config-read').click();
  await page.getByTestId('config-status').filter({ hasText: /Read from the emulated pack: \d+ settings/ }).waitFor();
  await page.getByTestId('config-diff').filter({ hasText: 'No changes' }).waitFor();
  assert.ok(await page.getByTestId('config-write').isDisabled(), 'nothing to write yet');
  await page.locator('.config-fields summary').click();

  const trip = page.getByTestId('config-field-cell_over_voltage.trip');
  assert.equal(await trip.inputValue(), '3650');
  // Every setting in words: the limits as a table, the rest in groups.
  assert.equal(await page.getByRole('textbox', { name: 'Cell over-voltage: Trip', exact: true }).inputValue(), '3650');
  assert.equal(await page.getByTestId('config-limits').locator('tbody tr').count(), 11);
  assert.equal(await page.getByRole('textbox', { name: 'Balance only cells at or above', exact: true }).inputValue(), '3300');
  // The self-discharge check's two settings, in words; a warning above the trip is the
  // engine's rule broken, shown, and no write.
  const leakWarn = page.getByRole('textbox', { name: 'Warn when a cell loses more than the others by (0: off)', exact: true });
  assert.equal(await leakWarn.inputValue(), '100');
  assert.equal(await page.getByTestId('config-field-self_discharge_trip_ma').inputValue(), '500');
  await leakWarn.fill('600');
  await leakWarn.press('Enter');
  await page.getByTestId('config-violations').filter({ hasText: 'self_discharge_warn_ma' }).waitFor();
  assert.ok(await page.getByTestId('config-write').isDisabled());
  await leakWarn.fill('100');
  await leakWarn.press('Enter');
  // Above the cell's absolute maximum: the engine's rule, shown, and no write.
  await trip.fill('3900');
  await trip.press('Enter');
  await page.getByTestId('config-violations').filter({ hasText: 'cell_over_voltage' }).waitFor();
  assert.ok(await page.getByTestId('config-write').isDisabled());
  // Not a number the setting can hold: said, and the draft keeps its last good value.
  const count = page.getByTestId('config-field-cell_count');
  await count.fill('300');
  await count.press('Enter');
  await page.getByTestId('config-violations').filter({ hasText: 'cell_count: `300` must be from 0 to 255' }).waitFor();
  await count.fill('8');
  await count.press('Enter');

  await trip.fill('3620');
  await trip.press('Enter');
  await page.getByTestId('config-diff').filter({ hasText: 'Cell over-voltage: Trip cell_over_voltage.trip: 3650 mV → 3620 mV' }).waitFor();
  assert.equal(await page.getByTestId('config-violations').count(), 0);
  let question = '';
  page.once('dialog', (d) => { question = d.message(); d.accept(); });
  await page.getByTestId('config-write').click();
  await page.getByTestId('config-status').filter({ hasText: 'Written and confirmed' }).waitFor();
  assert.match(question, /Write 1 change\(s\) to the emulated pack/);
  await page.getByTestId('config-diff').filter({ hasText: 'No changes' }).waitFor();

  // Backup: the file is the device's configuration, with the new limit.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('config-backup').click()]);
  const path = await download.path();
  const backup = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(backup.kind, 'cellsight-configuration');
  assert.equal(backup.config.cell_over_voltage.trip, 3620);

  // The dry run: the overcharge trips at the new limit.
  await page.getByTestId('speed-select').selectOption('600');
  await page.getByTestId('event-log').filter({ hasText: /over-voltage protection at 3\.6\d\d V \(limit 3\.620 V\)/ }).waitFor({ timeout: 60_000 });

  // Restore: a damaged file says where and changes nothing; the good one fills the editor.
  const broken = `${path}.broken.json`;
  await writeFile(broken, (await readFile(path, 'utf8')).slice(0, 200));
  await page.getByTestId('config-restore').setInputFiles(broken);
  await page.getByTestId('config-status').filter({ hasText: /was not restored: not a JSON file: .* at line \d+, column \d+/ }).waitFor();
  await page.getByTestId('config-diff').filter({ hasText: 'No changes' }).waitFor();
  backup.config.balance_start_delta_mv += 5;
  const edited = `${path}.edited.json`;
  await writeFile(edited, JSON.stringify(backup));
  await page.getByTestId('config-restore').setInputFiles(edited);
  await page.getByTestId('config-diff').filter({ hasText: 'balance_start_delta_mv' }).waitFor();
  assert.ok(await page.getByTestId('config-write').isEnabled());
  // Undo brings the draft back to what the pack has.
  await page.getByTestId('config-revert').click();
  await page.getByTestId('config-diff').filter({ hasText: 'No changes' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
