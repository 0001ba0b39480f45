// Recommendation experiments in a real browser: the merchant creates and starts one on the
// admin's Experiments page, the demo storefront's widget follows the arm the shopper is in (a
// control arm hides it), and the admin shows the arm that shopper was counted in. Registered
// after the storefront tests; it stops its experiments, so later tests see the usual lists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';

const DEMO_CUSTOMER = '7100000042';

/** The split as the README states it: SHA-256("ID\nUNIT"), first 8 bytes, mod 10,000. */
function armOf(id, unit, shareA) {
  const d = createHash('sha256').update(id + '\n' + unit).digest();
  return d.readBigUInt64BE(0) % 10000n < BigInt(shareA * 100) ? 'a' : 'b';
}

export function experimentsTests({ base, newPage, artifacts }) {
  async function admin(route) {
    const { page, errors } = await newPage();
    page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) errors.push('CSP: ' + m.text()); });
    await page.goto(`${base()}/demo/admin#${route}`);
    await page.waitForSelector('main:not([aria-busy]) h1');
    return { page, errors };
  }
  const apiCall = (page, p, method = 'GET', body) => page.evaluate(async ([p, method, body]) => {
    const t = await window.shopify.idToken();
    const r = await fetch(p, { method, headers: { Authorization: 'Bearer ' + t, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) };
  }, [p, method, body]);

  /** The related block on a product page, once it has its answer. */
  async function storefrontArm(page) {
    await page.goto(`${base()}/demo/products/fig-candle`);
    const block = page.locator('[data-atelier-recs][data-intent="related"]');
    await page.waitForFunction(() => document.querySelector('[data-atelier-recs][data-intent="related"]')?.dataset.experimentArm);
    return { block, arm: await block.getAttribute('data-experiment-arm') };
  }

  test('experiments: created and started in the admin; a control arm hides the storefront widget; the arm is counted', async () => {
    const { page, errors } = await admin('/');
    await page.locator('nav a[href="#/experiments"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('main:not([aria-busy]) h1')?.textContent === 'Experiments');
    assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), 'Experiments');
    // A bad share is named beside its field.
    await page.getByLabel('Shoppers in arm A (%)').fill('100');
    await page.getByRole('button', { name: 'Create experiment' }).click();
    await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]'));
    assert.equal(await page.getByLabel('Shoppers in arm A (%)').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Name').fill('Similar products vs none');
    await page.getByLabel('Widget').selectOption('related');
    await page.getByLabel('Arm A (baseline)').selectOption('control');
    await page.getByLabel('Arm B').selectOption('personalized');
    await page.getByLabel('Shoppers in arm A (%)').fill('50');
    await page.getByRole('button', { name: 'Create experiment' }).click();
    const card = page.locator('[data-experiment]', { hasText: 'Similar products vs none' });
    await card.waitFor();
    assert.equal(await card.getAttribute('data-state'), 'draft');
    await card.getByRole('button', { name: 'Start Similar products vs none' }).click();
    await page.locator('[data-experiment][data-state="running"]', { hasText: 'Similar products vs none' }).waitFor();
    let id = await page.locator('[data-experiment][data-state="running"]').getAttribute('data-experiment');
    assert.equal(armOf(id, 'c:' + DEMO_CUSTOMER, 50), armOf(id, 'c:' + DEMO_CUSTOMER, 50));

    // The demo customer's arm, as the widget got it, is the split's.
    const shop = await newPage();
    let { block, arm } = await storefrontArm(shop.page);
    assert.equal(arm, armOf(id, 'c:' + DEMO_CUSTOMER, 50));
    if (arm === 'b') {
      await block.locator('.atelier-r__card a').first().waitFor();
      assert.equal(await block.isVisible(), true, 'the personalized arm shows its list');
      // Until the demo customer lands in a control arm: stop it, and run another.
      const stop = page.getByRole('button', { name: 'Stop Similar products vs none' });
      await stop.click();
      await page.getByRole('dialog').getByRole('button', { name: 'Stop' }).click();
      await page.locator('[data-experiment][data-state="stopped"]', { hasText: 'Similar products vs none' }).waitFor();
      for (let i = 0; i < 20 && arm !== 'a'; i++) {
        const made = await apiCall(page, '/api/experiments', 'POST', { name: 'Control check ' + i, intent: 'related', arms: [{ strategy: 'control' }, { strategy: 'personalized' }] });
        assert.equal(made.status, 201);
        id = made.body.id;
        if (armOf(id, 'c:' + DEMO_CUSTOMER, 50) === 'a') {
          assert.equal((await apiCall(page, '/api/experiments/' + id, 'PATCH', { state: 'running' })).status, 200);
          arm = 'a';
        }
      }
      ({ block, arm } = await storefrontArm(shop.page));
    }
    assert.equal(arm, 'a');
    assert.equal(await block.isVisible(), false, 'the control arm hides the widget');
    assert.equal(await block.evaluate((n) => n.hidden), true);
    // The product's other widget (no experiment) still shows.
    await shop.page.locator('[data-atelier-recs][data-intent="complementary"] .atelier-r__card a').first().waitFor();
    await shop.page.screenshot({ path: path.join(artifacts, 'experiment-control-storefront.png'), fullPage: true });

    // The admin counts the demo customer in arm a and says what the figures mean.
    await page.reload();
    await page.waitForSelector('main:not([aria-busy]) h1');
    const running = page.locator(`[data-experiment="${id}"]`);
    await running.locator('[data-results]').waitFor();
    assert.equal((await running.locator('tr[data-arm="a"] [data-exposed]').textContent()).trim(), '1');
    const uplift = await running.locator('[data-uplift="conversion"]').textContent();
    assert.match(uplift, /^Personalized vs No recommendations: /);
    assert.match(uplift, /too early to tell|no conversion figure yet/);
    await page.screenshot({ path: path.join(artifacts, 'admin-experiments.png'), fullPage: true });

    // Stopped from the admin: the widget shows its usual list again (within the server's
    // few-second cache of running experiments, here at once: one instance).
    await running.getByRole('button', { name: /^Stop / }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Stop' }).click();
    await page.locator(`[data-experiment="${id}"][data-state="stopped"]`).waitFor();
    await shop.page.goto(`${base()}/demo/products/fig-candle`);
    await shop.page.locator('[data-atelier-recs][data-intent="related"] .atelier-r__card a').first().waitFor();
    assert.equal(await shop.page.locator('[data-atelier-recs][data-intent="related"]').getAttribute('data-experiment-arm'), null);
    const left = await apiCall(page, '/api/experiments?limit=250');
    assert.equal(left.body.items.filter((e) => e.state === 'running').length, 0);
    assert.deepEqual(errors, []);
    assert.deepEqual(shop.errors, []);
  });
}
