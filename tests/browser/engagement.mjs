// The admin's wishlist page in a real browser, against the same demo server as the storefront
// tests (registered after them, so the storefront wishlist test's products are listed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

export function engagementTests({ base, newPage, artifacts }) {
  async function admin(route) {
    const { page, errors } = await newPage();
    page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) errors.push('CSP: ' + m.text()); });
    await page.goto(`${base()}/demo/admin#${route}`);
    await page.waitForSelector('main:not([aria-busy]) h1');
    return { page, errors };
  }
  const unlabelled = (page) => page.evaluate(() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter((el) => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 80)));

  test('admin: the wishlists page lists the most wished products, reached from the navigation', async () => {
    const { page, errors } = await admin('/');
    await page.locator('nav a[href="#/wishlists"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('main:not([aria-busy]) h1')?.textContent === 'Wishlists');
    assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), 'Wishlists');
    const row = page.locator('[data-most-wished] tbody tr', { hasText: 'Stoneware mug' });
    await row.waitFor();
    assert.equal((await row.locator('td').first().textContent()).trim(), '1');
    assert.deepEqual(await unlabelled(page), []);
    await page.screenshot({ path: path.join(artifacts, 'admin-wishlists.png'), fullPage: true });
    await page.getByLabel('Show').selectOption('10');
    await page.locator('[data-most-wished]').waitFor();
    assert.deepEqual(errors, []);
  });
}
