// Demo store only: a small stand-in for what Shopify runs on every storefront page, so the app's
// own code behaves here as on a store.
// - The Customer Privacy API (window.Shopify.customerPrivacy): analytics allowed unless the
//   visitor declines with the header's button; a change dispatches visitorConsentCollected.
// - The web pixel runtime: once analytics is allowed it loads the app's pixel extension
//   (extensions/web-pixel/src/pixel.js, served as it is) and feeds it Shopify's standard events:
//   page_viewed, product_viewed, product_added_to_cart (the theme's /cart/add calls) and
//   checkout_completed (the thank-you page).
(() => {
	const CHOICE = 'atelier_demo_analytics';
	const CLIENT = 'atelier_demo_client_id';
	const read = (k) => { try { return localStorage.getItem(k); } catch { return null; } };
	const write = (k, v) => { try { localStorage.setItem(k, v); } catch { /* private mode */ } };
	const analytics = () => read(CHOICE) !== 'declined';
	const page = (() => {
		const n = document.getElementById('atelier-demo-page');
		try { return n ? JSON.parse(n.textContent) : {}; } catch { return {}; }
	})();

	const Shopify = (window.Shopify = window.Shopify || {});
	Shopify.customerPrivacy = {
		analyticsProcessingAllowed: analytics,
		marketingAllowed: () => false,
		preferencesProcessingAllowed: () => true,
		saleOfDataAllowed: () => false,
		setTrackingConsent(consent, done) {
			write(CHOICE, consent && consent.analytics ? 'granted' : 'declined');
			const detail = { analyticsAllowed: analytics(), marketingAllowed: false, preferencesAllowed: true, saleOfDataAllowed: false };
			document.dispatchEvent(new CustomEvent('visitorConsentCollected', { detail }));
			if (done) done();
		},
	};

	// The pixel runtime.
	const subscribers = {};
	const privacyListeners = [];
	const queue = [];
	let loaded = null;
	const clientId = () => {
		let id = read(CLIENT);
		if (!id) write(CLIENT, (id = crypto.randomUUID()));
		return id;
	};
	const publish = (name, data) => {
		const event = { id: 'demo-' + crypto.randomUUID(), clientId: clientId(), name, type: 'standard', timestamp: new Date().toISOString(), seq: 0, context: { document: { location: { href: location.href } } }, data };
		if (!loaded) return void queue.push(event);
		for (const cb of subscribers[name] || []) cb(event);
	};
	const load = () => {
		if (loaded || !analytics()) return;
		loaded = import('/demo/pixel/pixel.js').then(({ createPixel }) => {
			createPixel({
				analytics: { subscribe: (name, cb) => { (subscribers[name] = subscribers[name] || []).push(cb); return () => true; } },
				browser: {
					localStorage: { getItem: async (k) => read(k), setItem: async (k, v) => write(k, v), removeItem: async (k) => { try { localStorage.removeItem(k); } catch { /* */ } } },
				},
				init: {
					context: { document: { location: { href: location.href } } },
					data: { shop: { myshopifyDomain: page.shop, name: 'Atelier demo store' }, customer: null, cart: null },
					customerPrivacy: { analyticsProcessingAllowed: true, marketingAllowed: false, preferencesProcessingAllowed: true, saleOfDataAllowed: false },
				},
				settings: { appUrl: location.origin },
				customerPrivacy: { subscribe: (name, cb) => privacyListeners.push(cb) },
			});
			loaded = true;
			for (const e of queue.splice(0)) for (const cb of subscribers[e.name] || []) cb(e);
		});
	};
	document.addEventListener('visitorConsentCollected', (e) => {
		for (const cb of privacyListeners) cb({ customerPrivacy: { analyticsProcessingAllowed: !!e.detail.analyticsAllowed } });
		if (e.detail.analyticsAllowed) load();
	});

	// Standard events of this page.
	const product = page.product;
	const variant = (id) => ({ id: String(id || (product && product.variant_id) || ''), product: product && { id: String(product.id), title: product.title } });
	// Only while analytics is allowed, as Shopify's runtime: events of a declined visitor are not kept.
	const emit = (name, data) => { if (analytics()) publish(name, data); };
	emit('page_viewed', {});
	if (product) emit('product_viewed', { productVariant: variant() });
	if (page.order_id) emit('checkout_completed', { checkout: { order: { id: String(page.order_id) }, lineItems: [] } });
	// The theme adds to the cart with /cart/add.js (the personalizer) or the product form.
	const added = (variantId) => product && emit('product_added_to_cart', { cartLine: { quantity: 1, merchandise: variant(variantId) } });
	const fetch0 = window.fetch.bind(window);
	window.fetch = (input, init) => {
		const url = typeof input === 'string' ? input : input && input.url;
		const p = fetch0(input, init);
		if (url && /\/cart\/add\.js(\?|$)/.test(url)) p.then((r) => { if (r.ok) added(); }).catch(() => {});
		return p;
	};
	document.addEventListener('submit', (e) => {
		const f = e.target;
		if (f.matches && f.matches('form[action$="/cart/add"]') && !e.defaultPrevented) added(f.elements.id && f.elements.id.value);
	});
	load();

	// The header's privacy choice (Shopify's cookie banner stands here).
	const button = () => document.querySelector('[data-demo-consent]');
	const label = () => {
		const b = button();
		if (b) b.textContent = analytics() ? 'Analytics allowed · Decline' : 'Analytics declined · Allow';
	};
	document.addEventListener('DOMContentLoaded', () => {
		label();
		const b = button();
		if (b) b.addEventListener('click', () => { Shopify.customerPrivacy.setTrackingConsent({ analytics: !analytics() }, label); });
	});
})();
