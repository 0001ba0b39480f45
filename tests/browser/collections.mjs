// The collection sort app embed on the demo store's collection page: the theme's grid put in
// the demo customer's order by moving its own nodes (markup intact), and left exactly as the
// theme drew it when the answer fails, is not JSON or comes too late.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

export function collectionTests({ base, newPage, artifacts }) {
  const SORT = '**/apps/atelier/collections/*/sort*';

  /** The grid as the theme drew it: each node marked, with its handle and markup. */
  const snapshot = (page) => page.evaluate(() => [...document.querySelectorAll('#product-grid > li')].map((li, i) => {
    if (li.__atelierMark === undefined) li.__atelierMark = i;
    return { mark: li.__atelierMark, handle: li.querySelector('a[href*="/products/"]').getAttribute('href').split('/products/')[1], html: li.outerHTML };
  }));

  /** Opens the collection page with the sort request held until the grid is marked. */
  async function openHeld(page, answer) {
    let release, before;
    const held = new Promise((r) => { release = r; });
    await page.route(SORT, async (route) => {
      await held;
      await answer(route, before);
    });
    await page.goto(`${base()}/demo/collections/gifts`);
    await page.waitForSelector('#product-grid > li');
    before = await snapshot(page);
    release();
    return before;
  }

  test('collection sort: the grid is put in the demo customer\'s order by moving the theme\'s own cards', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${base()}/demo/login`);
    const saved = await page.evaluate(() => fetch('/apps/atelier/preferences', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ consent: { personalization: true, marketing: false } }),
    }).then((r) => r.status));
    assert.equal(saved, 200);
    // The link from the store's front page.
    await page.goto(`${base()}/demo`);
    await Promise.all([page.waitForURL('**/demo/collections/gifts'), page.getByRole('link', { name: 'Gifts' }).click()]);

    // The server's order for this shopper, asked the way the app proxy forwards it.
    const id = await page.evaluate(() => document.querySelector('script[data-atelier-collection-sort]').dataset.collectionId);
    const answer = await page.evaluate((id) => fetch(`/apps/atelier/collections/${id}/sort`).then((r) => r.json()), id);
    assert.equal(answer.personalized, true, JSON.stringify(answer));

    const before = await openHeld(page, (route) => route.continue());
    await page.waitForSelector('#product-grid[data-atelier-sorted="personalized"]');
    const after = await snapshot(page);
    const handles = (s) => s.map((x) => x.handle);
    const expected = answer.products.map((p) => p.handle).filter((h) => handles(before).includes(h));
    assert.deepEqual(handles(after), expected);
    assert.notDeepEqual(handles(after), handles(before), 'the demo data puts another product first');
    // The same nodes, each with its markup untouched: moved, never re-rendered.
    assert.deepEqual(after.map((x) => x.mark).sort(), before.map((x) => x.mark).sort());
    for (const a of after) {
      assert.equal(a.html, before.find((b) => b.mark === a.mark).html);
    }
    assert.equal(await page.locator('#product-grid > li.grid__item .card__heading a.full-unstyled-link').count(), before.length);
    await page.screenshot({ path: path.join(artifacts, 'collection-sorted.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('collection sort: a failed, unreadable or late answer leaves the grid as the theme drew it', async () => {
    const reversed = (before) => JSON.stringify({
      collection_id: '1', personalized: true,
      products: [...before].reverse().map((b, i) => ({ product_id: String(i + 1), handle: b.handle, score: 1 })),
    });
    const cases = [
      ['server error', async (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":{"code":"internal","message":"x"}}' }), 300],
      ['network failure', async (route) => route.abort('failed'), 300],
      ['not JSON', async (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '<html>oops' }), 300],
      ['unexpected shape', async (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"products":{"a":1}}' }), 300],
    ];
    for (const [name, answer, settle] of cases) {
      const { page, errors } = await newPage();
      const before = await openHeld(page, answer);
      await page.waitForTimeout(settle);
      const after = await snapshot(page);
      assert.deepEqual(after, before, name);
      assert.equal(await page.locator('#product-grid[data-atelier-sorted]').count(), 0, name);
      assert.deepEqual(errors, [], name);
      await page.context().close();
    }
    // Later than the embed's timeout (1.5 s): even a valid answer that would reorder is ignored.
    const { page, errors } = await newPage();
    const before = await openHeld(page, async (route, before) => {
      await new Promise((r) => setTimeout(r, 2500));
      await route.fulfill({ status: 200, contentType: 'application/json', body: reversed(before) }).catch(() => {});
    });
    await page.waitForTimeout(3200);
    assert.deepEqual(await snapshot(page), before, 'too late');
    assert.equal(await page.locator('#product-grid[data-atelier-sorted]').count(), 0);
    assert.deepEqual(errors, []);
    // The same answer in time does reorder (the cases above would have shown it).
    const quick = await newPage();
    const first = await openHeld(quick.page, (route, first) => route.fulfill({ status: 200, contentType: 'application/json', body: reversed(first) }));
    await quick.page.waitForSelector('#product-grid[data-atelier-sorted]');
    assert.deepEqual((await snapshot(quick.page)).map((x) => x.handle), first.map((x) => x.handle).reverse());
    assert.deepEqual(quick.errors, []);
  });
}
