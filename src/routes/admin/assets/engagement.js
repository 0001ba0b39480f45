// Atelier merchant admin: wishlists (what shoppers keep) and follow-ups (settings, deliveries). Registered on the shared admin script's
// router; every merchant- or shopper-supplied string is set as text.
(() => {
  'use strict';
  const A = window.atelierAdmin;
  if (!A) return;
  const { h, api, route, card, empty, pageHead, field, select, toast, when, num } = A;

  route(/^\/wishlists\/?$/, async () => {
    let limit = 50;
    const body = h('div', {});
    async function load() {
      const list = await api('/api/wishlists/most-wished?limit=' + limit);
      body.replaceChildren(list.items.length
        ? card('Most wished products', h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-most-wished': '' },
          h('caption', { class: 'visually-hidden', text: 'Products by number of wishlists' }),
          h('thead', {}, h('tr', {}, ['Product', 'Wishlists', 'Last added'].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, list.items.map((p) => h('tr', { 'data-product-id': p.product_id },
            h('th', { scope: 'row', text: p.title || 'Product ' + p.product_id + ' (no longer synced)' }),
            h('td', { text: num(p.wishers) }),
            h('td', { text: when(p.last_added_at) })))))))
        : empty('No wishlists yet', 'When shoppers save products with the heart button, the products they keep most show here.'));
    }
    const size = select([[10, 'Top 10'], [50, 'Top 50'], [250, 'Top 250']], limit, { on: { change: (e) => { limit = Number(e.target.value); load().catch((er) => toast(er.message, true)); } } });
    await load();
    return h('div', { class: 'page' }, pageHead('Wishlists'),
      h('p', { class: 'muted', text: 'How many shoppers keep each product in their wishlist. Only counts are shown here; a shopper’s own list is in their data export.' }),
      card(null, field('Show', size, { inline: true })), body);
  });

  // ------------------------------------------------------------------ Follow-ups

  const KINDS = { price_drop: 'Price drop', back_in_stock: 'Back in stock', abandoned_personalization: 'Abandoned personalization' };
  const STATES = { pending: ['Pending', 'attention'], sending: ['Sending', 'info'], delivered: ['Delivered', 'success'], suppressed: ['Not sent', ''], dead: ['Dead letter', 'critical'] };
  const REASONS = { no_consent: 'no marketing consent', paused: 'paused by the shopper', frequency_cap: 'frequency limit reached', not_configured: 'follow-ups turned off', ordered: 'ordered meanwhile' };

  route(/^\/follow-ups\/?$/, async () => {
    const { badge, banner, button, busy, input, Errors } = A;
    let s = await api('/api/followups/settings');
    const errors = new Errors();
    const url = input({ type: 'url', value: s.destination_url || '', placeholder: 'https://hooks.example.com/atelier', autocomplete: 'off' });
    const format = select([['webhook', 'Signed webhook (Atelier JSON)'], ['klaviyo', 'Klaviyo Create Event body']], s.format);
    const channel = select([['email', 'Email'], ['sms', 'SMS']], s.channel);
    const check = (on) => h('input', { type: 'checkbox', checked: on });
    const t1 = check(s.triggers.price_drop), t2 = check(s.triggers.back_in_stock), t3 = check(s.triggers.abandoned_personalization);
    const delay = input({ type: 'number', min: 5, max: 43200, step: 1, value: s.abandoned_after_minutes });
    // Write-only: the key is never answered back, only its last characters.
    const klaviyoKey = input({ type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'pk_…' });
    const keyNote = h('p', { class: 'muted', 'data-klaviyo-hint': '' });
    const showKey = (r) => { keyNote.textContent = r.klaviyo_key_hint ? 'A private key ending in ' + r.klaviyo_key_hint.replace('…', '') + ' is saved.' : 'No private key saved.'; };
    showKey(s);
    const removeKey = button('Remove key', async (e) => {
      await busy(e.currentTarget, async () => {
        try { showKey(await api('/api/followups/settings', { method: 'PUT', body: { klaviyo_private_key: null } })); toast('Klaviyo key removed'); } catch (er) { toast(er.message, true); }
      });
    }, { small: true, plain: true });
    const secretBox = h('div', {});
    const showSecret = (r) => {
      secretBox.replaceChildren(r.signing_secret
        ? banner('warning', 'Copy your signing secret now: it is shown only this once.', h('p', {}, h('code', { 'data-secret': '', text: r.signing_secret })))
        : h('p', { class: 'muted', text: r.secret_hint ? 'Signing secret ending in ' + r.secret_hint.replace('…', '') + '.' : 'A signing secret is made when you first save.' }));
    };
    showSecret(s);
    const form = h('form', { novalidate: true },
      errors.summary,
      field('Destination URL', url, { errors, path: 'destination_url', help: 'Where events are POSTed: your email/SMS tool or a relay. Must be https and public.' }),
      field('Format', format, { errors, path: 'format' }),
      field('Channel', channel, { errors, path: 'channel', help: 'Events go only to shoppers who gave marketing consent for this channel.' }),
      h('fieldset', { class: 'group' }, h('legend', { text: 'Triggers' }),
        field('Price drop on a wishlisted product', t1, { errors, path: 'triggers.price_drop' }),
        field('Back in stock on a wishlisted product', t2, { errors, path: 'triggers.back_in_stock' }),
        field('Abandoned personalization', t3, { errors, path: 'triggers.abandoned_personalization' })),
      field('Abandoned after (minutes)', delay, { errors, path: 'abandoned_after_minutes', help: 'A validated personalization not ordered within this time is followed up.' }),
      field('Klaviyo private API key', klaviyoKey, { errors, path: 'klaviyo_private_key', help: 'Klaviyo format only: sent as Authorization: Klaviyo-API-Key so events can go straight to https://a.klaviyo.com/api/events. Stored encrypted; leave empty to keep the saved one.' }),
      keyNote, removeKey,
      h('div', { class: 'actions' }, button('Save', null, { primary: true, submit: true })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const btn = form.querySelector('button[type=submit]');
      await busy(btn, async () => {
        try {
          const body = { destination_url: url.value.trim() || null, format: format.value, channel: channel.value, abandoned_after_minutes: Number(delay.value), triggers: { price_drop: t1.checked, back_in_stock: t2.checked, abandoned_personalization: t3.checked } };
          if (klaviyoKey.value.trim()) body.klaviyo_private_key = klaviyoKey.value.trim();
          const r = await api('/api/followups/settings', { method: 'PUT', body });
          errors.clear();
          klaviyoKey.value = '';
          showKey(r);
          showSecret(r);
          toast('Follow-up settings saved');
        } catch (er) { errors.show(er); }
      });
    });
    const rotate = button('Make a new signing secret', async (e) => {
      await busy(e.currentTarget, async () => {
        try { showSecret(await api('/api/followups/secret', { method: 'POST' })); } catch (er) { toast(er.message, true); }
      });
    });

    let filter = '';
    const list = h('div', {});
    async function loadDeliveries() {
      const d = await api('/api/followups/deliveries?limit=100' + (filter ? '&state=' + filter : ''));
      const summary = h('p', { class: 'muted', 'data-counts': '' }, Object.entries(STATES).map(([k, [t]]) => t + ': ' + num(d.counts[k] || 0)).join(' · '));
      list.replaceChildren(summary, d.items.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-deliveries': '' },
          h('caption', { class: 'visually-hidden', text: 'Follow-up deliveries, newest first' }),
          h('thead', {}, h('tr', {}, ['Event', 'Product', 'Customer', 'State', 'Attempts', 'Created', ''].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, d.items.map((r) => h('tr', { 'data-state': r.state },
            h('th', { scope: 'row', text: KINDS[r.kind] || r.kind }),
            h('td', { text: (r.data && r.data.title) || '—' }),
            h('td', { text: r.customer_id }),
            h('td', {}, badge(STATES[r.state]?.[0] || r.state, STATES[r.state]?.[1]), r.last_error ? h('span', { class: 'muted', text: ' ' + (REASONS[r.last_error] || r.last_error) }) : null),
            h('td', { text: num(r.attempts) }),
            h('td', { text: when(r.created_at) }),
            h('td', {}, r.state === 'dead' ? button('Retry', async (e) => {
              await busy(e.currentTarget, async () => {
                try { await api('/api/followups/deliveries/' + encodeURIComponent(r.id) + '/retry', { method: 'POST' }); toast('Sent again'); await loadDeliveries(); } catch (er) { toast(er.message, true); }
              });
            }, { small: true, label: 'Retry ' + (KINDS[r.kind] || r.kind) + ' for customer ' + r.customer_id }) : null))))))
        : empty('No deliveries yet', 'Events appear here when a trigger fires: delivered ones, those not sent (and why) and dead letters.'));
    }
    const stateSel = select([['', 'All states'], ...Object.entries(STATES).map(([k, [t]]) => [k, t])], filter, { on: { change: (e) => { filter = e.target.value; loadDeliveries().catch((er) => toast(er.message, true)); } } });
    await loadDeliveries();
    return h('div', { class: 'page' }, pageHead('Follow-ups'),
      h('p', { class: 'muted', text: 'Atelier sends signed events to your email/SMS tool when a wishlisted product drops in price or is back in stock, or a personalization is left unordered — only to shoppers who agreed to marketing, within their chosen frequency.' }),
      card('Settings', form), card('Signing secret', secretBox, rotate),
      card('Deliveries', field('State', stateSel, { inline: true }), list));
  });
})();
