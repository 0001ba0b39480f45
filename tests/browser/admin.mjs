// The merchant's admin in a real browser, against the same demo server as the storefront tests
// (registered after them by browser.test.mjs, so the storefront test's clicks are in the
// analytics). Everything a merchant does goes through the admin's UI at /demo/admin, and what
// it changes is checked on the demo storefront.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHmac, randomUUID } from 'node:crypto';
import path from 'node:path';

const DEV_SECRET = 'atelier-dev-api-secret-do-not-use-in-production';
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';

async function until(check, what) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out: ' + what);
}

export function adminTests({ base, newPage, artifacts, png }) {
  const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });

  /** A page of the admin, with CSP violations collected. */
  async function admin(route = '/') {
    const { page, errors } = await newPage();
    page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) errors.push('CSP: ' + m.text()); });
    await page.goto(`${base()}/demo/admin#${route}`);
    await page.waitForSelector('main:not([aria-busy]) h1');
    return { page, errors };
  }
  const go = async (page, route) => {
    await page.evaluate((r) => { location.hash = r; }, route);
    await page.waitForFunction((r) => location.hash === '#' + r && !document.querySelector('main').hasAttribute('aria-busy'), route);
  };
  /** Calls /api from inside the page, with the stand-in's session token. */
  const apiCall = (page, p, method = 'GET', body) => page.evaluate(async ([p, method, body]) => {
    const t = await window.shopify.idToken();
    const r = await fetch(p, { method, headers: { Authorization: 'Bearer ' + t, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) };
  }, [p, method, body]);

  /** Every control labelled, one h1, the navigation landmark. */
  const checkA11y = (page) => page.evaluate(() => {
    const problems = [];
    for (const el of document.querySelectorAll('main input, main select, main textarea')) {
      if (el.type === 'hidden') continue;
      if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) problems.push('unlabelled ' + el.outerHTML.slice(0, 80));
    }
    if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count ' + document.querySelectorAll('h1').length);
    if (!document.querySelector('nav[aria-label] a[aria-current="page"]')) problems.push('no current link in the navigation landmark');
    return problems;
  });

  async function placeOrder(page, handle, fill) {
    await page.goto(`${base()}/demo/products/${handle}`);
    const block = page.locator('[data-atelier-personalizer]');
    await block.locator('.atelier-p__field').first().waitFor();
    await fill(block);
    await Promise.all([page.waitForURL('**/demo/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.waitForSelector('[data-order-name]');
    return page.locator('[data-order-name]').textContent();
  }

  /** Waits for the order's webhook to be applied (the worker runs in the background). */
  async function waitForLine(page, orderName) {
    for (let i = 0; i < 100; i++) {
      const r = await apiCall(page, '/api/production/lines?limit=250');
      const line = r.body.items.find((l) => l.order_name === orderName);
      if (line) return line;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('order ' + orderName + ' never reached production');
  }

  test('admin: every page renders with a heading, labelled controls and the navigation landmark', async () => {
    const { page, errors } = await admin('/');
    await page.getByText('Webhook health').waitFor();
    await page.getByText('Fee product configured').waitFor();
    assert.deepEqual(await checkA11y(page), []);
    await shot(page, 'admin-home.png');
    for (const [route, title, file] of [['/templates', 'Templates', 'admin-templates.png'], ['/production', 'Production', 'admin-production-empty.png'], ['/preferences', 'Preference center', 'admin-preferences.png'],
      ['/recommendations', 'Recommendations', 'admin-recommendations.png'], ['/analytics', 'Analytics', 'admin-analytics.png'], ['/privacy', 'Privacy', 'admin-privacy-empty.png']]) {
      // Through the navigation, by keyboard: focus the link and press Enter.
      await page.locator(`nav a[href="#${route}"]`).focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction((t) => document.querySelector('main:not([aria-busy]) h1')?.textContent === t, title);
      assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus moves to the new page heading');
      assert.deepEqual(await checkA11y(page), [], route);
      await shot(page, file);
    }
    // The shell is served with a policy naming only what it needs.
    const res = await fetch(`${base()}/demo/admin`);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /frame-ancestors https:\/\/atelier-demo\.myshopify\.com https:\/\/admin\.shopify\.com/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|cdn\.shopify\.com\/shopifycloud/);
    assert.deepEqual(errors, []);
  });

  let orderName;
  test('admin: a template with every field type, built in the UI, shows on the storefront; it is ordered and produced', async () => {
    const { page, errors } = await admin('/templates/new');
    await page.getByLabel('Name', { exact: true }).fill('Apron workshop');
    const add = async (type, label) => {
      await page.getByLabel('New field type').selectOption(type);
      await page.getByRole('button', { name: 'Add field' }).click();
      const card = page.locator('.fieldcard').last();
      await card.getByLabel('Label', { exact: true }).fill(label);
      return card;
    };
    let c = await add('text', 'Monogram');
    await c.getByLabel('Required', { exact: true }).check();
    await c.getByLabel('Maximum length').fill('3');
    await c.getByLabel(/^Pattern/).fill('[A-Z]+');
    await c.getByLabel('Test the pattern').fill('AB1');
    await c.getByText('Does not match').waitFor();
    await c.getByLabel('Test the pattern').fill('ABC');
    await c.getByText('Matches the whole value').waitFor();
    await c.getByLabel('Price add-on when filled ($)').fill('5');
    await c.getByLabel('Font').fill('Georgia');
    await c.getByLabel('Top (%)').fill('40');
    c = await add('number', 'Pocket count');
    await c.getByLabel('Minimum', { exact: true }).fill('0');
    await c.getByLabel('Maximum', { exact: true }).fill('3');
    await c.getByLabel('Step', { exact: true }).fill('1');
    c = await add('select', 'Strap length');
    await c.getByLabel('Option 1 label').fill('Short');
    await c.getByRole('button', { name: 'Add option' }).click();
    await c.getByLabel('Option 2 label').fill('Long');
    await c.getByLabel('Price ($)').nth(1).fill('3');
    c = await add('swatch', 'Thread colour');
    await c.getByLabel('Option 1 label').fill('Navy');
    await c.getByLabel('Colour').first().fill('#1f2a5a');
    await c.getByRole('button', { name: 'Add option' }).click();
    await c.getByLabel('Option 2 label').fill('Red');
    c = await add('checkbox', 'Gift wrap');
    await c.getByLabel('Price when ticked ($)').fill('4');
    c = await add('textarea', 'Gift note');
    await c.getByLabel('Condition').selectOption('gift_wrap');
    await c.getByLabel('Maximum length').fill('60');
    c = await add('date', 'Deliver by');
    await c.getByLabel('Earliest date').fill('2026-01-01');
    c = await add('image', 'Logo');
    await c.getByLabel('Help text for shoppers').fill('PNG or JPEG');

    // Reorder: by keyboard (the move button), then by pointer (drag the handle).
    const order = () => page.locator('.fieldcard__label').allTextContents();
    await page.getByRole('button', { name: 'Move Pocket count down' }).focus();
    await page.keyboard.press('Enter');
    assert.deepEqual((await order()).slice(0, 3), ['Monogram', 'Strap length', 'Pocket count']);
    await page.locator('.fieldcard').nth(6).locator('.handle').dragTo(page.locator('.fieldcard').nth(1));
    assert.deepEqual(await order(), ['Monogram', 'Deliver by', 'Strap length', 'Pocket count', 'Thread colour', 'Gift wrap', 'Gift note', 'Logo']);

    // A definition the server refuses: the message sits beside the control its path names.
    const mono = page.locator('.fieldcard').first();
    await mono.getByLabel('Minimum length').fill('5');
    await page.getByRole('button', { name: 'Save template' }).click();
    await page.locator('.errors:not([hidden])').waitFor();
    assert.match(await page.locator('.errors').textContent(), /fields\[0\]\.(min|max)_length/);
    assert.ok(await mono.locator('.field__error:not([hidden])').count() >= 1, 'the error is in the Monogram card');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('errors')), true, 'the summary takes focus');
    await shot(page, 'admin-template-422.png');
    await mono.getByLabel('Minimum length').fill('');

    // Assign to a product by searching the synced catalogue.
    await page.getByLabel('Assign to a product').fill('apron');
    await page.getByRole('button', { name: 'Add Linen apron' }).click();
    await page.locator('.tag').getByText('Linen apron').waitFor();

    // The live preview is the storefront block's own script, fed the draft.
    const frame = page.frameLocator('.preview__frame');
    await frame.getByLabel(/Monogram/).waitFor();
    assert.equal(await frame.getByLabel(/Gift note/).isVisible(), false, 'hidden until gift wrap is ticked');
    await frame.getByLabel(/Gift wrap/).check();
    await frame.getByLabel(/Gift note/).waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Save template' }).click();
    await page.waitForFunction(() => /^#\/templates\/(?!new)/.test(location.hash));
    await page.getByText(/Template saved: version 1/).waitFor();
    await page.waitForSelector('main:not([aria-busy]) h1');
    assert.equal(await page.locator('h1').textContent(), 'Apron workshop');
    await shot(page, 'admin-template-editor.png');

    // The storefront shows the fields.
    const shop = await newPage();
    orderName = await placeOrder(shop.page, 'linen-apron', async (block) => {
      const labels = await block.locator('.atelier-p__field:not([hidden]) > label, .atelier-p__field:not([hidden]) legend, .atelier-p__check').allTextContents();
      for (const l of ['Monogram', 'Deliver by', 'Strap length', 'Pocket count', 'Thread colour', 'Gift wrap', 'Logo']) assert.ok(labels.some((x) => x.includes(l)), l + ' in ' + labels.join('|'));
      await block.getByLabel(/Monogram/).fill('ABC');
      await block.getByLabel(/Strap length/).selectOption('long');
      await block.getByText('Navy').click();
      await block.getByLabel(/Pocket count/).fill('2');
      await block.getByLabel(/Gift wrap/).check();
      await block.getByLabel(/Gift note/).fill('Happy birthday');
      await block.getByLabel(/Deliver by/).fill('2027-02-01');
    });
    assert.match(orderName, /^#D\d+$/);
    assert.deepEqual(shop.errors, []);

    // Production: find the line, move it to in production, then done.
    await waitForLine(page, orderName);
    await go(page, '/production');
    const row = page.locator('tr[data-line-id]', { hasText: orderName });
    await row.waitFor();
    assert.match(await row.textContent(), /Monogram: ABC/);
    assert.match(await row.textContent(), /Verified/);
    assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), false, 'no more pages to load');
    await shot(page, 'admin-production.png');
    await row.getByRole('button', { name: 'Start production' }).click();
    await row.getByText('In production', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Mark done' }).click();
    await page.locator('tr[data-line-id]', { hasText: orderName }).getByText('Done', { exact: true }).waitFor();

    // Filters.
    await page.getByLabel('Status').selectOption('pending');
    await page.waitForFunction((n) => ![...document.querySelectorAll('tr[data-line-id]')].some((r) => r.textContent.includes(n)), orderName);
    await page.getByLabel('Status').selectOption('done');
    await page.locator('tr[data-line-id]', { hasText: orderName }).waitFor();
    // The count under the filters speaks of one line in the singular.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-line-id]').length === 1);
    assert.equal(await page.locator('main p[aria-live]', { hasText: 'shown' }).textContent(), '1 line shown.');
    await page.getByLabel('Status').selectOption('pending');
    await page.waitForFunction(() => !document.querySelector('tr[data-line-id]') && /^0 /.test(document.querySelector('main p[aria-live]').textContent));
    assert.equal(await page.locator('main p[aria-live]', { hasText: 'shown' }).textContent(), '0 lines shown.');
    await page.getByLabel('Status').selectOption('done');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-line-id]').length === 1);

    // The CSV download.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync(await dl.path(), 'utf8');
    const [head, ...rows] = csv.trim().split(/\r?\n/);
    assert.match(head, /^order_name,order_id,line_item_id,product_id,variant_id,quantity,status,verified,expected_cents,charged_cents/);
    assert.match(head, /Monogram/);
    const mine = rows.find((r) => r.startsWith(orderName + ','));
    assert.ok(mine, csv);
    assert.match(mine, /,done,true,/);

    // Print view: every value and the preview.
    await page.getByRole('link', { name: new RegExp('Print view of ' + orderName) }).click();
    await page.waitForSelector('main:not([aria-busy]) h1');
    const text = await page.locator('main').textContent();
    for (const v of ['ABC', 'Long', 'Navy', 'Happy birthday', '2027-02-01']) assert.ok(text.includes(v), v);
    await page.waitForFunction(() => { const i = document.querySelector('.print__svg'); return i && i.complete && i.naturalWidth > 0; });
    await shot(page, 'admin-print.png');
    assert.deepEqual(errors, []);
  });

  test('admin: the print view shows the image the shopper uploaded, served from the upload', async () => {
    const { page, errors } = await admin('/');
    // The shopper uploads a photo through the storefront block (the real upload route behind the
    // app proxy), personalizes and orders through the demo's checkout (a signed orders webhook).
    const shop = await newPage();
    let photo;
    const name = await placeOrder(shop.page, 'custom-tote', async (block) => {
      await block.getByLabel('Message').fill('Print me');
      await block.getByText('Navy').click();
      await block.getByLabel('Photo').setInputFiles({ name: 'tile.png', mimeType: 'image/png', buffer: png(48, 32) });
      await shop.page.waitForFunction(() => document.querySelector('[data-price]').textContent.includes('$8.00'));
    });
    const line = await waitForLine(page, name);
    photo = line.properties.find((p) => p.name === 'Photo')?.value;
    assert.match(photo || '', new RegExp(`^${base()}/uploads/up_[A-Za-z0-9_-]+$`), JSON.stringify(line.properties));

    await go(page, '/production/' + line.line_item_id);
    const img = page.locator('main img.print__upload');
    await img.waitFor();
    assert.equal(await img.getAttribute('alt'), 'Uploaded image for Photo');
    assert.equal(new URL(await img.evaluate((i) => i.src)).pathname, new URL(photo).pathname, 'the <img> points to the upload');
    await page.waitForFunction(() => { const i = document.querySelector('main img.print__upload'); return i.complete && i.naturalWidth === 48 && i.naturalHeight === 32; });
    const served = await fetch(photo);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'image/png');
    await page.waitForFunction(() => { const i = document.querySelector('.print__svg'); return i && i.complete && i.naturalWidth > 0; });
    await shot(page, 'admin-print-upload.png');
    assert.deepEqual(errors, []);
    assert.deepEqual(shop.errors, []);
  });

  test('admin: toasts are announced, dismissible, time out, and stay on their page', async () => {
    const { page, errors } = await admin('/preferences');
    const stack = page.locator('[data-toasts]');
    assert.equal(await stack.getAttribute('role'), 'status');
    assert.equal(await stack.getAttribute('aria-live'), 'polite');
    const save = () => page.getByRole('button', { name: 'Save', exact: true }).click();
    const saved = page.locator('.toast', { hasText: 'Preference center saved.' });

    // Gone on its own after a few seconds (the pointer stays on the Save button, away from it).
    await save();
    await saved.waitFor();
    const shown = Date.now();
    await saved.waitFor({ state: 'detached', timeout: 10000 });
    const lasted = Date.now() - shown;
    assert.ok(lasted > 3000 && lasted < 8000, 'a toast lasts a few seconds: ' + lasted + ' ms');

    // Dismissed by its button, and by Escape from the keyboard (focus returns to the page).
    await save();
    await saved.getByRole('button', { name: /^Dismiss/ }).click();
    await saved.waitFor({ state: 'detached' });
    await page.mouse.move(0, 0);
    await save();
    await saved.getByRole('button', { name: /^Dismiss/ }).focus();
    await page.keyboard.press('Escape');
    await saved.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');

    // Not carried to the next page.
    await save();
    await saved.waitFor();
    await page.locator('nav a[href="#/"]').click();
    await page.waitForFunction(() => document.querySelector('main:not([aria-busy]) h1')?.textContent === 'Home');
    assert.equal(await page.locator('.toast').count(), 0, 'the previous page\'s toast is gone');

    // A toast about the page being opened is shown there: deleting a template lands on the list.
    const t = await apiCall(page, '/api/templates', 'POST', { name: 'Short-lived', product_ids: [], fields: [{ key: 'x', label: 'X', type: 'text' }] });
    assert.equal(t.status, 201);
    await go(page, '/templates/' + t.body.id);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete template' }).click();
    await page.waitForFunction(() => location.hash === '#/templates' && document.querySelector('main:not([aria-busy]) h1')?.textContent === 'Templates');
    await page.locator('.toast', { hasText: 'Template deleted.' }).waitFor();
    assert.equal(await page.locator('.toast').count(), 1);
    await shot(page, 'admin-toast.png');
    assert.deepEqual(errors, []);
  });

  test('admin: preference-center settings show on the demo account page; customer lookup', async () => {
    const { page, errors } = await admin('/preferences');
    await page.getByRole('button', { name: 'Add size category' }).click();
    const cat = page.locator('fieldset', { hasText: 'Size category' }).last();
    await cat.getByLabel('Label').fill('Ring size');
    await cat.getByLabel('Key').fill('ring');
    await cat.getByLabel(/Sizes/).fill('5, 6, 7');
    await page.getByRole('button', { name: 'Add interest' }).click();
    const interest = page.locator('.card', { hasText: 'Interests' }).locator('.row').last();
    await interest.getByLabel(/label/).fill('Pottery');
    await interest.getByLabel('Key').fill('pottery');
    await page.frameLocator('.preview__frame').getByText('Ring size').waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Preference center saved.').waitFor();
    // A bad key is named beside its control.
    await cat.getByLabel('Key').fill('Bad Key!');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('.errors:not([hidden])').waitFor();
    assert.ok(await cat.locator('.field__error:not([hidden])').count() >= 1);
    await cat.getByLabel('Key').fill('ring');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Preference center saved.').first().waitFor();

    const shop = await newPage();
    await shop.page.goto(`${base()}/demo/account`);
    const ring = shop.page.locator('[data-atelier-preferences]').getByLabel('Ring size');
    await ring.waitFor();
    assert.deepEqual((await ring.locator('option').allTextContents()).slice(1), ['5', '6', '7']);
    await shop.page.locator('[data-atelier-preferences]').getByLabel('Pottery').check();
    await ring.selectOption('6');
    await shop.page.getByRole('button', { name: /save/i }).click();
    await shop.page.waitForFunction(() => /saved/i.test(document.querySelector('[data-atelier-preferences] [data-status]').textContent));

    await page.getByLabel('Customer id').fill('7100000042');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText('Customer 7100000042').waitFor();
    assert.match(await page.locator('main').textContent(), /ring: 6/);
    await shot(page, 'admin-preferences-saved.png');
    assert.deepEqual(errors, []);
    assert.deepEqual(shop.errors, []);
  });

  test('admin: a pinned recommendation comes first in the storefront widget', async () => {
    const { page, errors } = await admin('/recommendations');
    await page.getByLabel('Product being viewed').selectOption({ label: 'Fig candle' });
    await page.getByLabel('Pin a product').fill('apron');
    await page.getByRole('button', { name: 'Add Linen apron' }).first().click();
    await page.locator('.ranked__item', { hasText: 'Linen apron' }).waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Recommendation settings saved.').waitFor();
    await page.getByLabel('Widget', { exact: true }).selectOption('complementary');
    await page.locator('main table', { hasText: 'Linen apron' }).waitFor();
    // The preview frame reloads after each explain; the pinned product leads once it has.
    await until(async () => (await page.frameLocator('.preview__frame').locator('.atelier-r__title').first().textContent({ timeout: 2000 }).catch(() => '')) === 'Linen apron', 'the preview widget leads with the pin');
    await shot(page, 'admin-recommendations-pinned.png');

    const shop = await newPage();
    await shop.page.goto(`${base()}/demo/products/fig-candle`);
    const together = shop.page.locator('[data-atelier-recs][data-intent="complementary"]');
    await together.locator('.atelier-r__title').first().waitFor();
    assert.equal(await together.locator('.atelier-r__title').first().textContent(), 'Linen apron');
    assert.deepEqual(errors, []);
  });

  test('admin: the storefront test’s clicks show in analytics, with a funnel and a period', async () => {
    const { page, errors } = await admin('/analytics');
    const clicks = await page.locator('tr[data-intent="complementary"] [data-clicks]').textContent();
    assert.ok(Number(clicks) >= 1, 'the storefront test clicked a Bought together card: ' + clicks);
    await page.getByLabel('Period').selectOption('7');
    await page.waitForFunction(() => Number(document.querySelector('tr[data-intent="complementary"] [data-clicks]')?.textContent) >= 1);
    assert.ok(await page.locator('.funnel__step').count() === 4);
    await page.getByLabel('Measure').selectOption('impressions');
    await page.locator('svg.chart polyline').first().waitFor({ state: 'attached' });
    await shot(page, 'admin-analytics-clicks.png');
    assert.deepEqual(errors, []);
  });

  test('admin: privacy requests list their state and the export downloads', async () => {
    const body = JSON.stringify({ shop_id: 1, shop_domain: 'atelier-demo.myshopify.com', customer: { id: 7100000042, email: 'x@example.com' }, orders_requested: [], data_request: { id: 99 } });
    const r = await fetch(`${base()}/webhooks`, {
      method: 'POST', body,
      headers: { 'Content-Type': 'application/json', 'X-Shopify-Topic': 'customers/data_request', 'X-Shopify-Shop-Domain': 'atelier-demo.myshopify.com', 'X-Shopify-Webhook-Id': randomUUID(), 'X-Shopify-Event-Id': randomUUID(), 'X-Shopify-API-Version': '2026-10', 'X-Shopify-Hmac-Sha256': createHmac('sha256', DEV_SECRET).update(body).digest('base64') },
    });
    assert.equal(r.status, 200);
    const { page, errors } = await admin('/privacy');
    for (let i = 0; i < 50 && !(await page.getByRole('button', { name: /Download export/ }).count()); i++) {
      await new Promise((res) => setTimeout(res, 200));
      await go(page, '/');
      await go(page, '/privacy');
    }
    await page.getByText('Completed').waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download export/ }).first().click()]);
    const exported = JSON.parse(readFileSync(await dl.path(), 'utf8'));
    assert.equal(exported.customer_id, '7100000042');
    for (const k of ['orders', 'preferences', 'consent_history', 'saved', 'events']) assert.ok(k in exported, k);
    await shot(page, 'admin-privacy.png');
    assert.deepEqual(errors, []);
  });

  test('admin: markup and script in merchant and shopper strings are shown as text', async () => {
    const { page, errors } = await admin('/');
    const t = await apiCall(page, '/api/templates', 'POST', {
      name: XSS, product_ids: ['8100000005'],
      fields: [
        { key: 'note', label: 'Note ' + XSS, type: 'text', help_text: XSS, placeholder: XSS },
        { key: 'pick', label: 'Pick', type: 'select', options: [{ value: 'a', label: XSS }] },
      ],
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    await apiCall(page, '/api/preference-center', 'PUT', { interests: [{ key: 'evil', label: XSS }] });
    const shop = await newPage();
    const name = await placeOrder(shop.page, 'stoneware-mug', async (block) => {
      await block.getByLabel(/^Note/).fill(XSS.slice(0, 60));
    });
    await waitForLine(page, name);
    const visits = [['/templates', XSS], ['/templates/' + t.body.id, 'Note ' + XSS], ['/production', XSS.slice(0, 60)], ['/preferences', null]];
    for (const [route, literal] of visits) {
      await go(page, route);
      if (literal) await page.getByText(literal, { exact: false }).first().waitFor();
      const bad = await page.evaluate(() => ({ xss: window.__xss, imgs: document.querySelectorAll('main img[src="x"], main script:not([src])').length }));
      assert.deepEqual(bad, { xss: undefined, imgs: 0 }, route);
    }
    await go(page, '/templates/' + t.body.id);
    const frame = page.frameLocator('.preview__frame');
    await frame.getByText('Note ' + XSS).first().waitFor();
    assert.equal(await frame.locator('img[src="x"]').count(), 0);
    // The stale-button case: another tab moved the line on; the merchant's click is explained.
    await go(page, '/production');
    const line = await waitForLine(page, name);
    const row = page.locator(`tr[data-line-id="${line.line_item_id}"]`);
    await row.getByRole('button', { name: 'Start production' }).waitFor();
    const moved = await apiCall(page, `/api/orders/${line.order_id}/items/${line.line_item_id}`, 'PATCH', { status: 'in_production' });
    assert.equal(moved.status, 200);
    await row.getByRole('button', { name: 'Start production' }).click();
    await page.getByText('That status change is not possible.').waitFor();
    assert.match(await page.locator('.banner').textContent(), /pending → in production → done/);
    await page.locator(`tr[data-line-id="${line.line_item_id}"]`).getByRole('button', { name: 'Mark done' }).waitFor();
    await shot(page, 'admin-production-409.png');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(errors, []);
    assert.deepEqual(shop.errors, []);
  });

  test('admin: no session token in storage or URLs; /demo/admin tokens only for the stand-in', async () => {
    const { page } = await admin('/');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
    assert.doesNotMatch(stored, /eyJ/);
    const cross = await fetch(`${base()}/demo/admin/session-token`, { method: 'POST' });
    assert.equal(cross.status, 403);
  });
}
