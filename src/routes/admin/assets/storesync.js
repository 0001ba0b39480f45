// Atelier merchant admin: what Atelier writes back to Shopify (marketing consent, flags on
// orders), with the state of each write and a retry for dead or held ones. Registered on the
// shared admin script's router; every store- or shopper-supplied string is set as text.
(() => {
  'use strict';
  const A = window.atelierAdmin;
  if (!A) return;
  const { h, api, route, card, empty, pageHead, field, select, toast, when, num, badge, button, busy } = A;

  const KINDS = { customer_consent: 'Marketing consent', order_flag: 'Order flag' };
  const STATES = { pending: ['Waiting', 'attention'], sending: ['Sending', 'info'], done: ['Written', 'success'], held: ['Needs a permission', 'warning'], dead: ['Failed', 'critical'] };

  // What was written, in words: "Email subscribed · SMS unchanged", "Tagged, note added".
  function written(w) {
    const r = w.result;
    if (!r) return w.last_error || '—';
    if (w.kind === 'order_flag') return 'Tagged “' + (r.tag || '') + '”' + (r.note_added ? ', note added' : '');
    if (r.skipped) return 'Nothing to write (' + r.skipped + ')';
    const word = (v) => (v === 'SUBSCRIBED' ? 'subscribed' : v === 'UNSUBSCRIBED' ? 'unsubscribed' : String(v || 'unchanged'));
    return 'Email ' + word(r.email) + ' · SMS ' + word(r.sms);
  }

  route(/^\/store-sync\/?$/, async () => {
    let filter = '';
    const list = h('div', {});
    async function load() {
      const d = await api('/api/store-writes?limit=100' + (filter ? '&state=' + filter : ''));
      const summary = h('p', { class: 'muted', 'data-counts': '' }, Object.entries(STATES).map(([k, [t]]) => t + ': ' + num(d.counts[k] || 0)).join(' · '));
      const held = d.counts.held ? h('p', { 'data-held-help': '', text: 'Writes that need a permission start by themselves once you approve the updated access scopes (write_customers for consent, write_orders for order flags).' }) : null;
      list.replaceChildren(summary, held || '', d.items.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-store-writes': '' },
          h('caption', { class: 'visually-hidden', text: 'Writes to Shopify, newest first' }),
          h('thead', {}, h('tr', {}, ['What', 'Customer or order', 'State', 'Result', 'Attempts', 'Created', ''].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, d.items.map((w) => h('tr', { 'data-state': w.state, 'data-kind': w.kind },
            h('th', { scope: 'row', text: KINDS[w.kind] || w.kind }),
            h('td', { text: (w.kind === 'order_flag' ? 'Order ' : 'Customer ') + w.subject_id }),
            h('td', {}, badge(STATES[w.state]?.[0] || w.state, STATES[w.state]?.[1])),
            h('td', { text: w.state === 'done' ? written(w) : (w.last_error || '—') }),
            h('td', { text: num(w.attempts) }),
            h('td', { text: when(w.created_at) }),
            h('td', {}, (w.state === 'dead' || w.state === 'held') ? button('Retry', async (e) => {
              await busy(e.currentTarget, async () => {
                try { await api('/api/store-writes/' + encodeURIComponent(w.id) + '/retry', { method: 'POST' }); toast('Write queued again'); await load(); } catch (er) { toast(er.message, true); }
              });
            }, { small: true, label: 'Retry ' + (KINDS[w.kind] || w.kind) + ' for ' + w.subject_id }) : null))))))
        : empty('Nothing written yet', 'When a shopper changes their marketing consent, or an order arrives whose personalization failed its check, what Atelier writes to Shopify shows here.'));
    }
    const stateSel = select([['', 'All states'], ...Object.entries(STATES).map(([k, [t]]) => [k, t])], filter, { on: { change: (e) => { filter = e.target.value; load().catch((er) => toast(er.message, true)); } } });
    await load();
    return h('div', { class: 'page' }, pageHead('Store sync'),
      h('p', { class: 'muted', text: 'Atelier writes two things back to Shopify: the marketing consent shoppers give in the preference center (so your email and SMS tools see it), and a tag and note on orders whose personalization was altered, forged or underpaid (so you see it in Shopify’s order list). Failed writes are retried; those that keep failing stay here.' }),
      card('Writes', field('State', stateSel, { inline: true }), list));
  });
})();
