// The event list shows the newest events, and on request every one the dashboard keeps; the log
// downloads as CSV with a row per event and the sentence the list shows. Warnings and derates are
// amber, as on the alarms card; only trips are red.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { openDashboard, useDashboard } from './browser.mjs';

const dashboard = useDashboard();

test('every kept event can be shown and downloaded as CSV', async () => {
  const context = await dashboard.browser.newContext({ acceptDownloads: true });
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=fault-resistance-step&seed=1`);
  // Cell 3's degraded connection derates charging over and over as the sun comes and goes.
  await page.getByTestId('speed-select').selectOption('3600');
  const shown = page.getByTestId('events-shown');
  await shown.filter({ hasText: /^newest 12 of (1[3-9]|[2-9]\d|\d{3}) kept$/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId('pause').click();
  await page.waitForTimeout(1_000);
  const kept = Number((await shown.textContent()).match(/of (\d+) kept/)[1]);
  const items = page.getByTestId('event-log').locator('li.event');
  assert.equal(await items.count(), 12, 'the newest twelve');

  const showAll = page.getByTestId('events-show-all');
  await showAll.click();
  assert.equal(await showAll.getAttribute('aria-pressed'), 'true');
  assert.equal(await items.count(), kept, 'every kept event');
  assert.equal(await shown.textContent(), `${kept} kept, newest first`);
  // Coloured as the alarms card colours them: warnings and derates amber, not a trip's red.
  assert.ok(await items.and(page.locator('.warn')).filter({ hasText: /derating at/ }).count() > 0, 'derates in amber');
  assert.equal(await items.and(page.locator('.bad')).count(), 0, 'nothing tripped, nothing red');
  const sequences = await items.evaluateAll((li) => li.map((e) => Number(e.dataset.sequence)));
  assert.deepEqual(sequences, [...sequences].sort((a, b) => b - a), 'newest first');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('events-csv').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'cellsight-events.csv');
  const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'sequence,device_time_s,time,kind,fault,level,where,explanation');
  assert.equal(csv.length, kept + 1, 'a row per kept event');
  const first = await items.last().locator('span').nth(1).textContent();
  assert.ok(csv[1].includes(first.replaceAll('"', '""')), `${csv[1]} tells "${first}"`);
  assert.ok(csv.some((row) => /,derate,cell 3,/.test(row)), 'the derates on cell 3 are in the file');
  await page.getByTestId('events-export-status').filter({ hasText: `${kept} events exported as CSV.` }).waitFor();

  await showAll.click();
  assert.equal(await items.count(), 12);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a slow leak is warned of in words, naming the cell, and stays on the alarms card', async () => {
  const context = await dashboard.browser.newContext();
  const { page, errors } = await openDashboard(context, `${dashboard.url}?scenario=fault-slow-leak&seed=1`);
  // Four days at a day a second: the check compares each day's top and bottom of charge.
  await page.getByTestId('speed-select').selectOption('86400');
  const warning = page
    .getByTestId('event-log')
    .locator('li.event.warn')
    .filter({ hasText: /^day \d, [\d:]+Cell 5 self-discharge warning: it loses 0\.\d\d A more than the other cells \(limit 0\.10 A\): a warning; nothing switched\.$/ });
  await warning.waitFor({ timeout: 30_000 });
  await page.getByTestId('pause').click();
  const alarm = page.getByTestId('alarm-list').locator('li.alarm').filter({ hasText: /^self-discharge, cell 5warning$/ });
  assert.equal(await alarm.count(), 1, await page.getByTestId('alarms').textContent());
  assert.equal(await page.getByTestId('charge-switch').textContent(), 'ON', 'a warning switches nothing');
  assert.deepEqual(errors, []);
  await context.close();
});
