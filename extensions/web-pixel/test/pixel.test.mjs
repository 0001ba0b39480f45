// The pixel under Node with Shopify's web pixel API stubbed: which events it sends, in what
// shape, through which browser API, and that it stays silent without analytics consent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPixel, toBody, sessionOf, EVENTS } from '../src/pixel.js';

const SHOP = 'demo-shop.myshopify.com';

function harness({ privacy = { analyticsProcessingAllowed: true }, appUrl = 'https://app.example/' } = {}) {
	const subscribers = {};
	const consent = [];
	const storage = new Map();
	const sent = [];
	globalThis.fetch = async (url, init) => {
		sent.push({ url, init, body: JSON.parse(init.body) });
		return { ok: true, status: 204 };
	};
	createPixel({
		analytics: { subscribe: (name, cb) => { (subscribers[name] ||= []).push(cb); return () => true; } },
		browser: {
			localStorage: { setItem: async (k, v) => storage.set(k, v), getItem: async (k) => storage.get(k) ?? null },
			sendBeacon: async () => { throw new Error('sendBeacon is deprecated: fetch with keepalive'); },
		},
		init: { data: { shop: { myshopifyDomain: SHOP }, customer: { id: '42', email: 'anna@example.com' } }, customerPrivacy: privacy },
		settings: { appUrl },
		customerPrivacy: { subscribe: (name, cb) => consent.push([name, cb]) },
	});
	const publish = async (name, event) => {
		for (const cb of subscribers[name] || []) await cb(event);
	};
	return { subscribers, consent, storage, sent, publish };
}

const base = { clientId: 'c0ffee00-1111-4222-8333-444455556666', timestamp: '2026-12-01T10:00:00.000Z', type: 'standard', context: {} };

test('subscribes to the four standard events', () => {
	const h = harness();
	assert.deepEqual(Object.keys(h.subscribers).sort(), [...EVENTS].sort());
});

test('each event arrives in the shape the route takes, with fetch keepalive', async () => {
	const h = harness();
	await h.publish('page_viewed', { ...base, id: 'sh-1', name: 'page_viewed', data: {} });
	await h.publish('product_viewed', { ...base, id: 'sh-2', name: 'product_viewed', data: { productVariant: { id: '11', product: { id: '101', title: 'Ring' } } } });
	await h.publish('product_added_to_cart', { ...base, id: 'sh-3', name: 'product_added_to_cart', data: { cartLine: { quantity: 2, merchandise: { id: '11', product: { id: '101' } } } } });
	await h.publish('checkout_completed', { ...base, id: 'sh-4', name: 'checkout_completed', data: { checkout: { token: 't', order: { id: '9001' } } } });
	assert.equal(h.sent.length, 4);
	for (const s of h.sent) {
		assert.equal(s.url, 'https://app.example/pixel/events');
		assert.equal(s.init.method, 'POST');
		assert.equal(s.init.keepalive, true);
		assert.equal(typeof s.init.body, 'string', 'a string body: text/plain, no preflight');
		assert.equal(s.init.headers, undefined);
	}
	const client_id = base.clientId;
	assert.deepEqual(h.sent.map((s) => s.body), [
		{ shop: SHOP, event_id: 'sh-1', client_id, name: 'page_viewed' },
		{ shop: SHOP, event_id: 'sh-2', client_id, name: 'product_viewed', product_id: '101' },
		{ shop: SHOP, event_id: 'sh-3', client_id, name: 'product_added_to_cart', product_id: '101' },
		{ shop: SHOP, event_id: 'sh-4', client_id, name: 'checkout_completed', order_id: '9001' },
	]);
	// Nothing about the customer leaves the pixel.
	assert.ok(h.sent.every((s) => !JSON.stringify(s.body).includes('anna') && !('customer_id' in s.body)));
	// The theme's widgets get the same session.
	assert.equal(h.storage.get('atelier_sid'), client_id);
});

test('nothing is sent while analytics is not allowed, until the visitor allows it', async () => {
	const h = harness({ privacy: { analyticsProcessingAllowed: false, marketingAllowed: false } });
	const view = { ...base, id: 'sh-9', data: { productVariant: { product: { id: '5' } } } };
	await h.publish('product_viewed', view);
	await h.publish('page_viewed', { ...base, id: 'sh-10', data: {} });
	assert.equal(h.sent.length, 0);
	assert.equal(h.storage.size, 0, 'not even the shared session');
	const [[name, onConsent]] = h.consent;
	assert.equal(name, 'visitorConsentCollected');
	onConsent({ customerPrivacy: { analyticsProcessingAllowed: true } });
	await h.publish('product_viewed', { ...view, id: 'sh-11' });
	assert.equal(h.sent.length, 1);
	onConsent({ customerPrivacy: { analyticsProcessingAllowed: false } });
	await h.publish('product_viewed', { ...view, id: 'sh-12' });
	assert.equal(h.sent.length, 1, 'a withdrawal stops it again');
});

test('events without what they need, or a pixel without settings, send nothing', async () => {
	const h = harness();
	await h.publish('product_viewed', { ...base, id: 'sh-1', data: {} });
	await h.publish('product_added_to_cart', { ...base, id: 'sh-2', data: { cartLine: null } });
	await h.publish('checkout_completed', { ...base, id: 'sh-3', data: { checkout: { order: { id: null } } } });
	await h.publish('page_viewed', { ...base, id: undefined, data: {} });
	assert.equal(h.sent.length, 0);
	const none = harness({ appUrl: '' });
	assert.deepEqual(Object.keys(none.subscribers), [], 'no appUrl: no subscriptions at all');
});

test('client ids become valid sessions', () => {
	assert.equal(sessionOf('abc-DEF_123'), 'abc-DEF_123');
	assert.equal(sessionOf('a.b:c'), 'a_b_c');
	assert.equal(sessionOf('x'.repeat(100)).length, 64);
	assert.equal(sessionOf(''), null);
	assert.equal(toBody('page_viewed', { id: 'e', clientId: '' }, SHOP), null);
});
