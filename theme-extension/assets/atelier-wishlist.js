// Atelier wishlist (theme app extension): heart buttons on product pages and recommendation
// cards, and the shopper's list on the account page. A logged-in shopper's list is kept by the
// app (/apps/atelier/wishlist); an anonymous visitor's in this browser, sent once to the app
// after login (merge) and then forgotten here. Several blocks load this file: it runs once.
(() => {
	if (window.atelierWishlist) return;
	const KEY = 'atelier_wishlist';
	const MAX = 100;
	const i18nEl = document.querySelector('[data-atelier-wishlist-i18n]');
	const t = i18nEl ? JSON.parse(i18nEl.textContent) : {};
	const say = (s, title) => (s || '').replace('[title]', title || '');
	const proxy = (document.querySelector('[data-atelier-wishlist-proxy]') || { dataset: {} }).dataset.atelierWishlistProxy || '/apps/atelier';
	const api = (path, o) => fetch(proxy + path, { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, ...o });

	let ids = new Set(); // product ids as strings
	let items = []; // the account's list with details (logged in only)
	let account = false;

	const readLocal = () => {
		try {
			const v = JSON.parse(localStorage.getItem(KEY) || '[]');
			return Array.isArray(v) ? v.map(String).filter((x) => /^\d{1,20}$/.test(x)).slice(-MAX) : [];
		} catch {
			return [];
		}
	};
	const writeLocal = (list) => {
		try {
			if (list.length) localStorage.setItem(KEY, JSON.stringify(list.slice(-MAX)));
			else localStorage.removeItem(KEY);
		} catch { /* private mode: the list lasts for this page */ }
	};

	// One polite live region announces each change.
	const live = document.createElement('p');
	live.className = 'atelier-w__live';
	live.setAttribute('role', 'status');
	live.setAttribute('aria-live', 'polite');
	document.body.append(live);

	function sync() {
		document.querySelectorAll('[data-atelier-heart]').forEach((b) => {
			const on = ids.has(String(b.dataset.productId));
			b.setAttribute('aria-pressed', on ? 'true' : 'false');
			b.classList.toggle('atelier-w__heart--on', on);
		});
		document.querySelectorAll('[data-atelier-wishlist-list]').forEach(renderList);
	}

	function renderList(box) {
		const ul = box.querySelector('[data-items]');
		const emptyMsg = box.querySelector('[data-empty]');
		const root = (box.dataset.root || '/').replace(/\/?$/, '/');
		ul.replaceChildren(...items.map((p) => {
			const li = document.createElement('li');
			li.className = 'atelier-w__item';
			li.dataset.productId = p.product_id;
			const name = p.title || t.unavailable || '';
			if (p.handle && p.available) {
				const a = document.createElement('a');
				a.href = root + 'products/' + encodeURIComponent(p.handle);
				a.textContent = name;
				li.append(a);
			} else {
				const s = document.createElement('span');
				s.textContent = name;
				li.append(s);
				if (p.title) {
					const note = document.createElement('span');
					note.className = 'atelier-w__note';
					note.textContent = ' · ' + (t.unavailable || '');
					li.append(note);
				}
			}
			const rm = document.createElement('button');
			rm.type = 'button';
			rm.className = 'atelier-w__remove';
			rm.textContent = t.remove || 'Remove';
			rm.setAttribute('aria-label', say(t.remove_named, name));
			rm.addEventListener('click', () => toggle(String(p.product_id), name));
			li.append(rm);
			return li;
		}));
		emptyMsg.hidden = items.length > 0;
		box.removeAttribute('aria-busy');
	}

	async function refresh() {
		const r = await api('/wishlist');
		if (!r.ok) throw new Error();
		items = (await r.json()).items || [];
		ids = new Set(items.map((p) => String(p.product_id)));
	}

	async function toggle(id, title) {
		const was = ids.has(id);
		try {
			if (account) {
				const r = was
					? await api('/wishlist/' + encodeURIComponent(id), { method: 'DELETE' })
					: await api('/wishlist', { method: 'POST', body: JSON.stringify({ product_id: id }) });
				if (!r.ok) throw new Error();
				await refresh();
			} else {
				const list = readLocal().filter((x) => x !== id);
				if (!was) list.push(id);
				writeLocal(list);
				ids = new Set(list);
			}
			live.textContent = say(was ? t.removed : t.added, title);
		} catch {
			live.textContent = t.failed || '';
		}
		sync();
	}

	document.addEventListener('click', (e) => {
		const b = e.target.closest && e.target.closest('[data-atelier-heart]');
		if (!b) return;
		e.preventDefault();
		toggle(String(b.dataset.productId), b.dataset.title || '');
	});
	// Recommendation cards are drawn after the page: they announce their hearts.
	document.addEventListener('atelier:hearts', sync);

	async function start() {
		try {
			const r = await api('/wishlist');
			if (r.status === 401) {
				ids = new Set(readLocal());
			} else if (r.ok) {
				account = true;
				items = (await r.json()).items || [];
				ids = new Set(items.map((p) => String(p.product_id)));
				const local = readLocal();
				if (local.length) {
					const m = await api('/wishlist/merge', { method: 'POST', body: JSON.stringify({ product_ids: local }) });
					if (m.ok) {
						writeLocal([]);
						items = (await m.json()).items || [];
						ids = new Set(items.map((p) => String(p.product_id)));
					}
				}
			} else {
				throw new Error();
			}
		} catch {
			ids = new Set(readLocal());
		}
		sync();
	}

	window.atelierWishlist = { sync };
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
