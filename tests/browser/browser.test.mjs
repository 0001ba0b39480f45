// The theme extension in a real browser: headless Chromium (Debian's `chromium`) driven by
// playwright-core, against the demo storefront of a freshly started `atelier` binary
// (development mode, its own SQLite file). Screenshots go to artifacts/browser/.
//
//   cargo build && (cd tests/browser && npm ci && npm test)
//   ATELIER_BIN=target/release/atelier CHROMIUM=/usr/bin/chromium npm test
//   BROWSER_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test npm test   # on PostgreSQL
//
// With BROWSER_POSTGRES_URL the binary runs on a fresh PostgreSQL database created for the run
// (with psql, on that server) and dropped afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { adminTests } from './admin.mjs';
import { collectionTests } from './collections.mjs';
import { engagementTests } from './engagement.mjs';
import { experimentsTests } from './experiments.mjs';
import { intentsTests } from './intents.mjs';
import { pixelTests } from './pixel.mjs';
import { quizTests } from './quiz.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(repo, 'artifacts/browser');
let server, browser, base, dir, pgDatabase;

/** `sql` on the server of BROWSER_POSTGRES_URL (through psql). */
function psql(sql) {
  const r = spawnSync('psql', [process.env.BROWSER_POSTGRES_URL, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('psql: ' + (r.stderr || r.error));
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'atelier-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const bin = path.resolve(repo, process.env.ATELIER_BIN || 'target/debug/atelier');
  let databaseUrl = `sqlite://${path.join(dir, 'demo.db')}`;
  if (process.env.BROWSER_POSTGRES_URL) {
    pgDatabase = 'atelier_browser_' + process.pid + '_' + Date.now();
    psql(`CREATE DATABASE ${pgDatabase}`);
    const u = new URL(process.env.BROWSER_POSTGRES_URL);
    u.pathname = '/' + pgDatabase;
    databaseUrl = u.toString();
  }
  server = spawn(bin, ['serve'], {
    env: {
      PATH: process.env.PATH,
      ATELIER_ENV: 'development',
      DATABASE_URL: databaseUrl,
      BIND_ADDR: `127.0.0.1:${port}`,
      APP_URL: base,
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (pgDatabase) psql(`DROP DATABASE IF EXISTS ${pgDatabase}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

/** A small real PNG (solid colour), built by hand: no image library needed. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x80)]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const cart = (page) => page.evaluate(() => fetch('/demo/cart.js').then((r) => r.json()));

test('ring: every rule shows inline, the price follows, the cart gets signed properties and checkout charges the add-on', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/demo/products/engraved-ring`);
  const block = page.locator('[data-atelier-personalizer]');
  await block.getByLabel('Engraving').waitFor();
  assert.equal(await block.getByLabel('Karat').isVisible(), false, 'karat only shows for gold');

  // Submitting with a required field empty: the server's error, inline and tied to the field.
  await page.getByRole('button', { name: 'Add to cart' }).click();
  const engraving = block.getByLabel('Engraving');
  await page.waitForSelector('[aria-invalid="true"]');
  const describedBy = await engraving.getAttribute('aria-describedby');
  const message = await page.locator(`#${describedBy.split(' ')[0]}`).textContent();
  assert.match(message, /required/i);
  await page.screenshot({ path: path.join(artifacts, 'ring-errors.png') });

  // A character the engraving machine cannot cut, and a blocked word.
  await engraving.fill('For Anna ❤️');
  await block.getByLabel('Metal').selectOption('silver');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForFunction(() => /cannot contain/.test(document.querySelector('[data-atelier-personalizer] .atelier-p__error')?.textContent || ''));

  await engraving.fill('Forever, A & J');
  await block.getByLabel('Metal').selectOption('gold');
  await block.getByLabel('Karat').waitFor({ state: 'visible' });
  await block.getByLabel('Karat').selectOption('18');
  await block.getByLabel('Wedding date').fill('2026-06-20');
  await block.getByLabel(/Gift box/).check();
  // 15.00 engraving + 40.00 gold + 25.00 18k + 5.00 gift box.
  await page.waitForFunction(() => document.querySelector('[data-price]').textContent.includes('$85.00'));
  // Editing a field clears its error; the live preview draws the text over the product image.
  assert.equal(await engraving.getAttribute('aria-invalid'), null);
  await page.waitForFunction(() => {
    const o = document.querySelector('.product__media .atelier-preview');
    return o && o.complete && o.naturalWidth > 0 && decodeURIComponent(o.src).includes('Forever, A & J');
  });
  const svg = await page.evaluate(() => fetch(document.querySelector('.atelier-preview').src).then((r) => r.text()));
  assert.match(svg, /<text[^>]*font-family="Georgia"[^>]*>Forever, A &amp; J<\/text>/);
  await page.screenshot({ path: path.join(artifacts, 'ring-filled.png') });

  await Promise.all([page.waitForURL('**/demo/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
  const c = await cart(page);
  const ring = c.items.find((i) => i.properties._atelier);
  assert.ok(ring, JSON.stringify(c));
  assert.equal(ring.properties.Engraving, 'Forever, A & J');
  assert.equal(ring.properties.Metal, 'Gold');
  assert.equal(ring.properties.Karat, '18k');
  assert.equal(ring.properties['Gift box'], 'Yes');
  assert.match(ring.properties._atelier, /^v1\.[^.]+\.1\.8500\.[A-Za-z0-9_-]{43}$/);
  // The demo store runs Atelier's Cart Transform function: no fee line in the cart, the add-on
  // is part of the ring's line at checkout.
  assert.equal(c.items.find((i) => i.properties._atelier_fee), undefined, 'no fee line');
  assert.equal(c.items.length, 1);
  // The signature is the one Atelier gives for exactly these values (HMAC, deterministic).
  const again = await page.evaluate(async () => {
    const r = await fetch('/apps/atelier/products/8100000001/personalize', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ values: { engraving: 'Forever, A & J', metal: 'gold', karat: '18', wedding_date: '2026-06-20', gift_box: true } }),
    });
    return r.json();
  });
  assert.equal(again.signature, ring.properties._atelier);
  // The cart page lists the visible properties, not the hidden ones.
  const text = await page.locator('.cart-lines').textContent();
  assert.match(text, /Engraving: Forever, A & J/);
  assert.doesNotMatch(text, /_atelier/);
  // …and what checkout charges: the function's expansion, the ring at its price and the add-on
  // component at the signed $85.00, the total checkout's.
  const components = page.getByRole('list', { name: 'Charged at checkout' });
  const product = components.locator('[data-component="product"]');
  const addOn = components.locator('[data-component="add-on"]');
  assert.equal(await product.getAttribute('data-unit-cents'), String(ring.price));
  assert.equal(await addOn.getAttribute('data-unit-cents'), '8500');
  assert.match(await addOn.textContent(), /Personalization add-on — \$85\.00 × 1/);
  assert.equal(await page.locator('[data-cart-total]').getAttribute('data-cents'), String(ring.price + 8500));
  await page.screenshot({ path: path.join(artifacts, 'ring-cart.png') });
  assert.deepEqual(errors, []);
});

test('tote: textarea, swatch, number and an uploaded photo, keyboard only', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/demo/products/custom-tote`);
  await page.evaluate(() => fetch('/demo/cart/clear.js', { method: 'POST' }));
  const block = page.locator('[data-atelier-personalizer]');
  await block.getByLabel('Message').waitFor();
  // "Buy it now" would skip the required fields: hidden.
  assert.equal(await page.locator('[data-buy-now]').isVisible(), false);

  // Keyboard only: focus the message and type, tab to the swatches, pick with the arrow keys.
  await block.getByLabel('Message').focus();
  await page.keyboard.type('Hello\nworld');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.type + ':' + document.activeElement.value);
  assert.equal(focused, 'radio:navy', 'Tab moves to the first swatch');
  await page.keyboard.press('ArrowRight'); // red
  await page.keyboard.press('ArrowRight'); // gold (+3.00)
  await page.keyboard.press('Tab');
  await page.keyboard.type('25');
  assert.equal(await block.getByRole('radio', { name: 'Gold' }).isChecked(), true, 'swatches have text names');
  // A file that lies about being a PNG is refused, inline.
  await block.getByLabel('Photo').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from('<svg onload=alert(1)>') });
  await page.waitForFunction(() => /not a PNG, JPEG or WebP/.test(document.querySelector('.atelier-p__field--image .atelier-p__error').textContent));
  await block.getByLabel('Photo').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(40, 30) });
  // 3.00 gold thread + 8.00 photo, once the upload is done.
  await page.waitForFunction(() => document.querySelector('[data-price]').textContent.includes('$11.00'));
  await page.screenshot({ path: path.join(artifacts, 'tote-filled.png') });

  await page.getByRole('button', { name: 'Add to cart' }).focus();
  await Promise.all([page.waitForURL('**/demo/cart'), page.keyboard.press('Enter')]);
  const c = await cart(page);
  const tote = c.items.find((i) => i.properties._atelier);
  assert.equal(tote.properties.Message, 'Hello\nworld');
  assert.equal(tote.properties['Thread color'], 'Gold');
  assert.equal(tote.properties['Letter size (mm)'], '25');
  assert.match(tote.properties.Photo, new RegExp(`^${base}/uploads/up_`));
  const image = await page.evaluate((u) => fetch(u).then((r) => r.headers.get('content-type')), tote.properties.Photo);
  assert.equal(image, 'image/png');
  assert.equal(c.items.find((i) => i.properties._atelier_fee), undefined, 'charged at checkout, no fee line');
  const addOn = page.getByRole('list', { name: 'Charged at checkout' }).locator('[data-component="add-on"]');
  assert.equal(await addOn.getAttribute('data-unit-cents'), '1100');
  assert.deepEqual(errors, []);
});

test('a product without a template shows no personalizer and adds normally', async () => {
  const { page } = await newPage();
  await page.goto(`${base}/demo/products/fig-candle`);
  await page.waitForFunction(() => document.querySelector('[data-atelier-personalizer]').hidden === true);
  await Promise.all([page.waitForURL('**/demo/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
  const c = await cart(page);
  assert.equal(c.items.length, 1);
  assert.deepEqual(c.items[0].properties, {});
});

test('preference center: saves, reloads, names a bad value, and greets a logged-out visitor', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/demo/account`);
  const form = page.locator('[data-atelier-preferences]');
  await form.getByLabel('Tops').waitFor();
  await form.getByLabel('Tops').selectOption('M');
  await form.getByLabel('Shoes (EU)').selectOption('42');
  await form.getByLabel('Gifts').check();
  await form.getByLabel('Sale').check();
  await form.getByLabel('Email', { exact: true }).check();
  await form.getByLabel('How often').selectOption('monthly');
  await form.getByLabel(/recommend products to me/).check();
  await form.getByRole('button', { name: 'Save preferences' }).click();
  await page.waitForFunction(() => /saved/.test(document.querySelector('[data-atelier-preferences] [data-status]').textContent));
  await page.screenshot({ path: path.join(artifacts, 'preferences-saved.png') });

  await page.reload();
  await form.getByLabel('Tops').waitFor();
  assert.equal(await form.getByLabel('Tops').inputValue(), 'M');
  assert.equal(await form.getByLabel('Shoes (EU)').inputValue(), '42');
  assert.equal(await form.getByLabel('Gifts').isChecked(), true);
  assert.equal(await form.getByLabel('Bestsellers').isChecked(), false);
  assert.equal(await form.getByLabel('How often').inputValue(), 'monthly');
  assert.equal(await form.getByLabel(/recommend products to me/).isChecked(), true);
  const stored = await page.evaluate(() => fetch('/apps/atelier/preferences').then((r) => r.json()));
  assert.deepEqual(stored.sizes, { tops: 'M', shoes: '42' });
  assert.deepEqual([...stored.interests].sort(), ['gifts', 'sale']);
  assert.equal(stored.consent.personalization, true);

  // A size the store does not offer (sent by a tampered page) is named next to its field.
  await form.getByLabel('Tops').evaluate((s) => s.add(new Option('XXXL', 'XXXL', true, true)));
  await form.getByRole('button', { name: 'Save preferences' }).click();
  await page.waitForFunction(() => {
    const sel = [...document.querySelectorAll('[data-atelier-preferences] select')].find((s) => s.name === 'sizes.tops');
    return document.getElementById(sel.getAttribute('aria-describedby')).textContent.length > 0;
  });

  await page.goto(`${base}/demo/logout`);
  await page.waitForURL('**/demo/account');
  assert.match(await page.locator('.atelier-pc__login').textContent(), /Log in to choose your sizes/);
  await page.goto(`${base}/demo/login`);
  assert.deepEqual(errors, []);
});

/** A session token as Shopify's App Bridge would make one for the demo shop (dev credentials). */
async function sessionToken() {
  const { createHmac, randomUUID } = await import('node:crypto');
  const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const shop = 'https://atelier-demo.myshopify.com';
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: `${shop}/admin`, dest: shop, aud: 'atelier-dev-api-key', sub: '1', exp: now + 60, nbf: now - 5, iat: now, jti: randomUUID(), sid: randomUUID(),
  })}`;
  const mac = createHmac('sha256', 'atelier-dev-api-secret-do-not-use-in-production').update(body).digest('base64url');
  return `${body}.${mac}`;
}

test('recommendations render as cards, report impressions, and a click is counted', async () => {
  const { page, errors } = await newPage();
  const analytics = async () => {
    const r = await fetch(`${base}/api/analytics`, { headers: { Authorization: `Bearer ${await sessionToken()}` } });
    assert.equal(r.status, 200);
    return (await r.json()).intents;
  };
  const before = (await analytics()).complementary || { impressions: 0, clicks: 0 };
  await page.goto(`${base}/demo/products/fig-candle`);
  const together = page.locator('[data-atelier-recs][data-intent="complementary"]');
  await together.locator('.atelier-r__card a').first().waitFor();
  const titles = await together.locator('.atelier-r__title').allTextContents();
  // Seeded orders put the candle with the mug and the scarf.
  assert.ok(titles.includes('Stoneware mug'), titles.join(', '));
  assert.ok(!titles.includes('Fig candle'), 'never the product being viewed');
  assert.ok(!titles.includes('Personalization'), 'never the fee product');
  await together.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, 'recommendations.png'), fullPage: true });
  // Impressions are sent once the list is seen.
  for (let i = 0; i < 50; i++) {
    const now = (await analytics()).complementary;
    if (now && now.impressions >= before.impressions + titles.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all([page.waitForURL('**/demo/products/stoneware-mug'), together.getByText('Stoneware mug').click()]);
  let after;
  for (let i = 0; i < 50; i++) {
    after = (await analytics()).complementary;
    if (after && after.clicks > before.clicks) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(after.clicks, before.clicks + 1);
  assert.ok(after.impressions >= before.impressions + titles.length, JSON.stringify(after));
  assert.deepEqual(errors, []);
});

test('wishlist: hearts by keyboard while anonymous, merged on login, listed and removed on the account page', async () => {
  const { page, errors } = await newPage();
  await page.goto(`${base}/demo/logout`);
  await page.goto(`${base}/demo/products/fig-candle`);
  const heart = page.getByRole('button', { name: 'Add to wishlist', exact: true });
  await heart.waitFor();
  await page.waitForFunction(() => window.atelierWishlist);
  assert.equal(await heart.getAttribute('aria-pressed'), 'false');
  // Keyboard only: focus and Space, then Enter on a card's heart.
  await heart.focus();
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.querySelector('.atelier-w [data-atelier-heart]').getAttribute('aria-pressed') === 'true');
  const mugHeart = page.locator('[data-atelier-recs][data-intent="complementary"]').getByRole('button', { name: 'Add Stoneware mug to wishlist' });
  await mugHeart.waitFor();
  await mugHeart.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-atelier-recs] [data-atelier-heart]')].some((b) => b.dataset.title === 'Stoneware mug' && b.getAttribute('aria-pressed') === 'true'));
  assert.match(await page.locator('.atelier-w__live').textContent(), /Stoneware mug was added/);
  const local = await page.evaluate(() => JSON.parse(localStorage.getItem('atelier_wishlist')));
  assert.equal(local.length, 2);
  // Nothing reached the server: the visitor is anonymous.
  const anon = await page.evaluate(() => fetch('/apps/atelier/wishlist').then((r) => r.status));
  assert.equal(anon, 401);
  await page.reload();
  await page.waitForFunction(() => document.querySelector('.atelier-w [data-atelier-heart]').getAttribute('aria-pressed') === 'true');
  await page.screenshot({ path: path.join(artifacts, 'wishlist-heart.png') });

  // Logging in merges the browser's list into the account, then forgets it here.
  await page.goto(`${base}/demo/login`);
  await page.waitForURL('**/demo/account');
  const list = page.locator('[data-atelier-wishlist-list]');
  await list.getByRole('link', { name: 'Fig candle' }).waitFor();
  await list.getByRole('link', { name: 'Stoneware mug' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('atelier_wishlist')), null);
  await list.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, 'wishlist-account.png'), fullPage: true });
  await list.getByRole('button', { name: 'Remove Fig candle from wishlist' }).click();
  await page.waitForFunction(() => !/Fig candle/.test(document.querySelector('[data-atelier-wishlist-list] [data-items]').textContent));
  const stored = await page.evaluate(() => fetch('/apps/atelier/wishlist').then((r) => r.json()));
  assert.deepEqual(stored.items.map((i) => i.title), ['Stoneware mug']);
  // The preference center gains a "pause until" date for follow-up messages.
  const form = page.locator('[data-atelier-preferences]');
  await form.getByLabel('Pause messages until').fill('2030-01-15');
  await form.getByRole('button', { name: 'Save preferences' }).click();
  await page.waitForFunction(() => /saved/.test(document.querySelector('[data-atelier-preferences] [data-status]').textContent));
  const prefs = await page.evaluate(() => fetch('/apps/atelier/preferences').then((r) => r.json()));
  assert.equal(prefs.communication.pause_until, '2030-01-15');

  // Logged in, the heart writes to the account.
  await page.goto(`${base}/demo/products/fig-candle`);
  await page.waitForFunction(() => window.atelierWishlist);
  const again = page.getByRole('button', { name: 'Add to wishlist', exact: true });
  await page.waitForFunction(() => document.querySelector('.atelier-w [data-atelier-heart]').getAttribute('aria-pressed') === 'false');
  await again.click();
  await page.waitForFunction(() => document.querySelector('.atelier-w [data-atelier-heart]').getAttribute('aria-pressed') === 'true');
  const after = await page.evaluate(() => fetch('/apps/atelier/wishlist').then((r) => r.json()));
  assert.deepEqual(after.items.map((i) => i.title).sort(), ['Fig candle', 'Stoneware mug']);
  assert.deepEqual(errors, []);
});

// The merchant's admin, on the same server: after the storefront tests, whose clicks it reads.
adminTests({ base: () => base, newPage, artifacts, png });
engagementTests({ base: () => base, newPage, artifacts });
pixelTests({ base: () => base, newPage, artifacts, sessionToken });
quizTests({ base: () => base, newPage, artifacts });
collectionTests({ base: () => base, newPage, artifacts });
experimentsTests({ base: () => base, newPage, artifacts });
// Last: its views and carts teach the model what the tests above do not expect.
intentsTests({ base: () => base, newPage, artifacts });
