// Atelier app embed: a product view, and add-to-cart submissions, as behaviour events, for
// stores where the app's web pixel cannot run (the pixel reports both where it does).
(() => {
	const me = document.querySelector('script[data-atelier-embed]');
	if (!me) return;
	const d = me.dataset;
	let sid;
	try {
		sid = localStorage.getItem('atelier_sid');
		if (!sid) localStorage.setItem('atelier_sid', (sid = crypto.randomUUID().replace(/-/g, '')));
	} catch {
		sid = 'anonymous';
	}
	const send = (type) => fetch(d.proxy + '/events', {
		method: 'POST',
		keepalive: true,
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ type, product_id: d.productId, session_id: sid }),
	}).catch(() => {});
	// Only what the visitor's privacy choices allow (Shopify's Customer Privacy API): nothing
	// before analytics is allowed; a choice made later (visitorConsentCollected) lets it through.
	const privacy = () => window.Shopify && window.Shopify.customerPrivacy;
	const allowed = () => {
		const p = privacy();
		return !!(p && typeof p.analyticsProcessingAllowed === 'function' && p.analyticsProcessingAllowed());
	};
	// Themes without a consent banner may not load the API: load it (once) where Shopify can.
	const load = (done) => {
		if (privacy() || !(window.Shopify && window.Shopify.loadFeatures)) return done && done();
		window.Shopify.loadFeatures([{ name: 'consent-tracking-api', version: '0.1' }], () => done && done());
	};
	const whenAllowed = (task) => {
		let ran = false;
		const run = () => { if (!ran && allowed()) { ran = true; task(); } };
		document.addEventListener('visitorConsentCollected', (e) => { if (e.detail && e.detail.analyticsAllowed) run(); });
		load(run);
	};
	whenAllowed(() => send('view'));
	document.addEventListener('submit', (e) => {
		if (allowed() && e.target.matches && e.target.matches('form[action*="/cart/add"]')) send('add_to_cart');
	}, true);
})();
