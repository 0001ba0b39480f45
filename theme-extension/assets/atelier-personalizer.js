// Atelier product personalizer (theme app extension).
(() => {
	const seg = window.Intl && Intl.Segmenter ? new Intl.Segmenter() : null;
	const chars = (s) => (seg ? [...seg.segment(s)].length : Array.from(s).length);
	const el = (tag, attrs, kids) => {
		const n = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === false || v == null) continue;
			if (k === 'text') n.textContent = v;
			else n.setAttribute(k, v === true ? '' : v);
		}
		(kids || []).forEach((c) => c && n.append(c));
		return n;
	};

	// Shopify money formats ({{amount}}, {{amount_no_decimals}}, …_with_comma_separator).
	const money = (c, f) => (f || '${{amount}}').replace(/\{\{\s*(\w+)\s*\}\}/, (_, k) => {
		const [i, d] = (c / 100).toFixed(/no_decimals/.test(k) ? 0 : 2).split('.');
		const comma = /comma/.test(k);
		return i.replace(/\B(?=(\d{3})+(?!\d))/g, comma ? '.' : ',') + (d ? (comma ? ',' : '.') + d : '');
	});

	function init(root) {
		const d = root.dataset;
		const t = JSON.parse(root.querySelector('[data-i18n]').textContent);
		const box = root.querySelector('[data-fields]');
		const priceP = root.querySelector('[data-price]');
		const status = root.querySelector('[data-status]');
		const scope = root.closest('.shopify-section, section') || document;
		const form = document.getElementById(d.formId) || scope.querySelector('form[action*="/cart/add"]');
		const uid = 'ap' + Math.random().toString(36).slice(2, 7);
		let fields = [], fee = null;
		const values = {};
		const ctl = {};

		const clear = (c) => { c.error.textContent = ''; c.input.removeAttribute('aria-invalid'); };
		const plus = (c) => (c ? ' (+' + money(c, d.moneyFormat) + ')' : '');
		const JSONH = { 'Content-Type': 'application/json', Accept: 'application/json' };
		const api = (path, o) => fetch(d.proxy + path, { headers: { Accept: 'application/json' }, ...o });

		// Mirrors the server's show_if (the server decides).
		const visible = (f, n = 0) => {
			if (!f.show_if) return true;
			const dep = fields.find((x) => x.key === f.show_if.field);
			return !!dep && n < 50 && visible(dep, n + 1) && [].concat(f.show_if.equals).map(String).includes(String(values[dep.key] ?? ''));
		};
		const filled = (f, v = values[f.key]) => (f.type === 'checkbox' ? v === true : v != null && String(v).trim() !== '');

		function update() {
			let cents = 0;
			for (const f of fields) {
				const on = visible(f);
				ctl[f.key].wrap.hidden = !on;
				if (!on || !filled(f)) continue;
				cents += f.price_cents || 0;
				const o = (f.options || []).find((x) => x.value === String(values[f.key]));
				if (o) cents += o.price_cents || 0;
				const c = ctl[f.key].count;
				if (c && f.max_length) c.textContent = t.characters_left.replace('{{ count }}', Math.max(0, f.max_length - chars(String(values[f.key]).trim())));
			}
			priceP.hidden = cents === 0;
			priceP.textContent = t.add_on.replace('{{ price }}', money(cents, d.moneyFormat));
			preview();
		}

		// The server's SVG of the shopper's text, laid over the product image (debounced).
		let timer;
		function preview() {
			const img = fields.some((f) => f.preview) && scope.querySelector('.product__media img, [data-product-media] img, main img');
			if (!img) return;
			let o = img.parentElement.querySelector('.atelier-preview');
			if (!o) img.after((o = el('img', { class: 'atelier-preview', alt: '' })));
			clearTimeout(timer);
			timer = setTimeout(() => {
				o.src = d.proxy + '/products/' + d.productId + '/preview.svg?values=' + encodeURIComponent(JSON.stringify(values));
			}, 120);
		}

		function control(f, id, err) {
			const common = { id, name: f.key, 'aria-describedby': err, 'aria-required': f.required && 'true' };
			const set = (v) => { values[f.key] = v; clear(ctl[f.key]); status.hidden = true; update(); };
			if (f.type === 'select') {
				const s = el('select', common, [el('option', { value: '', text: '—' })].concat(f.options.map((o) =>
					el('option', { value: o.value, text: o.label + plus(o.price_cents) }))));
				s.addEventListener('change', () => set(s.value));
				return s;
			}
			if (f.type === 'swatch') {
				return el('div', { class: 'atelier-p__swatches', role: 'radiogroup', 'aria-describedby': err, 'aria-required': f.required && 'true' }, f.options.map((o, i) => {
					const r = el('input', { type: 'radio', name: uid + f.key, value: o.value, id: id + i });
					r.addEventListener('change', () => set(o.value));
					const chip = el('span', { class: 'atelier-p__chip' });
					chip.style.background = o.color || 'transparent';
					return el('label', { for: id + i, class: 'atelier-p__swatch' }, [r, chip, el('span', { text: o.label })]);
				}));
			}
			if (f.type === 'checkbox') {
				const c = el('input', { type: 'checkbox', ...common });
				c.addEventListener('change', () => set(c.checked));
				return c;
			}
			if (f.type === 'image') {
				const i = el('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp', ...common });
				i.addEventListener('change', async () => {
					if (!i.files[0]) return set('');
					const note = ctl[f.key].error;
					note.textContent = t.uploading;
					const body = new FormData();
					body.append('file', i.files[0]);
					try {
						const r = await api('/uploads', { method: 'POST', body });
						const j = await r.json();
						if (!r.ok) throw new Error(j.error?.message);
						set(j.upload_id);
					} catch (e) {
						set('');
						note.textContent = e?.message || t.upload_failed;
					}
				});
				return i;
			}
			const [tag, a] = {
				textarea: ['textarea', { rows: 3 }],
				number: ['input', { type: 'number', inputmode: 'decimal', step: f.step || 'any' }],
				date: ['input', { type: 'date' }],
			}[f.type] || ['input', { type: 'text' }];
			const n = el(tag, { min: f.min, max: f.max, placeholder: f.placeholder, ...a, ...common });
			n.addEventListener('input', () => set(n.value));
			return n;
		}

		function render() {
			box.replaceChildren(...fields.map((f) => {
				const id = uid + '-' + f.key, err = id + '-err', help = id + '-help';
				const extra = plus(f.price_cents);
				const sw = f.type === 'swatch';
				const label = el(sw ? 'legend' : 'label', { for: !sw && id }, [f.label + extra, f.required ? el('b', { 'aria-hidden': 'true', text: ' *' }) : null]);
				const error = el('p', { id: err, class: 'atelier-p__error', 'aria-live': 'polite' });
				const count = f.max_length && /text/.test(f.type) ? el('p', { class: 'atelier-p__count', id: id + '-count' }) : null;
				const c = control(f, id, [err, f.help_text ? help : null, count ? id + '-count' : null].filter(Boolean).join(' '));
				const wrap = el(sw ? 'fieldset' : 'div', { class: 'atelier-p__field atelier-p__field--' + f.type },
					f.type === 'checkbox' ? [el('label', { for: id, class: 'atelier-p__check' }, [c, ' ' + f.label + extra]), error]
						: [label, c, f.help_text ? el('p', { id: help, class: 'atelier-p__help', text: f.help_text }) : null, count, error]);
				ctl[f.key] = { wrap, error, count, input: c };
				return wrap;
			}));
			box.removeAttribute('aria-busy');
			update();
		}

		function showErrors(errors) {
			Object.values(ctl).forEach(clear);
			let first = null;
			for (const e of errors) {
				const key = (e.field || '').replace(/^values\./, '');
				const c = ctl[key];
				if (!c) continue;
				c.error.textContent = e.message;
				c.input.setAttribute('aria-invalid', 'true');
				first = first || c.input;
			}
			status.hidden = false;
			status.textContent = t.fix_errors;
			if (first) (first.querySelector('input') || first).focus();
		}

		async function addToCart(ev) {
			ev.preventDefault();
			ev.stopImmediatePropagation();
			status.hidden = true;
			const btn = form.querySelector('[type="submit"]');
			btn?.setAttribute('aria-disabled', 'true');
			try {
				const shown = {};
				for (const f of fields) if (visible(f) && filled(f)) shown[f.key] = values[f.key];
				const r = await api('/products/' + d.productId + '/personalize', {
					method: 'POST', headers: JSONH, body: JSON.stringify({ values: shown }),
				});
				const p = await r.json();
				if (r.status === 422) return showErrors(p.errors || []);
				if (!r.ok) throw new Error();
				const fd = new FormData(form);
				const qty = Math.max(1, parseInt(fd.get('quantity'), 10) || 1);
				const props = {};
				p.properties.forEach((x) => { props[x.name] = x.value; });
				// Ids as strings (> 2^53). Fee: 1 cent x add-on x qty.
				const items = [{ id: fd.get('id') || d.variantId, quantity: qty, properties: props }];
				if (fee && p.price_cents > 0) items.push({ id: fee, quantity: p.price_cents * qty, properties: { _atelier_fee: p.signature } });
				const c = await fetch(d.root.replace(/\/?$/, '/') + 'cart/add.js', {
					method: 'POST', headers: JSONH, body: JSON.stringify({ items }),
				});
				const added = await c.json();
				const line = (added.items || []).find((i) => i.properties && i.properties._atelier === p.signature);
				if (!c.ok || !line) throw new Error();
				location.href = d.cartUrl;
			} catch (e) {
				status.hidden = false;
				status.textContent = t.cart_failed;
			} finally {
				btn?.removeAttribute('aria-disabled');
			}
		}

		api('/products/' + d.productId + '/fields').then(async (r) => {
			if (r.status === 404) { root.hidden = true; return; }
			if (!r.ok) throw new Error();
			const j = await r.json();
			fields = j.fields || [];
			fee = j.fee_variant_id;
			render();
			if (form) {
				form.addEventListener('submit', addToCart, true);
				// "Buy it now" skips the fields (hidden by CSS).
				if (fields.some((f) => f.required)) form.classList.add('atelier-has-required');
			}
		}).catch(() => {
			box.replaceChildren(el('p', { class: 'atelier-p__error', text: t.unavailable }));
		});
	}

	const start = () => document.querySelectorAll('[data-atelier-personalizer]').forEach(init);
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
