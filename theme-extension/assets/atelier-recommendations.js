// Atelier recommendations (theme app extension): product cards for one intent, with impressions
// and clicks reported to /apps/atelier/events. `cart` reads the cart from the AJAX cart API and
// follows its changes; `recently_viewed` names the browser's session (its own views).
(() => {
	// Only what the visitor's privacy choices allow (Shopify's Customer Privacy API): impressions
	// and clicks are sent while analytics is allowed, and dropped otherwise.
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
	// One anonymous id per browser, for co-views and attribution (no personal data in it). Where
	// the app's web pixel runs, it writes its client id here, so a click in a widget and the
	// order the pixel reports at checkout share one session.
	const sid = () => {
		try {
			let s = localStorage.getItem('atelier_sid');
			if (!s) localStorage.setItem('atelier_sid', (s = crypto.randomUUID().replace(/-/g, '')));
			return s;
		} catch {
			return 'anonymous';
		}
	};
	const money = (c, f) => (f || '${{amount}}').replace(/\{\{\s*(\w+)\s*\}\}/, (_, k) => {
		const [i, d] = (c / 100).toFixed(/no_decimals/.test(k) ? 0 : 2).split('.');
		const comma = /comma/.test(k);
		return i.replace(/\B(?=(\d{3})+(?!\d))/g, comma ? '.' : ',') + (d ? (comma ? ',' : '.') + d : '');
	});

	// The card's wishlist toggle; atelier-wishlist.js keeps its state and handles it.
	const i18n = () => {
		const n = document.querySelector('[data-atelier-wishlist-i18n]');
		try { return n ? JSON.parse(n.textContent) : {}; } catch { return {}; }
	};
	function heart(p) {
		const b = document.createElement('button');
		b.type = 'button';
		b.className = 'atelier-w__heart';
		b.dataset.atelierHeart = '';
		b.dataset.productId = p.product_id;
		b.dataset.title = p.title;
		b.setAttribute('aria-pressed', 'false');
		b.setAttribute('aria-label', (i18n().save_named || 'Add [title] to wishlist').replace('[title]', p.title));
		b.innerHTML = '<svg class="atelier-w__icon" aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20"><path d="M12 21s-7.5-4.6-9.6-9.1C.9 8.6 2.9 4.5 6.6 4.5c2.1 0 3.6 1.2 4.4 2.5.8-1.3 2.3-2.5 4.4-2.5 3.7 0 5.7 4.1 4.2 7.4C19.5 16.4 12 21 12 21z"/></svg>';
		return b;
	}

	// The session's id without making one: a visitor who allowed no analytics has no views.
	const ownSid = () => { try { return localStorage.getItem('atelier_sid') || ''; } catch { return ''; } };
	// The cart's products, newest line first as the AJAX cart lists them, each once (at most 50).
	const cartIds = (url) => fetch(url.replace(/\/?$/, '.js'), { headers: { Accept: 'application/json' } })
		.then((r) => (r.ok ? r.json() : { items: [] }))
		.then((c) => [...new Set((c.items || []).map((i) => String(i.product_id)))].slice(0, 50))
		.catch(() => []);

	function init(root) {
		const d = root.dataset;
		const list = root.querySelector('[data-list]');
		// The arm of the slot's running experiment this shopper is in, as the answer said.
		let experiment;
		const send = (type, productId) => allowed() && fetch(d.proxy + '/events', {
			method: 'POST',
			keepalive: true,
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ type, product_id: productId, session_id: sid(), intent: d.intent, source_product_id: d.productId || undefined, experiment }),
		}).catch(() => {});
		const draw = (j) => {
			if (j.experiment && j.experiment.id) {
				experiment = { id: j.experiment.id, arm: j.experiment.arm };
				root.dataset.experimentArm = experiment.arm;
			}
			const items = (j.products || []).filter((p) => p.handle);
			// An empty list (nothing to show, or the experiment's control arm): the block hides.
			root.hidden = !items.length;
			if (!items.length) return;
			list.replaceChildren(...items.map((p) => {
				const li = document.createElement('li');
				li.className = 'atelier-r__card';
				const a = document.createElement('a');
				a.href = d.root.replace(/\/?$/, '/') + 'products/' + encodeURIComponent(p.handle);
				a.dataset.productId = p.product_id;
				if (p.image_url) {
					const img = document.createElement('img');
					img.src = p.image_url;
					img.alt = '';
					img.loading = 'lazy';
					img.width = img.height = 300;
					a.append(img);
				}
				const title = document.createElement('span');
				title.className = 'atelier-r__title';
				title.textContent = p.title;
				a.append(title);
				if (p.price_cents != null) {
					const price = document.createElement('span');
					price.className = 'atelier-r__price';
					price.textContent = money(p.price_cents, d.moneyFormat);
					a.append(price);
				}
				a.addEventListener('click', () => send('click', p.product_id));
				li.append(a, heart(p));
				return li;
			}));
			document.dispatchEvent(new CustomEvent('atelier:hearts'));
			// Impressions once the list is actually seen.
			const io = new IntersectionObserver((entries) => {
				if (!entries.some((e) => e.isIntersecting)) return;
				io.disconnect();
				items.forEach((p) => send('view', p.product_id));
			});
			io.observe(list);
		};
		const refresh = async () => {
			const q = new URLSearchParams({ intent: d.intent, limit: d.limit });
			if (d.productId) q.set('product_id', d.productId);
			if (d.intent === 'cart') q.set('product_ids', (await cartIds(d.cartUrl)).join(','));
			if (d.intent === 'recently_viewed') {
				if (ownSid()) q.set('session_id', ownSid());
			} else if (allowed() && sid() !== 'anonymous') {
				// The session splits an anonymous shopper in the merchant's experiments; sent only
				// while analytics is allowed (otherwise the shopper stays out of them).
				q.set('session_id', sid());
			}
			return fetch(d.proxy + '/recommendations?' + q, { headers: { Accept: 'application/json' } })
				.then((r) => (r.ok ? r.json() : Promise.reject()))
				.then(draw)
				.catch(() => { root.hidden = true; });
		};
		refresh();
		if (d.intent !== 'cart') return;
		// The cart changed: themes that announce it (cart:updated and the like), and any AJAX
		// cart change on this page (seen as a finished request, the theme's or Atelier's own).
		let timer;
		const again = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
		['cart:updated', 'cart:refresh', 'cart:change', 'atelier:cart-changed'].forEach((n) => document.addEventListener(n, again));
		if (window.PerformanceObserver) {
			try {
				new PerformanceObserver((l) => { if (l.getEntries().some((e) => /\/cart\/(add|change|update|clear)(\.js)?(\?|$)/.test(e.name))) again(); })
					.observe({ type: 'resource' });
			} catch { /* no resource timing */ }
		}
	}

	load();
	const start = () => document.querySelectorAll('[data-atelier-recs]').forEach(init);
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
