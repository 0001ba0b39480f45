// Atelier merchant admin: one small script, no framework, no build step. Every merchant- or
// shopper-supplied string reaches the page through textContent or an attribute, never as
// markup. Every /api call carries a fresh App Bridge session token (shopify.idToken()); tokens
// are never kept in storage or put in URLs.
(() => {
  'use strict';

  // ------------------------------------------------------------------ DOM helpers

  /** h('div', {class, text, on:{click}}, ...children): children are nodes or text. */
  function h(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v == null) continue;
      if (k === 'text') n.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) n.addEventListener(ev, fn);
      else if (k === 'value') n.value = v;
      else if (k === 'checked') n.checked = !!v;
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat(Infinity)) {
      if (c == null || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }
  let uidN = 0;
  const uid = (p) => (p || 'a') + ++uidN;
  const main = document.getElementById('main');
  const toastStack = document.querySelector('[data-toasts]');
  const money = (c) => (c == null ? '—' : (c < 0 ? '−' : '') + '$' + (Math.abs(c) / 100).toFixed(2));
  const when = (s) => (s ? new Date(s).toLocaleString() : '—');
  const day = (s) => (s ? new Date(s).toLocaleDateString() : '—');
  const num = (n) => (n == null ? '—' : Number(n).toLocaleString());
  /** `1 line`, `2 lines`: a count with its noun in the right number. */
  const plural = (n, one, many) => num(n) + ' ' + (Number(n) === 1 ? one : many || one + 's');

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || 'The request failed (HTTP ' + status + ').');
      this.status = status;
      this.code = body?.error?.code;
      this.errors = body?.errors || [];
    }
  }

  /** A call to /api with a fresh session token; retried once when Shopify asks for it. */
  async function api(path, { method = 'GET', body, raw = false } = {}, retry = true) {
    const token = await window.shopify.idToken();
    const headers = { Authorization: 'Bearer ' + token, Accept: raw ? '*/*' : 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
    if (r.status === 401 && retry && r.headers.get('X-Shopify-Retry-Invalid-Session-Request')) return api(path, { method, body, raw }, false);
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    if (raw) return r;
    return r.status === 204 ? null : r.json();
  }
  const qs = (o) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(o)) if (v != null && v !== '') p.set(k, v);
    const s = p.toString();
    return s ? '?' + s : '';
  };

  // ------------------------------------------------------------------ components

  /**
   * A toast, as Polaris shows them: a short message at the bottom of the page, announced by the
   * live region it is added to (an error as an alert), dismissible by its button or Escape, gone
   * after a few seconds (the clock stops while the pointer or the focus is on it), and never
   * carried to another page.
   */
  const TOAST_MS = 5000, ERROR_TOAST_MS = 8000;
  function toast(message, error) {
    let left = error ? ERROR_TOAST_MS : TOAST_MS, started = 0, timer = null, hovered = false, focused = false;
    const close = () => {
      clearTimeout(timer); timer = null;
      // Keyboard users who dismissed it land back on the page, not on the document's start.
      const hadFocus = t.contains(document.activeElement);
      t.remove();
      if (hadFocus) main.querySelector('h1')?.focus();
    };
    const sync = () => {
      const hold = hovered || focused;
      if (hold && timer !== null) { clearTimeout(timer); timer = null; left = Math.max(1000, left - (Date.now() - started)); }
      else if (!hold && timer === null && t.isConnected) { started = Date.now(); timer = setTimeout(close, left); }
    };
    const t = h('div', { class: 'toast' + (error ? ' toast--error' : ''), role: error ? 'alert' : null, on: {
      mouseenter: () => { hovered = true; sync(); }, mouseleave: () => { hovered = false; sync(); },
      focusin: () => { focused = true; sync(); }, focusout: () => { focused = false; sync(); },
      keydown: (e) => { if (e.key === 'Escape') close(); },
    } }, h('span', { class: 'toast__text', text: message }),
      h('button', { type: 'button', class: 'toast__close', 'aria-label': 'Dismiss notification', on: { click: close } }, h('span', { 'aria-hidden': 'true', text: '×' })));
    t.close = close;
    toastStack.append(t);
    sync();
  }
  /** A toast for the page the app is about to open (shown once that page has rendered). */
  let nextToast = null;
  const toastOnNextPage = (message, error) => { nextToast = [message, error]; };
  const clearToasts = () => { for (const t of [...toastStack.children]) t.close(); };

  function button(text, onClick, opts = {}) {
    const b = h('button', { type: opts.submit ? 'submit' : 'button', class: 'btn' + (opts.primary ? ' btn--primary' : '') + (opts.critical ? ' btn--critical' : '') + (opts.plain ? ' btn--plain' : '') + (opts.small ? ' btn--small' : ''), 'aria-label': opts.label, disabled: opts.disabled, on: onClick ? { click: onClick } : null }, text);
    return b;
  }
  /** Disables a button while `fn` runs (no double submits). */
  async function busy(btn, fn) {
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try { return await fn(); } finally { btn.disabled = false; btn.removeAttribute('aria-busy'); }
  }

  const card = (title, ...kids) => h('section', { class: 'card', 'aria-label': title || null }, title ? h('h2', { class: 'card__title', text: title }) : null, ...kids);
  const badge = (text, tone) => h('span', { class: 'badge' + (tone ? ' badge--' + tone : '') }, text);
  const banner = (tone, title, ...kids) => h('div', { class: 'banner banner--' + tone, role: tone === 'critical' ? 'alert' : 'status' }, h('p', { class: 'banner__title', text: title }), ...kids);
  const empty = (title, text, action) => h('div', { class: 'empty' }, h('div', { class: 'empty__art', 'aria-hidden': 'true' }), h('h2', { class: 'empty__title', text: title }), h('p', { text }), action || null);
  const skeleton = (lines = 3) => h('div', { class: 'card', 'aria-hidden': 'true' }, Array.from({ length: lines }, (_, i) => h('div', { class: 'skeleton' + (i === lines - 1 ? ' skeleton--short' : '') })));

  /** Page frame: a heading, optional actions, then content. */
  function pageHead(title, back, ...actions) {
    document.title = title + ' · Atelier';
    return h('header', { class: 'page__head' },
      back ? h('a', { class: 'page__back', href: back[1] }, '‹ ' + back[0]) : null,
      h('h1', { class: 'page__title', tabindex: '-1', text: title }),
      h('div', { class: 'page__actions' }, actions));
  }

  /**
   * A form's controls by the request path they edit, so a 422's `field` lands beside its
   * control, and an error summary (announced) that links to each.
   */
  class Errors {
    constructor() {
      this.map = new Map();
      this.summary = h('div', { class: 'errors', role: 'alert', 'aria-live': 'assertive', tabindex: '-1', hidden: true });
    }
    register(path, control, slot) {
      this.map.set(path, { control, slot });
    }
    clear() {
      for (const { control, slot } of this.map.values()) {
        slot.textContent = '';
        slot.hidden = true;
        control.removeAttribute('aria-invalid');
      }
      this.summary.hidden = true;
      this.summary.replaceChildren();
    }
    /** The registered control for `path`, or for its nearest registered parent path. */
    find(path) {
      let p = path || '';
      if (this.map.has(p)) return this.map.get(p);
      while (p) {
        if (this.map.has(p)) return this.map.get(p);
        const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
        if (cut <= 0) break;
        p = p.slice(0, cut);
      }
      return null;
    }
    show(err) {
      this.clear();
      const list = err.errors && err.errors.length ? err.errors : [{ field: '', message: err.message }];
      const items = list.map((e) => {
        const target = this.find(e.field);
        if (target) {
          target.slot.hidden = false;
          target.slot.append(h('span', { text: e.message }), ' ');
          target.control.setAttribute('aria-invalid', 'true');
        }
        const id = target && target.control.id;
        return h('li', {}, id ? h('a', { href: '#' + id, on: { click: (ev) => { ev.preventDefault(); target.control.focus(); } } }, e.message) : e.message,
          e.field ? h('span', { class: 'errors__path', text: ' (' + e.field + ')' }) : null);
      });
      this.summary.append(h('p', { class: 'errors__title', text: list.length === 1 ? 'There is 1 problem to fix' : 'There are ' + list.length + ' problems to fix' }), h('ul', {}, items));
      this.summary.hidden = false;
      this.summary.focus();
    }
  }

  /** A labelled control with help text and an error slot; `path` registers it in `errors`. */
  function field(label, control, { help, errors, path, inline } = {}) {
    control.id = control.id || uid('c');
    const slot = h('p', { class: 'field__error', id: control.id + '-err', hidden: true });
    const helpP = help ? h('p', { class: 'field__help', id: control.id + '-help', text: help }) : null;
    control.setAttribute('aria-describedby', [slot.id, helpP && helpP.id].filter(Boolean).join(' '));
    if (errors && path) errors.register(path, control, slot);
    if (control.type === 'checkbox') return h('div', { class: 'field field--check' }, h('label', { for: control.id }, control, ' ' + label), helpP, slot);
    return h('div', { class: 'field' + (inline ? ' field--inline' : '') }, h('label', { for: control.id, class: 'field__label', text: label }), control, helpP, slot);
  }
  const input = (attrs) => h('input', { class: 'input', type: 'text', ...attrs });
  const select = (options, value, attrs) => h('select', { class: 'input', ...attrs }, options.map(([v, t]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, t)));

  /** A modal confirmation (native <dialog>: focus trapped, Escape closes). */
  function confirmDialog(title, text, confirmText) {
    return new Promise((resolve) => {
      const d = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
        h('h2', { id: 'dlg-title', class: 'card__title', text: title }), h('p', { text }),
        h('div', { class: 'dialog__actions' },
          button('Cancel', () => d.close('cancel')),
          button(confirmText, () => d.close('ok'), { critical: true })));
      d.addEventListener('close', () => { resolve(d.returnValue === 'ok'); d.remove(); });
      document.body.append(d);
      d.showModal();
    });
  }

  /** Downloads a response body as a file (no token in any URL). */
  async function download(res, name) {
    const blob = await res.blob();
    const a = h('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  /** Product search over synced products; `onPick(product)` for the chosen one. */
  function productPicker(label, onPick, { exclude = () => [] } = {}) {
    const q = input({ type: 'search', placeholder: 'Search by title, handle or id', autocomplete: 'off' });
    const results = h('ul', { class: 'picker__results', 'aria-live': 'polite' });
    let timer, seq = 0;
    const run = async () => {
      const my = ++seq;
      try {
        const page = await api('/api/products' + qs({ query: q.value, limit: 8 }));
        if (my !== seq) return;
        const skip = new Set(exclude().map(String));
        const items = page.items.filter((p) => !skip.has(p.product_id));
        results.replaceChildren(...(items.length ? items.map((p) => h('li', { class: 'picker__item' },
          h('span', { class: 'picker__title', text: p.title }), h('span', { class: 'muted', text: ' ' + p.handle + ' · ' + p.product_id }),
          button('Add', () => { onPick(p); run(); }, { small: true, label: 'Add ' + p.title }))) : [h('li', { class: 'muted', text: 'No matching products.' })]));
      } catch (e) { results.replaceChildren(h('li', { class: 'field__error', text: e.message })); }
    };
    q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 200); });
    q.addEventListener('focus', () => { if (!results.childElementCount) run(); }, { once: true });
    return h('div', { class: 'picker' }, field(label, q), results);
  }

  /** Titles of products by id (one request per page view). */
  const titles = new Map();
  async function loadTitles(ids) {
    const missing = [...new Set(ids.map(String))].filter((i) => !titles.has(i));
    for (let i = 0; i < missing.length; i += 200) {
      const page = await api('/api/products' + qs({ ids: missing.slice(i, i + 200).join(','), limit: 250 }));
      for (const p of page.items) titles.set(p.product_id, p);
    }
  }
  const titleOf = (id) => titles.get(String(id))?.title || 'Product ' + id;

  /**
   * A storefront block rendered by its own script and CSS in a sandboxed frame; `data()` gives
   * the answers to the block's storefront calls (the merchant's draft).
   */
  function blockPreview(block, data, title, query = '') {
    const frame = h('iframe', { class: 'preview__frame', title, sandbox: 'allow-scripts', src: '/admin/preview/' + block + query });
    const onMsg = (ev) => {
      if (ev.source !== frame.contentWindow || ev.data?.type !== 'atelier-preview-ready') return;
      frame.contentWindow.postMessage({ type: 'atelier-preview-data', routes: JSON.parse(JSON.stringify(data())) }, '*');
    };
    window.addEventListener('message', onMsg);
    const resize = (ev) => {
      if (ev.source === frame.contentWindow && ev.data?.type === 'atelier-preview-height') frame.style.height = Math.min(1200, Math.max(120, ev.data.height)) + 'px';
    };
    window.addEventListener('message', resize);
    let timer;
    const refresh = () => { clearTimeout(timer); timer = setTimeout(() => { frame.src = '/admin/preview/' + block + query; }, 350); };
    const cleanup = () => { window.removeEventListener('message', onMsg); window.removeEventListener('message', resize); };
    onLeave(cleanup);
    return { frame, refresh };
  }

  // ------------------------------------------------------------------ routing

  let leaving = [];
  const onLeave = (fn) => leaving.push(fn);
  const routes = [];
  const route = (re, render) => routes.push([re, render]);

  async function navigate() {
    leaving.forEach((f) => f());
    leaving = [];
    // A page's toasts speak of that page: the next one starts without them.
    clearToasts();
    const carried = nextToast;
    nextToast = null;
    const hash = location.hash.replace(/^#/, '') || '/';
    const [re, render] = routes.find(([r]) => r.test(hash)) || routes[0];
    const m = hash.match(re) || [];
    for (const a of document.querySelectorAll('.nav a')) {
      const target = a.getAttribute('href').slice(1);
      const on = target === '/' ? hash === '/' : hash.startsWith(target);
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(h('div', { class: 'skeleton skeleton--title' }), skeleton(4));
    try {
      const view = await render(...m.slice(1));
      main.replaceChildren(view);
    } catch (e) {
      main.replaceChildren(pageHead('Something went wrong'), banner('critical', 'The page could not load.', h('p', { text: e.message })));
    }
    main.removeAttribute('aria-busy');
    const title = main.querySelector('h1');
    if (navigated && title) title.focus();
    navigated = true;
    if (carried) toast(...carried);
  }
  let navigated = false;
  window.addEventListener('hashchange', navigate);

  // ------------------------------------------------------------------ Home

  route(/^\/$/, async () => {
    const [shop, health, setup] = await Promise.all([api('/api/shop'), api('/api/webhooks/health'), api('/api/setup')]);
    const counts = h('dl', { class: 'stats' }, Object.entries(shop.counts).map(([k, v]) => h('div', { class: 'stats__item' }, h('dt', { text: k.replace(/_/g, ' ') }), h('dd', { text: num(v) }))));
    const dead = health.dead_letters.length
      ? h('table', { class: 'table' }, h('caption', { text: 'Dead letters (latest first)' }),
        h('thead', {}, h('tr', {}, ['Topic', 'Received', 'Attempts', 'Error'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, health.dead_letters.map((d) => h('tr', {}, h('td', { text: d.topic }), h('td', { text: when(d.received_at) }), h('td', { text: d.attempts }), h('td', { text: d.error || '—' })))))
      : h('p', { class: 'muted', text: 'No dead letters: every delivery was applied.' });
    const tone = health.dead ? 'critical' : health.retrying ? 'warning' : 'success';
    return h('div', { class: 'page' },
      pageHead('Home'),
      h('div', { class: 'layout' },
        h('div', { class: 'layout__main' },
          card('Setup', h('p', { class: 'muted', text: setup.done + ' of ' + setup.total + ' done' }),
            h('progress', { max: setup.total, value: setup.done, 'aria-label': 'Setup progress' }),
            h('ul', { class: 'checklist' }, setup.items.map((i) => h('li', { class: 'checklist__item' + (i.done ? ' is-done' : '') },
              h('span', { class: 'checklist__mark', 'aria-hidden': 'true', text: i.done ? '✓' : '' }),
              h('div', {}, h('p', { class: 'checklist__title' }, { webhooks: 'Webhooks registered', app_embed: 'Theme app embed enabled', fee_product: 'Fee product configured', template_assigned: 'A template assigned to a product', preference_center: 'Preference center configured' }[i.key] || i.key,
                h('span', { class: 'visually-hidden', text: i.done ? ' (done)' : ' (to do)' })), h('p', { class: 'muted', text: i.detail })))))),
          card('Webhook health', h('p', {}, badge(health.dead ? plural(health.dead, 'dead letter') : health.retrying ? health.retrying + ' retrying' : 'Healthy', tone)),
            h('dl', { class: 'stats' },
              [['Last delivery', when(health.last_received_at)], ['Last applied', when(health.last_processed_at)], ['Received (24 h)', num(health.received_24h)], ['Waiting', num(health.pending)], ['Retrying', num(health.retrying)], ['Dead letters', num(health.dead)]]
                .map(([k, v]) => h('div', { class: 'stats__item' }, h('dt', { text: k }), h('dd', { text: v })))),
            dead)),
        h('div', { class: 'layout__side' },
          card('Installation', h('p', {}, badge(shop.installed_at ? 'Installed' : 'Not installed', shop.installed_at ? 'success' : 'warning')),
            h('p', { text: shop.shop }), h('p', { class: 'muted', text: 'Installed ' + when(shop.installed_at) }),
            h('p', { class: 'muted', text: 'Scopes: ' + shop.scopes.join(', ') }),
            shop.webhooks_registered ? null : banner('warning', 'Webhook registration is pending.')),
          card('In this store', counts))));
  });

  // ------------------------------------------------------------------ Templates

  const TYPES = [['text', 'Text'], ['textarea', 'Multi-line text'], ['number', 'Number'], ['select', 'Drop-down'], ['swatch', 'Swatch'], ['checkbox', 'Checkbox'], ['date', 'Date'], ['image', 'Image upload']];
  const typeName = (t) => (TYPES.find(([v]) => v === t) || [t, t])[1];

  route(/^\/templates\/?$/, async () => {
    const list = await api('/api/templates?limit=250');
    const create = h('a', { class: 'btn btn--primary', href: '#/templates/new' }, 'Create template');
    if (!list.items.length) return h('div', { class: 'page' }, pageHead('Templates'), card(null, empty('Personalize your products', 'A template holds the fields shoppers fill in on a product page: engravings, names, colours, photos.', create)));
    await loadTitles(list.items.flatMap((t) => t.product_ids)).catch(() => {});
    return h('div', { class: 'page' }, pageHead('Templates', null, create),
      card(null, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Name', 'Fields', 'Products', 'Version', 'Updated'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, list.items.map((t) => h('tr', {},
          h('td', {}, h('a', { href: '#/templates/' + encodeURIComponent(t.id), class: 'link', 'data-template-name': '' }, t.name)),
          h('td', { text: t.fields.length }),
          h('td', { text: t.product_ids.map(titleOf).join(', ') || '—' }),
          h('td', { text: 'v' + t.version }),
          h('td', { text: when(t.updated_at) })))))));
  });

  const slug = (s) => s.toLowerCase().normalize('NFKD').replace(/[^\w\s]/g, '').trim().replace(/\s+/g, '_').replace(/[^a-z0-9_]/g, '').slice(0, 40);
  const cents = (v) => (v === '' || v == null ? undefined : Math.round(Number(v) * 100));
  const dollars = (c) => (c == null || c === 0 ? '' : (c / 100).toFixed(2));
  const numOrUndef = (v) => (v === '' || v == null ? undefined : Number(v));

  /** A field as the API takes it, from the editor's draft (empty settings left out). */
  function cleanField(f) {
    const out = { key: f.key, label: f.label, type: f.type, required: !!f.required };
    const keep = ['help_text', 'placeholder', 'min_length', 'max_length', 'pattern', 'charset', 'min', 'max', 'step', 'price_cents'];
    for (const k of keep) if (f[k] !== undefined && f[k] !== '' && f[k] !== null) out[k] = f[k];
    if (f.type === 'select' || f.type === 'swatch') out.options = (f.options || []).map((o) => { const x = { value: o.value, label: o.label }; if (o.price_cents) x.price_cents = o.price_cents; if (f.type === 'swatch') x.color = o.color || '#000000'; return x; });
    if (f.show_if && f.show_if.field) out.show_if = { field: f.show_if.field, equals: f.show_if.equals };
    if (f.preview && Object.values(f.preview).some((v) => v !== undefined && v !== '')) {
      out.preview = {};
      for (const [k, v] of Object.entries(f.preview)) if (v !== undefined && v !== '') out.preview[k] = v;
    }
    return out;
  }
  const typeKeeps = {
    text: ['help_text', 'placeholder', 'min_length', 'max_length', 'pattern', 'charset', 'price_cents', 'preview'],
    textarea: ['help_text', 'placeholder', 'min_length', 'max_length', 'pattern', 'charset', 'price_cents', 'preview'],
    number: ['help_text', 'placeholder', 'min', 'max', 'step', 'price_cents'],
    select: ['help_text', 'options', 'price_cents'],
    swatch: ['help_text', 'options', 'price_cents'],
    checkbox: ['help_text', 'price_cents'],
    date: ['help_text', 'min', 'max', 'price_cents'],
    image: ['help_text', 'price_cents'],
  };

  route(/^\/templates\/([^/]+)$/, async (id) => {
    const isNew = id === 'new';
    const t = isNew ? { name: '', fields: [], product_ids: [], version: 0 } : await api('/api/templates/' + encodeURIComponent(id));
    const draft = JSON.parse(JSON.stringify({ name: t.name, fields: t.fields, product_ids: t.product_ids }));
    draft.fields.forEach((f) => { f._keyTouched = true; });
    await loadTitles(draft.product_ids).catch(() => {});
    const errors = new Errors();
    const announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    let dirty = false;
    const changed = () => { dirty = true; preview.refresh(); };

    const preview = blockPreview('personalizer', () => ({
      '/products/1/fields': { product_id: '1', fields: draft.fields.map(cleanField).map((f) => ({ ...f, options: f.options || [] })), fee_variant_id: null },
    }), 'Storefront preview of the product personalizer');

    // ---- name
    const nameInput = input({ value: draft.name, maxlength: 200, required: true, on: { input: (e) => { draft.name = e.target.value; dirty = true; } } });

    // ---- fields
    const fieldsBox = h('ol', { class: 'fields', 'aria-label': 'Fields' });
    const move = (i, to) => {
      if (to < 0 || to >= draft.fields.length) return;
      const [f] = draft.fields.splice(i, 1);
      draft.fields.splice(to, 0, f);
      renderFields();
      announce.textContent = (f.label || f.key || 'Field') + ' moved to position ' + (to + 1) + ' of ' + draft.fields.length + '.';
      fieldsBox.querySelectorAll('.fieldcard')[to]?.querySelector('[data-move="' + (to > i ? 'down' : 'up') + '"]:not([disabled])')?.focus();
      changed();
    };
    let dragFrom = null;

    function fieldCard(f, i) {
      const p = 'fields[' + i + ']';
      const set = (k, v) => { if (v === undefined || v === '') delete f[k]; else f[k] = v; changed(); };
      const open = f._open ?? isNew;
      const labelIn = input({ value: f.label || '', maxlength: 200, on: { input: (e) => { f.label = e.target.value; if (!f._keyTouched) { f.key = slug(f.label); keyIn.value = f.key; } summaryText.textContent = f.label || 'Untitled field'; changed(); } } });
      const keyIn = input({ value: f.key || '', maxlength: 40, pattern: '[a-z0-9_]{1,40}', spellcheck: 'false', on: { input: (e) => { f.key = e.target.value; f._keyTouched = true; changed(); } } });
      const typeIn = select(TYPES, f.type, { on: { change: (e) => {
        f.type = e.target.value;
        for (const k of Object.keys(f)) if (!['key', 'label', 'type', 'required', 'show_if', '_keyTouched', '_open'].includes(k) && !typeKeeps[f.type].includes(k)) delete f[k];
        if ((f.type === 'select' || f.type === 'swatch') && !f.options) f.options = [{ value: 'option_1', label: 'Option 1' }];
        f._open = true;
        renderFields(); changed();
      } } });
      const req = h('input', { type: 'checkbox', checked: f.required, on: { change: (e) => { f.required = e.target.checked; changed(); } } });
      const numIn = (k, label, attrs = {}) => field(label, input({ type: 'number', value: f[k] ?? '', ...attrs, on: { input: (e) => set(k, numOrUndef(e.target.value)) } }), { errors, path: p + '.' + k, inline: true });
      const textIn = (k, label, attrs = {}, help) => field(label, input({ value: f[k] ?? '', ...attrs, on: { input: (e) => set(k, e.target.value) } }), { errors, path: p + '.' + k, help });
      const settings = [];
      const t = f.type;
      if (t === 'text' || t === 'textarea') {
        settings.push(h('div', { class: 'row' }, numIn('min_length', 'Minimum length', { min: 0 }), numIn('max_length', 'Maximum length', { min: 1 })));
        const patIn = input({ value: f.pattern ?? '', spellcheck: 'false', on: { input: (e) => { set('pattern', e.target.value); testPattern(); } } });
        const testIn = input({ placeholder: 'Type a value to test', on: { input: () => testPattern() } });
        const verdict = h('p', { class: 'field__help', 'aria-live': 'polite' });
        const testPattern = () => {
          if (!f.pattern || !testIn.value) { verdict.textContent = ''; return; }
          try { verdict.textContent = new RegExp('^(?:' + f.pattern + ')$', 'u').test(testIn.value.trim()) ? '✓ Matches the whole value' : '✗ Does not match'; } catch { verdict.textContent = 'Your browser cannot read this pattern; the server checks it on save.'; }
        };
        settings.push(field('Pattern (must match the whole value)', patIn, { errors, path: p + '.pattern', help: 'Rust regex syntax, e.g. [A-Z]{2}[0-9]{3}.' }),
          h('div', { class: 'field' }, h('label', { for: testIn.id = uid('c'), class: 'field__label', text: 'Test the pattern' }), testIn, verdict),
          field('Characters allowed', select([['', 'Any'], ['ascii', 'ASCII'], ['latin', 'Latin letters'], ['alphanumeric', 'Letters and digits'], ['digits', 'Digits']], f.charset, { on: { change: (e) => set('charset', e.target.value) } }), { errors, path: p + '.charset' }),
          textIn('placeholder', 'Placeholder'));
        const pv = f.preview || {};
        const pvSet = (k, v) => { f.preview = { ...(f.preview || {}) }; if (v === '' || v === undefined) delete f.preview[k]; else f.preview[k] = v; if (!Object.keys(f.preview).length) delete f.preview; changed(); };
        settings.push(h('fieldset', { class: 'group' }, h('legend', { text: 'Preview on the product image' }),
          h('div', { class: 'row' },
            field('Font', input({ value: pv.font ?? '', placeholder: 'Georgia', on: { input: (e) => pvSet('font', e.target.value) } }), { errors, path: p + '.preview.font', inline: true }),
            field('Colour', input({ value: pv.color ?? '', placeholder: '#111111', on: { input: (e) => pvSet('color', e.target.value) } }), { errors, path: p + '.preview.color', inline: true })),
          h('div', { class: 'row' },
            ...[['x', 'Left (%)'], ['y', 'Top (%)'], ['size', 'Size (%)']].map(([k, l]) => field(l, input({ type: 'number', min: 0, max: 100, step: 'any', value: pv[k] ?? '', on: { input: (e) => pvSet(k, numOrUndef(e.target.value)) } }), { errors, path: p + '.preview.' + k, inline: true })))));
      }
      if (t === 'number') {
        settings.push(h('div', { class: 'row' }, numIn('min', 'Minimum', { step: 'any' }), numIn('max', 'Maximum', { step: 'any' }), numIn('step', 'Step', { step: 'any', min: 0 })), textIn('placeholder', 'Placeholder'));
      }
      if (t === 'date') {
        settings.push(h('div', { class: 'row' },
          field('Earliest date', input({ type: 'date', value: f.min ?? '', on: { input: (e) => set('min', e.target.value) } }), { errors, path: p + '.min', inline: true }),
          field('Latest date', input({ type: 'date', value: f.max ?? '', on: { input: (e) => set('max', e.target.value) } }), { errors, path: p + '.max', inline: true })));
      }
      if (t === 'select' || t === 'swatch') {
        const opts = f.options || (f.options = []);
        const optList = h('ul', { class: 'options' });
        const renderOpts = () => optList.replaceChildren(...opts.map((o, k) => {
          const op = p + '.options[' + k + ']';
          const valIn = input({ value: o.value ?? '', spellcheck: 'false', on: { input: (e) => { o.value = e.target.value; o._vTouched = true; changed(); } } });
          return h('li', { class: 'option' },
            field('Option ' + (k + 1) + ' label', input({ value: o.label ?? '', on: { input: (e) => { o.label = e.target.value; if (!o._vTouched) { o.value = slug(o.label) || o.value; valIn.value = o.value; } changed(); } } }), { errors, path: op + '.label', inline: true }),
            field('Value', valIn, { errors, path: op + '.value', inline: true }),
            field('Price ($)', input({ type: 'number', min: 0, step: '0.01', value: dollars(o.price_cents), on: { input: (e) => { o.price_cents = cents(e.target.value) || 0; changed(); } } }), { errors, path: op + '.price_cents', inline: true }),
            t === 'swatch' ? field('Colour', input({ type: 'color', value: o.color || '#000000', on: { input: (e) => { o.color = e.target.value; changed(); } } }), { errors, path: op + '.color', inline: true }) : null,
            button('Remove', () => { opts.splice(k, 1); renderOpts(); changed(); }, { plain: true, small: true, label: 'Remove option ' + (o.label || k + 1) }));
        }));
        renderOpts();
        const optsHolder = h('div', { tabindex: '-1' });
        errors.register(p + '.options', optsHolder, h('p', { class: 'field__error', hidden: true }));
        const slot = errors.map.get(p + '.options').slot;
        settings.push(h('fieldset', { class: 'group' }, h('legend', { text: 'Options' }), optsHolder, slot, optList,
          button('Add option', () => { opts.push({ value: 'option_' + (opts.length + 1), label: 'Option ' + (opts.length + 1) }); renderOpts(); changed(); optList.lastChild?.querySelector('input')?.focus(); }, { small: true })));
      }
      settings.push(field(t === 'checkbox' ? 'Price when ticked ($)' : 'Price add-on when filled ($)', input({ type: 'number', min: 0, step: '0.01', value: dollars(f.price_cents), on: { input: (e) => set('price_cents', cents(e.target.value)) } }), { errors, path: p + '.price_cents' }),
        textIn('help_text', 'Help text for shoppers'));

      // show_if: a field and the value(s) that show this one.
      const others = draft.fields.filter((x) => x !== f && x.key);
      const dep = others.find((x) => x.key === f.show_if?.field);
      const condBox = h('div', { class: 'row' });
      const depSel = select([['', 'Always show'], ...others.map((x) => [x.key, 'When “' + (x.label || x.key) + '” is…'])], f.show_if?.field, { on: { change: (e) => {
        const d = draft.fields.find((x) => x.key === e.target.value);
        if (!d) delete f.show_if; else f.show_if = { field: d.key, equals: d.type === 'checkbox' ? true : d.options?.length ? [d.options[0].value] : '' };
        renderFields(); changed();
      } } });
      if (dep) {
        const cur = [].concat(f.show_if.equals).map(String);
        if (dep.type === 'checkbox') {
          condBox.append(field('Value', select([['true', 'Ticked'], ['false', 'Not ticked']], String(f.show_if.equals), { on: { change: (e) => { f.show_if.equals = e.target.value === 'true'; changed(); } } }), { errors, path: p + '.show_if.equals', inline: true }));
        } else if (dep.options?.length) {
          const box = h('fieldset', { class: 'group group--inline' }, h('legend', { text: 'Any of these values' }), dep.options.map((o) => {
            const c = h('input', { type: 'checkbox', checked: cur.includes(String(o.value)), on: { change: () => {
              const vals = [...box.querySelectorAll('input:checked')].map((x) => x.value);
              f.show_if.equals = vals; changed();
            } } });
            c.value = o.value;
            return field(o.label || o.value, c);
          }));
          const sl = h('p', { class: 'field__error', hidden: true });
          errors.register(p + '.show_if.equals', box, sl);
          condBox.append(box, sl);
        } else {
          condBox.append(field('Value(s), separated by commas', input({ value: cur.join(', '), on: { input: (e) => { const v = e.target.value.split(',').map((s) => s.trim()).filter(Boolean); f.show_if.equals = v.length === 1 ? v[0] : v; changed(); } } }), { errors, path: p + '.show_if.equals', inline: true }));
        }
      }
      const summaryText = h('span', { class: 'fieldcard__label', text: f.label || 'Untitled field' });
      const details = h('details', { class: 'fieldcard__body', open: open, on: { toggle: (e) => { f._open = e.target.open; } } },
        h('summary', { class: 'fieldcard__summary' }, 'Settings'),
        h('div', { class: 'row' }, field('Label', labelIn, { errors, path: p + '.label', inline: true }), field('Key', keyIn, { errors, path: p + '.key', inline: true, help: 'a–z, 0–9 and _; stays the same across versions.' }), field('Type', typeIn, { errors, path: p + '.type', inline: true })),
        field('Required', req, { errors, path: p + '.required' }),
        settings,
        h('fieldset', { class: 'group' }, h('legend', { text: 'Show this field' }), field('Condition', depSel, { errors, path: p + '.show_if', inline: true }), condBox));
      // Pointer reordering (mouse, pen, touch): press the handle, move over another field, let go.
      const handle = h('span', { class: 'handle', title: 'Drag to reorder', 'aria-hidden': 'true', text: '⋮⋮' });
      const over = (e) => document.elementFromPoint(e.clientX, e.clientY)?.closest('.fieldcard');
      handle.addEventListener('pointerdown', (e) => { e.preventDefault(); handle.setPointerCapture(e.pointerId); dragFrom = i; li.classList.add('is-dragging'); });
      handle.addEventListener('pointermove', (e) => {
        if (dragFrom === null) return;
        fieldsBox.querySelectorAll('.is-over').forEach((n) => n.classList.remove('is-over'));
        over(e)?.classList.add('is-over');
      });
      handle.addEventListener('pointerup', (e) => {
        const target = over(e), from = dragFrom;
        dragFrom = null;
        li.classList.remove('is-dragging');
        fieldsBox.querySelectorAll('.is-over').forEach((n) => n.classList.remove('is-over'));
        const to = [...fieldsBox.children].indexOf(target);
        if (from !== null && to >= 0 && to !== from) move(from, to);
      });
      handle.addEventListener('pointercancel', () => { dragFrom = null; li.classList.remove('is-dragging'); });
      const li = h('li', { class: 'fieldcard', 'data-field-key': f.key || '' },
        h('div', { class: 'fieldcard__head' },
          handle,
          h('span', { class: 'fieldcard__pos', text: (i + 1) + '.' }), summaryText, badge(typeName(f.type)), f.required ? badge('Required', 'info') : null, f.show_if ? badge('Conditional') : null,
          h('span', { class: 'spacer' }),
          button('↑', () => move(i, i - 1), { small: true, plain: true, label: 'Move ' + (f.label || 'field') + ' up', disabled: i === 0 }),
          button('↓', () => move(i, i + 1), { small: true, plain: true, label: 'Move ' + (f.label || 'field') + ' down', disabled: i === draft.fields.length - 1 }),
          button('Delete', () => { draft.fields.splice(i, 1); for (const x of draft.fields) if (x.show_if?.field === f.key) delete x.show_if; renderFields(); changed(); announce.textContent = 'Field deleted.'; }, { small: true, plain: true, critical: true, label: 'Delete ' + (f.label || 'field') })),
        details);
      li.querySelector('[aria-label^="Move"]')?.setAttribute('data-move', 'up');
      li.querySelectorAll('[aria-label^="Move"]')[1]?.setAttribute('data-move', 'down');
      return li;
    }
    function renderFields() {
      // Error slots are rebuilt with the cards.
      for (const k of [...errors.map.keys()]) if (k.startsWith('fields[')) errors.map.delete(k);
      fieldsBox.replaceChildren(...draft.fields.map(fieldCard));
      if (!draft.fields.length) fieldsBox.append(h('li', { class: 'muted', text: 'No fields yet: add the first one below.' }));
    }
    renderFields();
    const fieldsSlot = h('p', { class: 'field__error', hidden: true });
    errors.register('fields', fieldsBox, fieldsSlot);
    fieldsBox.tabIndex = -1;
    const addType = select(TYPES, 'text');
    const addField = h('div', { class: 'row row--end' }, field('New field type', addType, { inline: true }), button('Add field', () => {
      const n = draft.fields.length + 1;
      const f = { key: 'field_' + n, label: '', type: addType.value, required: false, _open: true };
      if (f.type === 'select' || f.type === 'swatch') f.options = [{ value: 'option_1', label: 'Option 1' }];
      draft.fields.push(f);
      renderFields(); changed();
      fieldsBox.lastChild.querySelector('input')?.focus();
    }));

    // ---- products
    const assigned = h('ul', { class: 'tags' });
    const renderAssigned = () => assigned.replaceChildren(...(draft.product_ids.length ? draft.product_ids.map((pid, k) => h('li', { class: 'tag' }, h('span', { text: titleOf(pid) }),
      button('×', () => { draft.product_ids.splice(k, 1); renderAssigned(); dirty = true; }, { plain: true, small: true, label: 'Unassign ' + titleOf(pid) }))) : [h('li', { class: 'muted', text: 'Not assigned to any product yet.' })]));
    renderAssigned();
    const prodSlot = h('p', { class: 'field__error', hidden: true });
    const prodHolder = h('div', { tabindex: '-1' });
    errors.register('product_ids', prodHolder, prodSlot);
    const picker = productPicker('Assign to a product', (p) => { titles.set(p.product_id, p); if (!draft.product_ids.includes(p.product_id)) draft.product_ids.push(p.product_id); renderAssigned(); dirty = true; toast('Assigned to ' + p.title + ' (save to publish).'); }, { exclude: () => draft.product_ids });

    // ---- versions
    const versionsBox = h('div', {}, h('p', { class: 'muted', text: isNew ? 'Saved versions appear here.' : 'Loading…' }));
    const loadVersions = async () => {
      if (isNew) return;
      const v = await api('/api/templates/' + encodeURIComponent(id) + '/versions');
      versionsBox.replaceChildren(h('table', { class: 'table' }, h('caption', { class: 'visually-hidden', text: 'Version history' }),
        h('thead', {}, h('tr', {}, ['Version', 'Published', 'Fields', 'Orders pinned', ''].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, v.items.map((x) => h('tr', {}, h('td', { text: 'v' + x.version + (x.version === t.version ? ' (current)' : '') }), h('td', { text: when(x.created_at) }), h('td', { text: x.field_count }),
          h('td', { text: x.pinned_orders + (x.pinned_lines !== x.pinned_orders ? ' (' + plural(x.pinned_lines, 'line') + ')' : '') }),
          h('td', {}, h('details', {}, h('summary', { text: 'Fields' }), h('ul', {}, (x.fields || []).map((f) => h('li', { text: f.label + ' · ' + typeName(f.type) + (f.required ? ' · required' : '') }))))))))));
    };
    loadVersions().catch((e) => versionsBox.replaceChildren(h('p', { class: 'field__error', text: e.message })));

    // ---- save / delete
    const save = button(isNew ? 'Save template' : 'Save', async () => busy(save, async () => {
      errors.clear();
      try {
        const body = { name: draft.name, fields: draft.fields.map(cleanField), product_ids: draft.product_ids };
        const out = await api(isNew ? '/api/templates' : '/api/templates/' + encodeURIComponent(id), { method: isNew ? 'POST' : 'PUT', body });
        dirty = false;
        if (isNew) { toastOnNextPage('Template saved: version ' + out.version + '.'); location.hash = '#/templates/' + encodeURIComponent(out.id); } else {
          toast('Template saved: version ' + out.version + '.'); t.version = out.version; versionLine.textContent = 'Version ' + out.version; loadVersions(); }
      } catch (e) {
        if (e.status === 422) { errors.show(e); toast('The template was not saved: fix the highlighted settings.', true); } else toast(e.message, true);
      }
    }), { primary: true });
    const del = isNew ? null : button('Delete', async () => {
      if (!(await confirmDialog('Delete this template?', 'Its products stop showing the fields. Orders keep the versions they pinned.', 'Delete template'))) return;
      try { await api('/api/templates/' + encodeURIComponent(id), { method: 'DELETE' }); toastOnNextPage('Template deleted.'); dirty = false; location.hash = '#/templates'; } catch (e) { toast(e.message, true); }
    }, { critical: true });
    const versionLine = h('p', { class: 'muted', text: isNew ? 'Not saved yet' : 'Version ' + t.version });
    const beforeUnload = (e) => { if (dirty) { e.preventDefault(); e.returnValue = ''; } };
    window.addEventListener('beforeunload', beforeUnload);
    onLeave(() => window.removeEventListener('beforeunload', beforeUnload));

    return h('div', { class: 'page' },
      pageHead(isNew ? 'New template' : t.name || 'Template', ['Templates', '#/templates'], del, save),
      versionLine, errors.summary, announce,
      h('div', { class: 'layout' },
        h('div', { class: 'layout__main' },
          card('Template', field('Name', nameInput, { errors, path: 'name', help: 'Only you see it.' })),
          card('Fields', h('p', { class: 'muted', text: 'Shoppers see the fields in this order. Reorder with ↑ ↓ or drag the handle.' }), fieldsSlot, fieldsBox, addField)),
        h('div', { class: 'layout__side' },
          card('Storefront preview', h('p', { class: 'muted', text: 'The product page block itself, with your unsaved changes.' }), preview.frame),
          card('Products', prodHolder, prodSlot, assigned, picker),
          card('Version history', versionsBox))));
  });

  // ------------------------------------------------------------------ Production

  const STATUS = { pending: ['Pending', 'attention'], in_production: ['In production', 'info'], done: ['Done', 'success'] };
  const NEXT = { pending: ['in_production', 'Start production'], in_production: ['done', 'Mark done'] };
  const visibleProps = (line) => line.properties.filter((p) => !p.name.startsWith('_'));
  const verification = (l) => l.flagged ? badge('Check: ' + (l.verdict || 'flagged'), 'critical') : l.personalization_verified ? badge('Verified', 'success') : badge('Not verified', 'warning');

  route(/^\/production\/?$/, async () => {
    const f = { status: '', verification: '', product_id: '', from: '', to: '' };
    const tbody = h('tbody');
    const more = button('Load more', () => load(true));
    more.hidden = true;
    const status = h('p', { class: 'muted', 'aria-live': 'polite' });
    const problems = h('div', { 'aria-live': 'assertive' });
    const filterErr = new Errors();
    let cursor = null;
    const products = await api('/api/products?limit=250').catch(() => ({ items: [] }));
    products.items.forEach((p) => titles.set(p.product_id, p));

    function row(l) {
      const tr = h('tr', { 'data-line-id': l.line_item_id });
      const next = NEXT[l.status];
      const act = next ? button(next[1], () => busy(act, async () => {
        problems.replaceChildren();
        try {
          const out = await api('/api/orders/' + l.order_id + '/items/' + l.line_item_id, { method: 'PATCH', body: { status: next[0] } });
          Object.assign(l, out);
          tr.replaceWith(row(l));
          toast(l.order_name + ': ' + STATUS[out.status][0].toLowerCase() + '.');
        } catch (e) {
          if (e.status === 409) {
            problems.replaceChildren(banner('warning', 'That status change is not possible.', h('p', { text: e.message }),
              h('p', { text: 'Lines move one step at a time: pending → in production → done. Someone may have moved this line already; the list was refreshed.' })));
            load(false);
          } else toast(e.message, true);
        }
      }), { small: true, primary: l.status === 'pending' }) : null;
      const money2 = l.expected_cents === l.charged_cents ? money(l.charged_cents) : null;
      tr.append(
        h('td', {}, h('strong', { text: l.order_name }), h('br'), h('span', { class: 'muted', text: day(l.created_at) }), l.cancelled ? badge('Cancelled', 'critical') : null),
        h('td', { text: l.title || titleOf(l.product_id) }),
        h('td', {}, h('ul', { class: 'props' }, visibleProps(l).map((p) => h('li', {}, h('span', { class: 'muted', text: p.name + ': ' }), h('span', { class: 'prop-value', text: p.value }))))),
        h('td', {}, verification(l)),
        h('td', { class: l.flagged ? 'is-flagged' : null }, money2 || h('span', {}, 'Expected ' + money(l.expected_cents), h('br'), 'Charged ' + money(l.charged_cents))),
        h('td', {}, badge(STATUS[l.status]?.[0] || l.status, STATUS[l.status]?.[1])),
        h('td', { class: 'actions' }, act, h('a', { class: 'btn btn--small btn--plain', href: '#/production/' + l.line_item_id, 'aria-label': 'Print view of ' + l.order_name + ' ' + (l.title || '') }, 'Print view')));
      return tr;
    }
    async function load(append) {
      filterErr.clear();
      try {
        const page = await api('/api/production/lines' + qs({ ...f, cursor: append ? cursor : '', limit: 50 }));
        cursor = page.next_cursor;
        if (!append) tbody.replaceChildren();
        tbody.append(...page.items.map(row));
        if (!tbody.childElementCount) tbody.append(h('tr', {}, h('td', { colspan: 7 }, empty('No personalized lines', 'Lines appear here when orders with personalized products arrive.'))));
        more.hidden = !cursor;
        status.textContent = plural(tbody.querySelectorAll('tr[data-line-id]').length, 'line') + ' shown.';
      } catch (e) { if (e.status === 422) filterErr.show(e); else toast(e.message, true); }
    }
    const fSel = (k, label, opts) => field(label, select(opts, f[k], { on: { change: (e) => { f[k] = e.target.value; load(false); } } }), { errors: filterErr, path: k, inline: true });
    const fDate = (k, label) => field(label, input({ type: 'date', on: { change: (e) => { f[k] = e.target.value; load(false); } } }), { errors: filterErr, path: k, inline: true });
    const csv = button('Download CSV', () => busy(csv, async () => {
      try { await download(await api('/api/orders/export.csv', { raw: true }), 'atelier-production.csv'); toast('CSV downloaded.'); } catch (e) { toast(e.message, true); }
    }));
    load(false);
    return h('div', { class: 'page' }, pageHead('Production', null, csv),
      filterErr.summary, problems,
      card('Filters', h('div', { class: 'row filters' },
        fSel('status', 'Status', [['', 'All'], ['pending', 'Pending'], ['in_production', 'In production'], ['done', 'Done']]),
        fSel('verification', 'Verification', [['', 'All'], ['verified', 'Verified'], ['failed', 'Not verified'], ['flagged', 'Flagged (check before producing)']]),
        fSel('product_id', 'Product', [['', 'All products'], ...products.items.map((p) => [p.product_id, p.title])]),
        fDate('from', 'From'), fDate('to', 'To'))),
      card(null, status, h('div', { class: 'table-wrap' }, h('table', { class: 'table' }, h('caption', { class: 'visually-hidden', text: 'Personalized lines' }),
        h('thead', {}, h('tr', {}, ['Order', 'Product', 'Personalization', 'Verification', 'Add-on', 'Status', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))), tbody)), more));
  });

  route(/^\/production\/(\d+)$/, async (lineId) => {
    const l = await api('/api/production/lines/' + lineId);
    const svg = h('div', { class: 'print__preview' });
    api('/api/production/lines/' + lineId + '/preview.svg', { raw: true }).then(async (r) => {
      const url = URL.createObjectURL(await r.blob());
      onLeave(() => URL.revokeObjectURL(url));
      svg.append(h('img', { src: url, alt: 'Preview of the personalization as drawn on the product', class: 'print__svg' }));
    }).catch(() => svg.append(h('p', { class: 'muted', text: 'No preview for this line.' })));
    const props = visibleProps(l).map((p) => {
      const isUpload = /^https?:\/\/[^\s]+\/uploads\/[A-Za-z0-9_-]+$/.test(p.value) || /^\/uploads\//.test(p.value);
      let sameOrigin = false;
      try { sameOrigin = new URL(p.value, location.href).origin === location.origin; } catch { /* not a URL */ }
      return h('div', { class: 'print__row' }, h('dt', { text: p.name }), h('dd', {}, h('span', { class: 'prop-value', text: p.value }),
        isUpload && sameOrigin ? h('img', { src: new URL(p.value, location.href).pathname, alt: 'Uploaded image for ' + p.name, class: 'print__upload' }) : null));
    });
    return h('div', { class: 'page page--print' }, pageHead(l.order_name + ' · ' + (l.title || titleOf(l.product_id)), ['Production', '#/production'], button('Print', () => window.print(), { primary: true })),
      card('Line', h('dl', { class: 'print__list' },
        [['Order', l.order_name], ['Ordered', when(l.created_at)], ['Product', l.title], ['Quantity', l.quantity], ['Status', STATUS[l.status]?.[0] || l.status], ['Template version', l.template_version != null ? 'v' + l.template_version : '—'],
          ['Add-on expected', money(l.expected_cents)], ['Add-on charged', money(l.charged_cents)]].map(([k, v]) => h('div', { class: 'print__row' }, h('dt', { text: k }), h('dd', { text: String(v ?? '—') })))),
      h('p', {}, verification(l))),
      card('Personalization', h('dl', { class: 'print__list' }, props)),
      card('Preview', svg));
  });

  // ------------------------------------------------------------------ Preference center

  const TEXT_LABELS = { title: 'Heading', intro: 'Introduction', personalization_consent: 'Personalization consent (checkbox text)', marketing_consent: 'Marketing consent (checkbox text)' };
  route(/^\/preferences\/?$/, async () => {
    const s = await api('/api/preference-center');
    const errors = new Errors();
    const preview = blockPreview('preference-center', () => ({
      '/preference-center': s,
      '/preferences': { customer_id: '1', sizes: {}, interests: [], communication: { email: false, sms: false, frequency: null }, consent: { personalization: false, marketing: false }, updated_at: null },
    }), 'Storefront preview of the preference center');
    const changed = () => preview.refresh();
    const sizesBox = h('div');
    const interestsBox = h('div');
    const renderSizes = () => sizesBox.replaceChildren(...s.size_categories.map((c, i) => h('fieldset', { class: 'group' }, h('legend', { text: 'Size category ' + (i + 1) }),
      h('div', { class: 'row' },
        field('Label', input({ value: c.label, on: { input: (e) => { c.label = e.target.value; changed(); } } }), { errors, path: 'size_categories[' + i + '].label', inline: true }),
        field('Key', input({ value: c.key, spellcheck: 'false', on: { input: (e) => { c.key = e.target.value; changed(); } } }), { errors, path: 'size_categories[' + i + '].key', inline: true })),
      field('Sizes, separated by commas', input({ value: c.sizes.join(', '), on: { input: (e) => { c.sizes = e.target.value.split(',').map((x) => x.trim()).filter(Boolean); changed(); } } }), { errors, path: 'size_categories[' + i + '].sizes' }),
      button('Remove category', () => { s.size_categories.splice(i, 1); renderSizes(); changed(); }, { plain: true, small: true, critical: true, label: 'Remove size category ' + (c.label || i + 1) }))));
    const renderInterests = () => interestsBox.replaceChildren(...s.interests.map((it, i) => h('div', { class: 'row row--end' },
      field('Interest ' + (i + 1) + ' label', input({ value: it.label, on: { input: (e) => { it.label = e.target.value; changed(); } } }), { errors, path: 'interests[' + i + '].label', inline: true }),
      field('Key', input({ value: it.key, spellcheck: 'false', on: { input: (e) => { it.key = e.target.value; changed(); } } }), { errors, path: 'interests[' + i + '].key', inline: true }),
      button('Remove', () => { s.interests.splice(i, 1); renderInterests(); changed(); }, { plain: true, small: true, critical: true, label: 'Remove interest ' + (it.label || i + 1) }))));
    renderSizes(); renderInterests();
    const freq = input({ value: s.frequencies.join(', '), spellcheck: 'false', on: { input: (e) => { s.frequencies = e.target.value.split(',').map((x) => x.trim()).filter(Boolean); changed(); } } });
    const texts = Object.keys({ intro: 1, personalization_consent: 1, marketing_consent: 1, ...s.texts }).map((k) => field(TEXT_LABELS[k] || k.charAt(0).toUpperCase() + k.slice(1).replace(/_/g, ' '), h('textarea', { class: 'input', rows: 2, value: s.texts[k] ?? '', on: { input: (e) => { s.texts[k] = e.target.value; if (!e.target.value) delete s.texts[k]; changed(); } } }), { errors, path: 'texts.' + k }));
    const save = button('Save', () => busy(save, async () => {
      errors.clear();
      try {
        Object.assign(s, await api('/api/preference-center', { method: 'PUT', body: { size_categories: s.size_categories, interests: s.interests, frequencies: s.frequencies, texts: s.texts } }));
        // The controls edit the stored objects from now on.
        renderSizes(); renderInterests();
        toast('Preference center saved.');
        changed();
      } catch (e) { if (e.status === 422) { errors.show(e); toast('Not saved: fix the highlighted settings.', true); } else toast(e.message, true); }
    }), { primary: true });

    // Customer lookup
    const lookupErr = new Errors();
    const custIn = input({ inputmode: 'numeric', placeholder: 'e.g. 7100000042', required: true, autocomplete: 'off' });
    const result = h('div', { 'aria-live': 'polite' });
    const lookup = h('form', { class: 'row row--end', on: { submit: async (ev) => {
      ev.preventDefault();
      lookupErr.clear();
      result.replaceChildren(skeleton(2));
      try {
        const c = await api('/api/customers/' + encodeURIComponent(custIn.value.trim()) + '/preferences');
        const p = c.preferences;
        result.replaceChildren(
          h('h3', { class: 'subheading', text: 'Customer ' + p.customer_id }),
          h('dl', { class: 'print__list' }, [
            ['Sizes', Object.entries(p.sizes).map(([k, v]) => k + ': ' + v).join(', ') || '—'],
            ['Interests', p.interests.join(', ') || '—'],
            ['Email', p.communication.email ? 'Yes' : 'No'], ['SMS', p.communication.sms ? 'Yes' : 'No'], ['Frequency', p.communication.frequency || '—'],
            ['Personalization consent', p.consent.personalization ? 'Given' : 'Not given'], ['Marketing consent', p.consent.marketing ? 'Given' : 'Not given'], ['Updated', when(p.updated_at)],
          ].map(([k, v]) => h('div', { class: 'print__row' }, h('dt', { text: k }), h('dd', { text: v })))),
          h('h3', { class: 'subheading', text: 'Consent history' }),
          c.consent_history.length ? h('table', { class: 'table' }, h('thead', {}, h('tr', {}, ['When', 'What', 'From', 'To', 'Source'].map((x) => h('th', { scope: 'col', text: x })))),
            h('tbody', {}, c.consent_history.map((e) => h('tr', {}, h('td', { text: when(e.at) }), h('td', { text: e.field }), h('td', { text: String(e.old) }), h('td', { text: String(e.new) }), h('td', { text: e.source }))))) : h('p', { class: 'muted', text: 'No consent changes recorded.' }),
          h('h3', { class: 'subheading', text: 'Saved personalizations' }),
          c.saved.length ? h('ul', {}, c.saved.map((x) => h('li', {}, h('strong', { text: x.name }), ' ', h('span', { class: 'muted', text: Object.entries(x.values).map(([k, v]) => k + ': ' + v).join(', ') })))) : h('p', { class: 'muted', text: 'None saved.' }));
      } catch (e) {
        result.replaceChildren();
        if (e.status === 404) result.append(empty('No such customer', 'Atelier has nothing stored about this customer id.'));
        else if (e.status === 422 || e.status === 400) lookupErr.show(e); else toast(e.message, true);
      }
    } } }, field('Customer id', custIn, { errors: lookupErr, path: 'customer_id', inline: true }), button('Look up', null, { submit: true }));
    // A refused id (400, no field path) is shown beside the id's control too.
    lookupErr.register('', custIn, lookupErr.map.get('customer_id').slot);

    return h('div', { class: 'page' }, pageHead('Preference center', null, save), errors.summary,
      h('div', { class: 'layout' },
        h('div', { class: 'layout__main' },
          card('Sizes', h('p', { class: 'muted', text: 'Shoppers pick one size per category; recommendations then show only products in their size.' }), sizesBox,
            button('Add size category', () => { s.size_categories.push({ key: 'category_' + (s.size_categories.length + 1), label: '', sizes: [] }); renderSizes(); changed(); sizesBox.lastChild.querySelector('input').focus(); }, { small: true })),
          card('Interests', interestsBox, button('Add interest', () => { s.interests.push({ key: 'interest_' + (s.interests.length + 1), label: '' }); renderInterests(); changed(); interestsBox.lastChild.querySelector('input').focus(); }, { small: true })),
          card('Contact frequencies', field('Frequencies, separated by commas', freq, { errors, path: 'frequencies', help: 'Keys such as weekly, monthly.' })),
          card('Texts', texts),
          card('Customer lookup', lookupErr.summary, lookup, result)),
        h('div', { class: 'layout__side' }, card('Storefront preview', h('p', { class: 'muted', text: 'The account page block itself, with your unsaved settings.' }), preview.frame))));
  });

  // ------------------------------------------------------------------ Recommendations

  const INTENTS = [['related', 'Similar products'], ['complementary', 'Bought together'], ['for_you', 'Picked for you'], ['trending', 'Trending']];
  // Every widget analytics reports on: also those whose input is the shopper's (a cart, a session).
  const WIDGETS = [...INTENTS, ['cart', 'Complete the cart'], ['recently_viewed', 'Recently viewed']];
  const reasonText = (r) => Object.entries(r).filter(([k]) => k !== 'type').map(([k, v]) => k.replace(/_/g, ' ') + ' ' + (Array.isArray(v) ? v.join(', ') || 'none' : typeof v === 'object' && v ? JSON.stringify(v) : v)).join(', ');

  route(/^\/recommendations\/?$/, async () => {
    const s = await api('/api/recommendations/settings');
    const catalogue = await api('/api/products?limit=250');
    catalogue.items.forEach((p) => titles.set(p.product_id, p));
    await loadTitles([...Object.keys(s.pinned), ...Object.values(s.pinned).flat(), ...Object.keys(s.excluded), ...Object.values(s.excluded).flat(), ...s.excluded_everywhere]).catch(() => {});
    const errors = new Errors();
    let source = catalogue.items[0]?.product_id || '';
    let intent = 'related';
    const listEditor = (ids, what) => {
      const ul = h('ol', { class: 'ranked' });
      const render = () => ul.replaceChildren(...(ids.length ? ids.map((pid, k) => h('li', { class: 'ranked__item' }, h('span', { text: titleOf(pid) }), h('span', { class: 'spacer' }),
        what === 'pinned' ? button('↑', () => { if (k) { ids.splice(k - 1, 0, ids.splice(k, 1)[0]); render(); } }, { small: true, plain: true, label: 'Move ' + titleOf(pid) + ' up', disabled: k === 0 }) : null,
        button('Remove', () => { ids.splice(k, 1); render(); }, { small: true, plain: true, critical: true, label: 'Remove ' + titleOf(pid) }))) : [h('li', { class: 'muted', text: 'None.' })]));
      render();
      return { ul, render };
    };
    const perProduct = h('div');
    const renderPerProduct = () => {
      if (!source) { perProduct.replaceChildren(h('p', { class: 'muted', text: 'No synced products yet.' })); return; }
      const pins = s.pinned[source] || (s.pinned[source] = []);
      const excl = s.excluded[source] || (s.excluded[source] = []);
      const pe = listEditor(pins, 'pinned'), ee = listEditor(excl, 'excluded');
      perProduct.replaceChildren(
        h('div', { class: 'row' },
          h('div', { class: 'col' }, h('h3', { class: 'subheading', text: 'Pinned first, in this order' }), pe.ul,
            productPicker('Pin a product', (p) => { if (!pins.includes(p.product_id)) pins.push(p.product_id); pe.render(); }, { exclude: () => [source, ...pins] })),
          h('div', { class: 'col' }, h('h3', { class: 'subheading', text: 'Never shown on this product' }), ee.ul,
            productPicker('Exclude a product', (p) => { if (!excl.includes(p.product_id)) excl.push(p.product_id); ee.render(); }, { exclude: () => [source, ...excl] }))));
    };
    renderPerProduct();
    const everywhere = listEditor(s.excluded_everywhere, 'excluded');
    const sourceSel = select(catalogue.items.map((p) => [p.product_id, p.title]), source, { on: { change: (e) => { source = e.target.value; renderPerProduct(); explain(); } } });
    const intentSel = select(INTENTS, intent, { on: { change: (e) => { intent = e.target.value; explain(); } } });
    const explainBox = h('div', { 'aria-live': 'polite' });
    let lastExplain = { products: [] };
    const preview = blockPreview('recommendations', () => ({
      '/recommendations': { intent, products: lastExplain.products.slice(0, 4).map((p) => { const c = titles.get(p.product_id) || {}; return { product_id: p.product_id, score: p.score, title: c.title || 'Product ' + p.product_id, handle: c.handle || String(p.product_id), price_cents: c.price_min_cents, image_url: c.image_url }; }) },
    }), 'Storefront preview of the recommendations widget');
    async function explain() {
      explainBox.replaceChildren(skeleton(2));
      try {
        lastExplain = await api('/api/recommendations/explain' + qs({ intent, product_id: intent === 'trending' || intent === 'for_you' ? '' : source, limit: 10 }));
        await loadTitles(lastExplain.products.map((p) => p.product_id)).catch(() => {});
        explainBox.replaceChildren(lastExplain.products.length ? h('table', { class: 'table' }, h('caption', { class: 'visually-hidden', text: 'Why each product is recommended' }),
          h('thead', {}, h('tr', {}, ['#', 'Product', 'Score', 'Why'].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, lastExplain.products.map((p, k) => h('tr', {}, h('td', { text: k + 1 }), h('td', { text: titleOf(p.product_id) }), h('td', { text: Number(p.score).toFixed(3) }),
            h('td', {}, h('ul', { class: 'props' }, p.reasons.map((r) => h('li', {}, h('strong', { text: String(r.type || '').replace(/_/g, ' ') + ': ' }), reasonText(r))))))))) : empty('Nothing to recommend yet', 'Orders and storefront visits teach Atelier what goes together.'));
        preview.refresh();
      } catch (e) { explainBox.replaceChildren(h('p', { class: 'field__error', text: e.message })); }
    }
    explain();
    const save = button('Save', () => busy(save, async () => {
      errors.clear();
      const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v.length));
      // Keys emptied here are sent as [] so the PUT clears them.
      const body = { pinned: Object.fromEntries(Object.entries(s.pinned).map(([k, v]) => [k, v])), excluded: Object.fromEntries(Object.entries(s.excluded).map(([k, v]) => [k, v])), excluded_everywhere: s.excluded_everywhere };
      try {
        const out = await api('/api/recommendations/settings', { method: 'PUT', body });
        s.pinned = clean(out.pinned); s.excluded = clean(out.excluded); s.excluded_everywhere.splice(0, Infinity, ...out.excluded_everywhere);
        everywhere.render();
        toast('Recommendation settings saved.');
        renderPerProduct(); explain();
      } catch (e) { if (e.status === 422) errors.show(e); else toast(e.message, true); }
    }), { primary: true });
    errors.register('pinned', perProduct, h('p', { class: 'field__error', hidden: true }));
    errors.register('excluded', perProduct, errors.map.get('pinned').slot);
    return h('div', { class: 'page' }, pageHead('Recommendations', null, save), errors.summary, errors.map.get('pinned').slot,
      h('div', { class: 'layout' },
        h('div', { class: 'layout__main' },
          card('Per product', field('Product being viewed', sourceSel), perProduct),
          card('Excluded everywhere', everywhere.ul, productPicker('Exclude from every widget', (p) => { if (!s.excluded_everywhere.includes(p.product_id)) s.excluded_everywhere.push(p.product_id); everywhere.render(); }, { exclude: () => s.excluded_everywhere })),
          card('Explain', h('p', { class: 'muted', text: 'What an anonymous shopper gets on the product above, and why.' }), field('Widget', intentSel), explainBox)),
        h('div', { class: 'layout__side' }, card('Widget preview', h('p', { class: 'muted', text: 'The storefront widget itself, with the explained list (saved settings).' }), preview.frame))));
  });

  // ------------------------------------------------------------------ Analytics

  route(/^\/analytics\/?$/, async () => {
    let days = 30, metric = 'clicks', funnelIntent = 'all';
    const body = h('div', { 'aria-live': 'polite' });
    const METRICS = [['impressions', 'Impressions'], ['clicks', 'Clicks'], ['add_to_carts', 'Add-to-carts'], ['attributed_orders', 'Orders'], ['attributed_revenue_cents', 'Revenue']];
    const COLORS = { related: 'c1', complementary: 'c2', for_you: 'c3', trending: 'c4', cart: 'c5', recently_viewed: 'c6' };
    const fmt = (m, v) => (m === 'attributed_revenue_cents' ? money(v) : num(v));
    function chart(series) {
      const W = 640, H = 200, P = 28;
      const max = Math.max(1, ...series.flatMap((d) => WIDGETS.map(([i]) => d.intents[i][metric])));
      const x = (k) => P + (series.length <= 1 ? 0 : (k * (W - 2 * P)) / (series.length - 1));
      const y = (v) => H - P - (v / max) * (H - 2 * P);
      const ns = 'http://www.w3.org/2000/svg';
      const s = (tag, a) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(a)) n.setAttribute(k, v); return n; };
      const label = METRICS.find(([m]) => m === metric)[1] + ' per day, last ' + days + ' days';
      const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img', 'aria-label': label + ' (the table below has the figures)' });
      svg.append(s('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, class: 'chart__axis' }));
      const top = s('text', { x: 2, y: P - 4, class: 'chart__tick' }); top.textContent = fmt(metric, max); svg.append(top);
      for (const [i] of WIDGETS) svg.append(s('polyline', { points: series.map((d, k) => x(k) + ',' + y(d.intents[i][metric])).join(' '), class: 'chart__line chart__line--' + COLORS[i] }));
      const first = s('text', { x: P, y: H - 8, class: 'chart__tick' }); first.textContent = series[0]?.date || ''; svg.append(first);
      const last = s('text', { x: W - P, y: H - 8, class: 'chart__tick', 'text-anchor': 'end' }); last.textContent = series[series.length - 1]?.date || ''; svg.append(last);
      const legend = h('ul', { class: 'legend' }, WIDGETS.map(([i, t]) => h('li', {}, h('span', { class: 'legend__swatch legend__swatch--' + COLORS[i], 'aria-hidden': 'true' }), t)));
      const table = h('details', {}, h('summary', { text: 'Figures per day' }), h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Day' }), WIDGETS.map(([, t]) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, series.filter((d) => WIDGETS.some(([i]) => d.intents[i][metric])).map((d) => h('tr', {}, h('th', { scope: 'row', text: d.date }), WIDGETS.map(([i]) => h('td', { text: fmt(metric, d.intents[i][metric]) }))))))));
      return h('div', {}, svg, legend, table);
    }
    function funnel(totals) {
      const sum = (m) => (funnelIntent === 'all' ? WIDGETS.reduce((a, [i]) => a + totals[i][m], 0) : totals[funnelIntent][m]);
      const steps = [['impressions', 'Impressions'], ['clicks', 'Clicks'], ['add_to_carts', 'Add-to-carts'], ['attributed_orders', 'Orders']].map(([m, t]) => [t, sum(m)]);
      const top = Math.max(1, steps[0][1]);
      return h('ol', { class: 'funnel' }, steps.map(([t, v], k) => h('li', { class: 'funnel__step' },
        h('span', { class: 'funnel__label', text: t }),
        h('span', { class: 'funnel__bar' }, h('span', { class: 'funnel__fill', 'data-w': Math.round((v / top) * 100) })),
        h('span', { class: 'funnel__value', text: num(v) + (k ? ' (' + (steps[k - 1][1] ? Math.round((v / steps[k - 1][1]) * 1000) / 10 : 0) + '%)' : '') }))));
    }
    async function load() {
      body.replaceChildren(skeleton(4));
      const a = await api('/api/analytics/daily?days=' + days);
      const totals = a.totals;
      const active = WIDGETS.some(([i]) => METRICS.some(([m]) => totals[i][m]));
      if (!active) {
        body.replaceChildren(card(null, empty('No widget activity in this period', 'Impressions, clicks, add-to-carts and orders appear here once shoppers see the recommendation widgets on your storefront. Choose a longer period to look further back.')));
        return;
      }
      const fillBars = (root) => root.querySelectorAll('.funnel__fill').forEach((n) => { n.style.width = n.dataset.w + '%'; });
      const fun = h('div', {}, funnel(totals));
      fillBars(fun);
      body.replaceChildren(
        card('By widget', h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-analytics': '' }, h('caption', { class: 'visually-hidden', text: 'Totals per widget' }),
          h('thead', {}, h('tr', {}, ['Widget', 'Impressions', 'Clicks', 'Click rate', 'Add-to-carts', 'Orders', 'Revenue'].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, WIDGETS.map(([i, t]) => { const c = totals[i]; return h('tr', { 'data-intent': i }, h('th', { scope: 'row', text: t }), h('td', { text: num(c.impressions) }), h('td', { 'data-clicks': '', text: num(c.clicks) }), h('td', { text: c.impressions ? (Math.round((c.clicks / c.impressions) * 1000) / 10) + '%' : '—' }), h('td', { text: num(c.add_to_carts) }), h('td', { text: num(c.attributed_orders) }), h('td', { text: money(c.attributed_revenue_cents) })); }))))),
        card('Over time', field('Measure', select(METRICS, metric, { on: { change: (e) => { metric = e.target.value; chartBox.replaceChildren(chart(a.series)); } } }), { inline: true }), (chartBox = h('div', {}, chart(a.series)))),
        card('Funnel', field('Widget', select([['all', 'All widgets'], ...WIDGETS], funnelIntent, { on: { change: (e) => { funnelIntent = e.target.value; fun.replaceChildren(funnel(totals)); fillBars(fun); } } }), { inline: true }), fun,
          h('p', { class: 'muted', text: 'Add-to-carts count within 24 hours of a click on the same product; orders within 7 days of a logged-in shopper’s click.' })));
    }
    let chartBox;
    const period = select([[7, 'Last 7 days'], [30, 'Last 30 days'], [90, 'Last 90 days'], [365, 'Last 12 months']], days, { on: { change: (e) => { days = Number(e.target.value); load().catch((er) => toast(er.message, true)); } } });
    await load();
    return h('div', { class: 'page' }, pageHead('Analytics'), card(null, field('Period', period, { inline: true })), body);
  });

  // ------------------------------------------------------------------ Privacy

  const TOPICS = { 'customers/data_request': 'Data request', 'customers/redact': 'Customer erasure', 'shop/redact': 'Shop erasure' };
  route(/^\/privacy\/?$/, async () => {
    const list = await api('/api/compliance/requests?limit=250');
    const STATE = { received: ['Received', 'attention'], completed: ['Completed', 'success'], failed: ['Failed', 'critical'] };
    return h('div', { class: 'page' }, pageHead('Privacy'),
      h('p', { class: 'muted', text: 'Shopify forwards customers’ data and erasure requests; Atelier answers them on its own. Exports hold everything Atelier stores about the customer.' }),
      card(null, list.items.length ? h('table', { class: 'table' }, h('caption', { class: 'visually-hidden', text: 'Compliance requests' }),
        h('thead', {}, h('tr', {}, ['Request', 'Customer', 'Received', 'State', 'Export'].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, list.items.map((r) => h('tr', {}, h('td', { text: TOPICS[r.topic] || r.topic }), h('td', { text: r.customer_id || '—' }), h('td', { text: when(r.received_at) }),
          h('td', {}, badge(STATE[r.state]?.[0] || r.state, STATE[r.state]?.[1])),
          h('td', {}, r.export ? button('Download export', () => {
            const blob = new Blob([JSON.stringify(r.export, null, 2)], { type: 'application/json' });
            download(new Response(blob), 'atelier-export-customer-' + (r.customer_id || r.id) + '.json');
          }, { small: true, label: 'Download export for customer ' + (r.customer_id || '') }) : '—')))))
        : empty('No privacy requests', 'When a customer asks the store for their data, or to be forgotten, the request and its export show here.')));
  });

  // ------------------------------------------------------------------ start

  // Pages kept in their own files (loaded after this one, deferred) register through this.
  window.atelierAdmin = { h, api, qs, route, onLeave, toast, button, busy, card, badge, banner, empty, skeleton, pageHead, Errors, field, input, select, when, num, confirm: confirmDialog };
  // Every deferred script has run by DOMContentLoaded, so their routes exist by then.
  document.addEventListener('DOMContentLoaded', navigate);
})();
