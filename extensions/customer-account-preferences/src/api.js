// Atelier's customer account routes, called with the extension's session token (a fresh one
// for every request: Shopify caches it and renews it before it expires).

export class ApiError extends Error {
	constructor(status, body) {
		super((body && body.error && body.error.message) || 'HTTP ' + status);
		this.status = status;
		this.body = body;
		this.code = body && body.error && body.error.code;
	}
}

export function createClient({ appUrl, sessionToken, fetch: fetchImpl = globalThis.fetch }) {
	const base = String(appUrl).replace(/\/+$/, '') + '/customer-account';
	async function call(method, path, body) {
		const token = await sessionToken.get();
		const headers = { Accept: 'application/json', Authorization: 'Bearer ' + token };
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		const resp = await fetchImpl(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
		const text = resp.status === 204 ? '' : await resp.text();
		let json = null;
		try { json = text ? JSON.parse(text) : null; } catch { json = null; }
		if (!resp.ok) throw new ApiError(resp.status, json);
		return json;
	}
	return {
		/** The shop's preference center, the shopper's preferences and wishlist, at once. */
		async load() {
			const [center, preferences, wishlist] = await Promise.all([
				call('GET', '/preference-center'),
				call('GET', '/preferences'),
				call('GET', '/wishlist'),
			]);
			return { center, preferences, wishlist: (wishlist && wishlist.items) || [] };
		},
		save: (body) => call('PUT', '/preferences', body),
		removeFromWishlist: (productId) => call('DELETE', '/wishlist/' + encodeURIComponent(productId)),
	};
}

/** The shop's domain, from the token's `dest` (for links to its product pages). */
export function shopOf(token) {
	try {
		const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		const dest = JSON.parse(atob(part)).dest || '';
		return dest.replace(/^https:\/\//, '').replace(/\/$/, '') || null;
	} catch {
		return null;
	}
}
