// Atelier collection sort (app embed): the theme's product grid, in the shopper's order. The
// theme's own cards are moved (never re-rendered, so their markup, listeners and images stay);
// only the cards that must move are moved. On any error, timeout or change of the grid while
// the answer was on its way, the grid is left exactly as the theme drew it.
(() => {
	const me = document.querySelector('script[data-atelier-collection-sort]');
	if (!me) return;
	const d = me.dataset;
	// A sort order the shopper chose (price, newest…) is theirs: only the collection's default
	// order is personalized.
	const chosen = d.sortBy || new URLSearchParams(location.search).get('sort_by') || '';
	if (chosen && chosen !== d.defaultSort) return;
	const timeout = Number(d.timeout) > 0 ? Number(d.timeout) : 1500;

	const handleOf = (item) => {
		const a = item.matches('a[href*="/products/"]') ? item : item.querySelector('a[href*="/products/"]');
		if (!a) return null;
		try {
			const m = new URL(a.getAttribute('href'), location.href).pathname.match(/\/products\/([^/?#]+)/);
			return m ? decodeURIComponent(m[1]) : null;
		} catch {
			return null;
		}
	};
	const idOf = (item) => {
		const el = item.matches('[data-product-id]') ? item : item.querySelector('[data-product-id]');
		const id = el && el.getAttribute('data-product-id');
		return id && /^[1-9][0-9]*$/.test(id) ? id : null;
	};
	// The anonymous session's own views count only while the visitor's privacy choices allow
	// analytics (Shopify's Customer Privacy API); a logged-in shopper is known to the server.
	const session = () => {
		const p = window.Shopify && window.Shopify.customerPrivacy;
		if (!(p && typeof p.analyticsProcessingAllowed === 'function' && p.analyticsProcessingAllowed())) return null;
		try {
			return localStorage.getItem('atelier_sid');
		} catch {
			return null;
		}
	};

	// The indices of a longest increasing subsequence of `a`: the cards that keep their place.
	const keepers = (a) => {
		const tails = [], prev = new Array(a.length);
		for (let i = 0; i < a.length; i++) {
			let lo = 0, hi = tails.length;
			while (lo < hi) {
				const mid = (lo + hi) >> 1;
				if (a[tails[mid]] < a[i]) lo = mid + 1; else hi = mid;
			}
			prev[i] = lo > 0 ? tails[lo - 1] : -1;
			tails[lo] = i;
		}
		const keep = new Set();
		for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) keep.add(i);
		return keep;
	};

	async function run() {
		const items = Array.from(document.querySelectorAll(d.selector || '#product-grid > li'));
		if (items.length < 2) return;
		const grid = items[0].parentElement;
		if (!grid || items.some((i) => i.parentElement !== grid)) return;
		const handles = items.map(handleOf);
		const ids = items.map(idOf);
		const params = new URLSearchParams();
		if (ids.every(Boolean) && ids.length <= 250) params.set('product_ids', ids.join(','));
		const sid = session();
		if (sid && /^[A-Za-z0-9_-]{1,64}$/.test(sid)) params.set('session_id', sid);
		const ctl = new AbortController();
		const timer = setTimeout(() => ctl.abort(), timeout);
		let body;
		try {
			const q = params.toString();
			const r = await fetch(`${d.proxy}/collections/${encodeURIComponent(d.collectionId)}/sort${q ? '?' + q : ''}`, {
				headers: { Accept: 'application/json' },
				credentials: 'same-origin',
				signal: ctl.signal,
			});
			if (!r.ok) return;
			body = await r.json();
		} finally {
			clearTimeout(timer);
		}
		if (!body || !Array.isArray(body.products)) return;
		const rank = new Map();
		body.products.forEach((p, i) => {
			if (p && typeof p.handle === 'string' && !rank.has(p.handle)) rank.set(p.handle, i);
			if (p && typeof p.product_id === 'string' && !rank.has('#' + p.product_id)) rank.set('#' + p.product_id, i);
		});
		const rankOf = (i) => (ids[i] && rank.has('#' + ids[i]) ? rank.get('#' + ids[i]) : handles[i] != null && rank.has(handles[i]) ? rank.get(handles[i]) : null);
		// The theme may have changed the grid meanwhile (filters, infinite scroll): then its
		// grid is newer than this answer.
		const now = Array.from(document.querySelectorAll(d.selector || '#product-grid > li'));
		if (now.length !== items.length || now.some((n, i) => n !== items[i])) return;
		// Ranked cards take the slots ranked cards had, in the answer's order; a card the answer
		// does not know keeps its slot.
		const slots = [], ranked = [];
		items.forEach((_, i) => {
			if (rankOf(i) !== null) {
				slots.push(i);
				ranked.push(i);
			}
		});
		if (ranked.length < 2) return;
		ranked.sort((a, b) => rankOf(a) - rankOf(b) || a - b);
		const target = items.slice();
		slots.forEach((slot, k) => { target[slot] = items[ranked[k]]; });
		const from = new Map(items.map((n, i) => [n, i]));
		const keep = keepers(target.map((n) => from.get(n)));
		if (keep.size === target.length) {
			grid.setAttribute('data-atelier-sorted', body.personalized ? 'personalized' : 'default');
			return;
		}
		const end = items[items.length - 1].nextSibling;
		for (let i = target.length - 1; i >= 0; i--) {
			if (!keep.has(i)) grid.insertBefore(target[i], i + 1 < target.length ? target[i + 1] : end);
		}
		grid.setAttribute('data-atelier-sorted', body.personalized ? 'personalized' : 'default');
		grid.dispatchEvent(new CustomEvent('atelier:collection-sorted', { bubbles: true, detail: { personalized: !!body.personalized } }));
	}

	run().catch(() => {});
})();
