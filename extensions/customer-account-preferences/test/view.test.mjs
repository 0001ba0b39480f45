// The extension's markup, rendered to a string with Shopify's globals stubbed: Shopify's
// customer account web components, labelled, with the stored values selected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h } from 'preact';
import { render } from 'preact-render-to-string';
import { formOf } from '../src/model.js';
import { center, importJsx, preferences, stubShopify, t, wishlist } from './helpers.mjs';

const noop = { size() {}, interests() {}, set() {}, save() {}, remove() {} };

test('the preference center shows every section and the wishlist', async () => {
	const { PreferenceCenter } = await importJsx('src/view.jsx');
	const html = render(h(PreferenceCenter, { form: formOf(preferences, center), wishlist: wishlist.items, shop: 'demo.myshopify.com', t, on: noop }));
	assert.match(html, /<s-section heading="Your preferences">/);
	assert.match(html, /<s-select name="sizes.tops" label="Tops" value="XXL" error="No longer offered">/);
	assert.match(html, /<s-option value="XXL">XXL<\/s-option>/);
	assert.match(html, /<s-choice-list name="interests" label="Interests" multiple/);
	assert.match(html, /<s-choice value="vintage">vintage \(No longer offered\)<\/s-choice>/);
	assert.match(html, /<s-checkbox name="communication.email" label="Email" checked/);
	assert.match(html, /<s-date-field name="communication.pause_until" label="Pause messages until" value="2027-01-15"/);
	assert.match(html, /<s-checkbox name="consent.personalization" label="Use my history to recommend products." checked/);
	assert.doesNotMatch(html, /name="consent.marketing"[^>]*checked/);
	assert.match(html, /<s-link href="https:\/\/demo.myshopify.com\/products\/fig-candle">Fig candle<\/s-link>/);
	assert.match(html, /accessibilityLabel="Remove Fig candle from your wishlist"/);
	assert.match(html, /No longer available/, 'a deleted product stays listed, without details');
});

test('a 422 shows beside the field it names', async () => {
	const { PreferenceCenter } = await importJsx('src/view.jsx');
	const html = render(h(PreferenceCenter, { form: formOf(preferences, center), errors: { 'sizes.shoes': 'The store does not offer size 39 in Shoes' }, status: 'failed', wishlist: [], t, on: noop }));
	assert.match(html, /name="sizes.shoes" label="Shoes \(EU\)" value="39" error="The store does not offer size 39 in Shoes"/);
	assert.match(html, /<s-banner tone="critical">Your preferences could not be saved.<\/s-banner>/);
	assert.match(html, /Your wishlist is empty./);
});

test('the entry point renders with Shopify globals and asks nothing before its effect runs', async () => {
	const calls = stubShopify();
	const mod = await importJsx('src/ProfileBlock.jsx');
	assert.equal(typeof mod.default, 'function', 'the module Shopify loads exports its render function');
	const html = render(h(mod.Extension, {}));
	assert.match(html, /Loading your preferences/);
	assert.equal(calls.tokens, 0);
});
