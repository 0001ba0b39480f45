// The web pixel in the demo store: the demo's stand-in for Shopify's pixel runtime loads the
// app's pixel extension (its own file) and feeds it Shopify's standard events; they reach
// Atelier through POST /pixel/events. Declining analytics silences the pixel and the theme's own
// event scripts. An anonymous shopper's recommendation click is credited with their order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

export function pixelTests({ base, newPage, artifacts, sessionToken }) {
  /** Every /pixel/events and /apps/atelier/events request of the page's context, with its
   * status once answered (a keepalive request sent while the page unloads reports none). */
  function watch(page) {
    const seen = [];
    const entries = new Map();
    page.context().on('request', (r) => {
      const url = r.url();
      if (!/\/pixel\/events$|\/apps\/atelier\/events/.test(url)) return;
      let body = null;
      try { body = JSON.parse(r.postData() || 'null'); } catch { /* not JSON */ }
      const entry = { route: url.includes('/pixel/') ? 'pixel' : 'proxy', status: null, body };
      entries.set(r, entry);
      seen.push(entry);
    });
    page.context().on('response', (r) => {
      const entry = entries.get(r.request());
      if (entry) entry.status = r.status();
    });
    return seen;
  }
  /** Sends the event again: `200 duplicate` proves the first one was stored. */
  const storedBefore = async (body) => {
    const r = await fetch(`${base()}/pixel/events`, { method: 'POST', body: JSON.stringify(body) });
    return r.status === 200 && (await r.json()).status === 'duplicate';
  };
  const until = async (check, what) => {
    for (let i = 0; i < 100; i++) {
      const v = await check();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('timed out waiting for ' + what);
  };
  const analytics = async () => {
    const r = await fetch(`${base()}/api/analytics`, { headers: { Authorization: `Bearer ${await sessionToken()}` } });
    return (await r.json()).intents;
  };

  test('web pixel: a product view, an add to cart and the checkout arrive through /pixel/events', async () => {
    const { page, errors } = await newPage();
    const seen = watch(page);
    await page.goto(`${base()}/demo/products/stoneware-mug`);
    const view = await until(() => seen.find((s) => s.route === 'pixel' && s.body?.name === 'product_viewed' && s.status), 'product_viewed');
    assert.equal(view.status, 204);
    assert.equal(view.body.shop, 'atelier-demo.myshopify.com');
    assert.match(view.body.product_id, /^\d+$/);
    assert.ok(!('customer_id' in view.body), 'the pixel names no customer');
    // Sent alongside the product view: its answer may come after it.
    const pageView = await until(() => seen.find((s) => s.route === 'pixel' && s.body?.name === 'page_viewed' && s.status), 'page_viewed');
    assert.equal(pageView.status, 204);
    // The theme's widgets share the pixel's session.
    assert.equal(await page.evaluate(() => localStorage.getItem('atelier_sid')), view.body.client_id);
    await Promise.all([page.waitForURL('**/demo/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
    const added = await until(() => seen.find((s) => s.body?.name === 'product_added_to_cart'), 'product_added_to_cart');
    assert.equal(added.body.product_id, view.body.product_id);
    assert.ok(await until(() => storedBefore(added.body), 'the add to cart stored'));
    await Promise.all([page.waitForURL('**/demo/checkout'), page.locator('[data-checkout]').click()]);
    const done = await until(() => seen.find((s) => s.body?.name === 'checkout_completed' && s.status), 'checkout_completed');
    assert.equal(done.status, 204);
    assert.match(done.body.order_id, /^\d+$/);
    assert.equal(done.body.client_id, view.body.client_id);
    await page.screenshot({ path: path.join(artifacts, 'pixel-thank-you.png') });
    assert.deepEqual(errors, []);
  });

  test('web pixel: declining analytics silences the pixel and the theme, allowing resumes', async () => {
    const { page, errors } = await newPage();
    const seen = watch(page);
    await page.goto(`${base()}/demo/products/fig-candle`);
    await until(() => seen.some((s) => s.body?.name === 'product_viewed' && s.status), 'the first view');
    await page.locator('[data-demo-consent]').click();
    assert.match(await page.locator('[data-demo-consent]').textContent(), /declined/);
    seen.length = 0;
    await page.goto(`${base()}/demo/products/stoneware-mug`);
    const together = page.locator('[data-atelier-recs][data-intent="complementary"] .atelier-r__card a');
    await together.first().waitFor();
    await together.first().scrollIntoViewIfNeeded();
    await page.waitForTimeout(1500);
    assert.deepEqual(seen, [], 'no pixel event, no widget impression');
    await page.locator('[data-demo-consent]').click();
    await page.goto(`${base()}/demo/products/fig-candle`);
    await until(() => seen.some((s) => s.route === 'pixel' && s.body?.name === 'product_viewed' && s.status === 204), 'the view after allowing');
    assert.deepEqual(errors, []);
  });

  test('web pixel: an anonymous shopper who clicked a recommendation is credited with the order', async () => {
    const { page, errors } = await newPage();
    const seen = watch(page);
    await page.goto(`${base()}/demo/logout`);
    const before = (await analytics()).complementary || { attributed_orders: 0 };
    await page.goto(`${base()}/demo/products/fig-candle`);
    await until(() => seen.some((s) => s.body?.name === 'page_viewed'), 'the pixel');
    const together = page.locator('[data-atelier-recs][data-intent="complementary"]');
    await together.locator('.atelier-r__card a').first().waitFor();
    await Promise.all([page.waitForURL('**/demo/products/stoneware-mug'), together.getByText('Stoneware mug').click()]);
    const click = await until(() => seen.find((s) => s.route === 'proxy' && s.body?.type === 'click'), 'the click');
    assert.equal(click.body.session_id, await page.evaluate(() => localStorage.getItem('atelier_sid')));
    await Promise.all([page.waitForURL('**/demo/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
    await Promise.all([page.waitForURL('**/demo/checkout'), page.locator('[data-checkout]').click()]);
    await until(() => seen.some((s) => s.body?.name === 'checkout_completed' && s.status === 204), 'checkout_completed');
    let after;
    for (let i = 0; i < 50; i++) {
      after = (await analytics()).complementary;
      if (after && after.attributed_orders > before.attributed_orders) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(after.attributed_orders, before.attributed_orders + 1, JSON.stringify(after));
    await page.goto(`${base()}/demo/login`);
    assert.deepEqual(errors, []);
  });
}
