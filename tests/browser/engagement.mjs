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

  test('admin: follow-up settings are saved with a secret shown once, a bad URL is named, deliveries are listed', async () => {
    const { page, errors } = await admin('/follow-ups');
    assert.equal(await page.locator('main h1').textContent(), 'Follow-ups');
    assert.deepEqual(await unlabelled(page), []);
    // A private address is refused, next to its field.
    await page.getByLabel('Destination URL').fill('https://10.0.0.8/hook');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]'));
    assert.equal(await page.getByLabel('Destination URL').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Destination URL').fill('https://hooks.example.com/atelier');
    await page.getByLabel('Format').selectOption('klaviyo');
    await page.getByLabel('Price drop on a wishlisted product').check();
    await page.getByLabel('Abandoned personalization').check();
    await page.getByLabel('Abandoned after (minutes)').fill('90');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const secret = page.locator('[data-secret]');
    await secret.waitFor();
    assert.match(await secret.textContent(), /^atsec_[0-9a-f]{64}$/);
    await page.locator('[data-counts]').waitFor();
    await page.screenshot({ path: path.join(artifacts, 'admin-followups.png'), fullPage: true });
    // Reloaded: the settings are kept, the secret is not shown again.
    await page.reload();
    await page.waitForSelector('main:not([aria-busy]) h1');
    assert.equal(await page.getByLabel('Destination URL').inputValue(), 'https://hooks.example.com/atelier');
    assert.equal(await page.getByLabel('Format').inputValue(), 'klaviyo');
    assert.equal(await page.getByLabel('Price drop on a wishlisted product').isChecked(), true);
    assert.equal(await page.getByLabel('Back in stock on a wishlisted product').isChecked(), false);
    assert.equal(await page.locator('[data-secret]').count(), 0);
    assert.match(await page.locator('main').textContent(), /Signing secret ending in/);
    assert.deepEqual(errors, []);
  });

  test('admin: store sync lists a consent write waiting for a permission, reached from the navigation', async () => {
    // A shopper of the demo store gives marketing consent; the demo shop has not granted
    // write_customers, so the write waits.
    const { page: shopper } = await newPage();
    await shopper.goto(`${base()}/demo/account`);
    const put = await shopper.evaluate(() => fetch('/apps/atelier/preferences', {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ consent: { marketing: true } }),
    }).then((r) => r.status));
    assert.equal(put, 200);
    const { page, errors } = await admin('/');
    await page.locator('nav a[href="#/store-sync"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('main:not([aria-busy]) h1')?.textContent === 'Store sync');
    // The list is read when the page opens; until the worker has taken the write (it may still
    // be waiting), choosing a state reads it again.
    const row = page.locator('[data-store-writes] tbody tr[data-kind="customer_consent"][data-state="held"]').first();
    for (let i = 0; i < 40 && !(await row.count()); i++) {
      await page.getByLabel('State').selectOption(i % 2 ? '' : 'held');
      await page.waitForTimeout(300);
    }
    await page.getByLabel('State').selectOption('');
    await row.waitFor();
    assert.match(await row.textContent(), /Needs a permission.*needs the write_customers scope/);
    await page.locator('[data-held-help]').waitFor();
    assert.deepEqual(await unlabelled(page), []);
    await page.screenshot({ path: path.join(artifacts, 'admin-store-sync.png'), fullPage: true });
    // Retried, it is claimed and waits again: the shop still lacks the scope.
    await row.getByRole('button', { name: /^Retry Marketing consent/ }).click();
    await page.getByText('Write queued again').waitFor();
    // Queued again: waiting, being sent, or held again once the worker has seen the scope is
    // still missing — never failed.
    await page.getByLabel('State').selectOption('dead');
    await page.getByLabel('State').selectOption('');
    await page.locator('[data-store-writes] tbody tr[data-kind="customer_consent"]:is([data-state="pending"], [data-state="sending"], [data-state="held"])').first().waitFor();
    assert.equal(await page.locator('[data-store-writes] tbody tr[data-state="dead"]').count(), 0);
    assert.deepEqual(errors, []);
  });
}
