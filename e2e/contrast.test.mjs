// Every piece of text on the dashboard reads against what is behind it: WCAG AA contrast
// (4.5:1, or 3:1 for large text) in the light and the dark theme, with warnings, derates and
// trips on screen (a weak cell's warnings and its marked tile; an over-voltage trip), the
// emulator paused so that the pressed Pause button shows too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDashboard, waitFor } from './browser.mjs';

const dashboard = useDashboard();

/** Text elements in the page whose colour is below AA against their background. */
function lowContrast() {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(',').map(Number);
    return { r, g, b, a };
  };
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  // The nearest opaque background up the tree (the page's own at the top).
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.body).backgroundColor) ?? { r: 255, g: 255, b: 255 };
  };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!text || !box.width || !box.height || style.visibility === 'hidden') continue;
    const [l1, l2] = [luminance(parse(style.color)), luminance(background(el))];
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      failures.push(`${ratio.toFixed(2)}:1 ${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 40)}"`);
    }
  }
  return failures;
}

async function checkBothThemes(page, what) {
  for (const theme of ['light', 'dark']) {
    await waitFor(`the ${theme} theme`, async () => {
      if ((await page.evaluate(() => document.documentElement.dataset.theme)) === theme) return true;
      await page.getByTestId('theme-toggle').click();
      return false;
    }, 5_000);
    assert.deepEqual(await page.evaluate(lowContrast), [], `${what}, ${theme} theme`);
  }
}

test('warnings, derates and a weak cell read in both themes', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${dashboard.url}?scenario=fault-weak-cell&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('86400');
  const note = page.getByTestId('capacity-note');
  await waitFor('the weak cell', async () => /^Cell 8: /.test(await note.textContent()), 30_000);
  await page.getByTestId('pause').click();
  await page.getByTestId('emulator-speed').filter({ hasText: 'paused' }).waitFor({ timeout: 5_000 });
  await checkBothThemes(page, 'fault-weak-cell');
  await page.close();
});

test('a trip and its events read in both themes', async () => {
  const page = await dashboard.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${dashboard.url}?scenario=overcharge&seed=1`);
  await page.getByTestId('emulated-time').waitFor({ timeout: 20_000 });
  await page.getByTestId('speed-select').selectOption('3600');
  await waitFor('the over-voltage trip', async () => /over-voltage/.test(await page.getByTestId('alarm-list').textContent()), 30_000);
  await checkBothThemes(page, 'overcharge');
  await page.close();
});
