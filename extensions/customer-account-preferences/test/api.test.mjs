import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, shopOf } from '../src/api.js';
import { center, preferences, wishlist } from './helpers.mjs';

function fakeFetch(routes) {
	const calls = [];
	const fetch = async (url, init) => {
		calls.push({ url, ...init });
		const key = `${init.method} ${new URL(url).pathname}`;
		const [status, body] = routes[key] || [404, { error: { code: 'not_found', message: 'No such route.' } }];
		return { ok: status >= 200 && status < 300, status, text: async () => (body === undefined ? '' : JSON.stringify(body)) };
	};
	return { fetch, calls };
}

let tokens = 0;
const sessionToken = { get: async () => `token-${++tokens}` };

test('loads the center, the preferences and the wishlist with a fresh bearer token each', async () => {
	const f = fakeFetch({
		'GET /customer-account/preference-center': [200, center],
		'GET /customer-account/preferences': [200, preferences],
		'GET /customer-account/wishlist': [200, wishlist],
	});
	const client = createClient({ appUrl: 'https://app.example/', sessionToken, fetch: f.fetch });
	const d = await client.load();
	assert.deepEqual(d, { center, preferences, wishlist: wishlist.items });
	assert.equal(f.calls.length, 3);
	const auth = f.calls.map((c) => c.headers.Authorization);
	assert.ok(auth.every((a) => /^Bearer token-\d+$/.test(a)));
	assert.equal(new Set(auth).size, 3, 'one token per request');
	assert.ok(f.calls.every((c) => c.url.startsWith('https://app.example/customer-account/')));
});

test('saves with PUT and JSON, and surfaces the error JSON', async () => {
	const f = fakeFetch({
		'PUT /customer-account/preferences': [422, { error: { code: 'validation_failed', message: 'Some values are not valid.' }, errors: [{ field: 'sizes.tops' }] }],
		'DELETE /customer-account/wishlist/555': [204, undefined],
		'GET /customer-account/preference-center': [401, { error: { code: 'not_logged_in', message: 'Log in.' } }],
		'GET /customer-account/preferences': [401, { error: { code: 'not_logged_in', message: 'Log in.' } }],
		'GET /customer-account/wishlist': [401, { error: { code: 'not_logged_in', message: 'Log in.' } }],
	});
	const client = createClient({ appUrl: 'https://app.example', sessionToken, fetch: f.fetch });
	await assert.rejects(client.save({ sizes: { tops: 'Q' } }), (e) => e.status === 422 && e.body.errors[0].field === 'sizes.tops');
	const put = f.calls[0];
	assert.equal(put.method, 'PUT');
	assert.equal(put.headers['Content-Type'], 'application/json');
	assert.deepEqual(JSON.parse(put.body), { sizes: { tops: 'Q' } });
	assert.equal(await client.removeFromWishlist('555'), null);
	assert.equal(f.calls[1].method, 'DELETE');
	await assert.rejects(client.load(), (e) => e.code === 'not_logged_in');
});

test('the shop for product links comes from the token', () => {
	const payload = Buffer.from(JSON.stringify({ dest: 'https://demo.myshopify.com' })).toString('base64url');
	assert.equal(shopOf(`h.${payload}.s`), 'demo.myshopify.com');
	assert.equal(shopOf('garbage'), null);
});
