// Atelier's web pixel. It forwards four of Shopify's standard events to APP_URL/pixel/events:
// page_viewed, product_viewed, product_added_to_cart (the product) and checkout_completed (the
// order), with the event's id (Atelier stores each id once) and the visitor's client id, which
// Atelier uses as the storefront session. Nothing about the customer is sent: a logged-in
// shopper's own signals reach Atelier only through signed routes.
//
// Shopify loads the pixel only for visitors who allow analytics (shopify.extension.toml); it
// also stays silent while the privacy state it was given says otherwise, until the visitor's
// choice (visitorConsentCollected) allows analytics.
//
// It writes the client id to the storefront's localStorage (`atelier_sid`), so the theme's
// recommendation widgets report clicks in the same session the checkout is linked to.
//
// No imports: the demo store loads this file as it is.

export const EVENTS = ['page_viewed', 'product_viewed', 'product_added_to_cart', 'checkout_completed'];

/** A client id as a session id: 1–64 of A-Z a-z 0-9 _ - (other characters become _). */
export function sessionOf(clientId) {
	const s = String(clientId || '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
	return s || null;
}

/** The body Atelier receives for one standard event, or null when it carries nothing to send. */
export function toBody(name, event, shop) {
	const client = sessionOf(event && event.clientId);
	if (!client || !event.id || !shop) return null;
	const body = { shop, event_id: String(event.id).slice(0, 128), client_id: client, name };
	const data = event.data || {};
	if (name === 'product_viewed') {
		const product = data.productVariant && data.productVariant.product;
		if (!product || !product.id) return null;
		body.product_id = String(product.id);
	} else if (name === 'product_added_to_cart') {
		const line = data.cartLine;
		const product = line && line.merchandise && line.merchandise.product;
		if (!product || !product.id) return null;
		body.product_id = String(product.id);
	} else if (name === 'checkout_completed') {
		const order = data.checkout && data.checkout.order;
		if (!order || !order.id) return null;
		body.order_id = String(order.id);
	}
	return body;
}

export function createPixel({ analytics, browser, init, settings, customerPrivacy }) {
	const base = String((settings && settings.appUrl) || '').replace(/\/+$/, '');
	const shop = init && init.data && init.data.shop && init.data.shop.myshopifyDomain;
	if (!/^https?:\/\//.test(base) || !shop) return;
	const endpoint = base + '/pixel/events';
	// What the visitor allowed when the page loaded; Shopify only loads the pixel with analytics
	// allowed, so a runtime that reports no state counts as allowed.
	const state = init && init.customerPrivacy;
	let allowed = !state || state.analyticsProcessingAllowed !== false;
	if (customerPrivacy && typeof customerPrivacy.subscribe === 'function') {
		customerPrivacy.subscribe('visitorConsentCollected', (e) => {
			allowed = !!(e && e.customerPrivacy && e.customerPrivacy.analyticsProcessingAllowed);
		});
	}
	let shared = null;
	const share = (session) => {
		if (shared === session || !browser || !browser.localStorage) return;
		shared = session;
		Promise.resolve(browser.localStorage.setItem('atelier_sid', session)).catch(() => {});
	};
	const send = (body) => {
		// `fetch` with `keepalive` (what Shopify recommends over the deprecated sendBeacon): a
		// string body is sent as text/plain, so the browser needs no preflight.
		const request = fetch(endpoint, { method: 'POST', body: JSON.stringify(body), keepalive: true });
		return Promise.resolve(request).catch(() => {});
	};
	for (const name of EVENTS) {
		analytics.subscribe(name, (event) => {
			if (!allowed) return;
			const body = toBody(name, event, shop);
			if (!body) return;
			share(body.client_id);
			return send(body);
		});
	}
}
