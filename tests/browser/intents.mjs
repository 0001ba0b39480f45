// The recently viewed and cart recommendation blocks in the demo store: a shopper's own views,
// newest first, on the product page; on the cart page what completes the cart, never what is in
// it, following the cart as it changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

export function intentsTests({ base, newPage, artifacts }) {
  /** Opens a product page and waits until the pixel's product view has been stored. */
  async function view(page, handle) {
    const stored = page.waitForResponse((r) => r.url().endsWith('/pixel/events') && /product_viewed/.test(r.request().postData() || '') && r.ok());
    await page.goto(`${base()}/demo/products/${handle}`);
    await stored;
  }
  const titles = (block) => block.locator('.atelier-r__title').allTextContents();
  const until = async (check, what) => {
    for (let i = 0; i < 100; i++) {
      const v = await check();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('timed out: ' + what);
  };

  test('recently viewed lists the products viewed before, newest first; the cart page shows complements of the cart and none of its products', async () => {
    const { page, errors } = await newPage();
    // Anonymous: the browser's own session's views.
    await page.goto(`${base()}/demo/logout`);
    await view(page, 'engraved-ring');
    await view(page, 'custom-tote');
    await view(page, 'fig-candle');
    const recent = page.locator('[data-atelier-recs][data-intent="recently_viewed"]');
    await recent.locator('.atelier-r__card a').first().waitFor();
    assert.deepEqual(await titles(recent), ['Custom tote bag', 'Engraved ring'], 'newest first, never the product being viewed');
    await recent.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(artifacts, 'recently-viewed.png'), fullPage: true });

    // A second browser (another session) sees none of these views.
    const other = await newPage();
    await other.page.goto(`${base()}/demo/logout`);
    await view(other.page, 'wool-scarf');
    const own = await other.page.evaluate(() => fetch('/apps/atelier/recommendations?intent=recently_viewed&session_id=' + localStorage.getItem('atelier_sid')).then((r) => r.json()));
    assert.deepEqual(own.products.map((p) => p.title), ['Wool scarf'], 'another session sees its own views only');

    // The candle, then the mug, in the cart (the product form, as a theme without JavaScript).
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.waitForURL('**/demo/cart');
    await page.goto(`${base()}/demo/products/stoneware-mug`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.waitForURL('**/demo/cart');
    const complete = page.locator('[data-atelier-recs][data-intent="cart"]');
    await complete.locator('.atelier-r__card a').first().waitFor();
    const shown = await titles(complete);
    // Seeded orders: the scarf was bought with the candle and with the mug, the ring only with
    // the candle, the apron only with the mug. (The admin test before pins the apron to the
    // candle: a cart product's pins lead.)
    assert.ok(shown.includes('Engraved ring') && shown.includes('Linen apron'), shown.join(', '));
    assert.ok(shown.indexOf('Wool scarf') < shown.indexOf('Engraved ring'), shown.join(', '));
    const pinned = await page.evaluate(() => fetch('/apps/atelier/recommendations?intent=complementary&product_id=8100000004&limit=1').then((r) => r.json()));
    const lead = pinned.products[0]?.title === 'Linen apron' ? 1 : 0;
    assert.equal(shown[lead], 'Wool scarf', shown.join(', '));
    for (const never of ['Fig candle', 'Stoneware mug', 'Personalization']) assert.ok(!shown.includes(never), `${never} in ${shown}`);
    await complete.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(artifacts, 'cart-recommendations.png'), fullPage: true });

    // The cart changes through the AJAX cart API (a cart drawer's add): the block follows.
    const scarfVariant = await page.evaluate(async () => {
      const html = await fetch('/demo/products/wool-scarf').then((r) => r.text());
      return new DOMParser().parseFromString(html, 'text/html').querySelector('#variant option').value;
    });
    await page.evaluate((id) => fetch('/demo/cart/add.js', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, quantity: 1 }) }), scarfVariant);
    await until(async () => !(await titles(complete)).includes('Wool scarf'), 'the scarf, now in the cart, leaves the block');
    assert.ok(!(await titles(complete)).includes('Fig candle'));
    assert.deepEqual(errors, []);
    assert.deepEqual(other.errors, []);
  });
}
