// Atelier merchant admin: recommendation experiments. A merchant compares two strategies on
// one widget (or one against no widget at all) and reads the difference with its 95 % interval
// in plain words. Registered on the shared admin script's router; every merchant-supplied
// string is set as text.
(() => {
  'use strict';
  const A = window.atelierAdmin;
  if (!A) return;
  const { h, api, route, card, empty, pageHead, field, input, select, toast, busy, button, badge, Errors, num, when } = A;

  const SLOTS = [['related', 'Similar products'], ['complementary', 'Bought together'], ['for_you', 'Picked for you'], ['trending', 'Trending']];
  const STRATEGIES = [['personalized', 'Personalized (Atelier’s scoring)'], ['popular', 'Best sellers'], ['control', 'No recommendations (control)']];
  const SHORT = { personalized: 'Personalized', popular: 'Best sellers', control: 'No recommendations' };
  const STATES = { draft: ['Draft', null], running: ['Running', 'success'], stopped: ['Stopped', 'info'] };
  const slotName = (k) => (SLOTS.find(([v]) => v === k) || [k, k])[1];
  const minus = '\u2212';
  const signed = (x, f) => (x > 0 ? '+' : x < 0 ? minus : '') + f(Math.abs(x));
  const pts = (x) => (Math.round(x * 1000) / 10).toFixed(1) + ' %';
  const pct = (x) => (x == null ? '—' : (Math.round(x * 1000) / 10).toFixed(1) + ' %');
  const dollars = (c) => '$' + (c / 100).toFixed(2);

  /** What a merchant may conclude, in words. */
  function conclusion(d, e) {
    const a = SHORT[e.arms[0].strategy], b = SHORT[e.arms[1].strategy];
    switch (d.verdict) {
      case 'b_higher': return b + ' does better than ' + a;
      case 'a_higher': return a + ' does better than ' + b;
      case 'inconclusive': return 'not yet conclusive';
      default: return 'too early to tell';
    }
  }

  /** "Personalized: +1.2 % conversion (95 % interval −0.4 % to +2.8 %): not yet conclusive" */
  function sentence(e, r, key) {
    const d = r.difference[key];
    const b = SHORT[e.arms[1].strategy], a = SHORT[e.arms[0].strategy];
    const f = key === 'conversion_rate' ? pts : (c) => dollars(c);
    const what = key === 'conversion_rate' ? ' conversion' : ' revenue per shopper';
    if (d.estimate == null) return b + ' vs ' + a + ': no' + what + ' figure yet (each arm needs shoppers first)';
    return b + ' vs ' + a + ': ' + signed(d.estimate, f) + what + ' (95 % interval ' + signed(d.low, f) + ' to ' + signed(d.high, f) + '): ' + conclusion(d, e);
  }

  function results(e) {
    const r = e.results;
    if (!r) return h('p', { class: 'muted', text: 'Start the experiment to split shoppers between the arms.' });
    const rows = r.arms.map((x) => h('tr', { 'data-arm': x.arm },
      h('th', { scope: 'row', text: 'Arm ' + x.arm.toUpperCase() + ': ' + SHORT[x.strategy] }),
      h('td', { text: x.share + ' %' }),
      h('td', { 'data-exposed': '', text: num(x.exposed_sessions) }),
      h('td', { text: num(x.converting_sessions) }),
      h('td', { text: pct(x.conversion_rate) }),
      h('td', { text: dollars(x.revenue_cents) }),
      h('td', { text: x.revenue_per_session_cents == null ? '—' : dollars(x.revenue_per_session_cents) })));
    const early = r.verdict === 'insufficient_data'
      ? h('p', { class: 'muted', text: 'A verdict needs at least ' + num(r.min_sessions_per_arm) + ' shoppers in each arm and ' + num(r.min_conversions) + ' orders in all; until then the figures swing widely.' })
      : null;
    return h('div', {},
      h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-results': '' },
        h('caption', { class: 'visually-hidden', text: 'Results per arm' }),
        h('thead', {}, h('tr', {}, ['Arm', 'Share', 'Shoppers reached', 'Ordered', 'Conversion', 'Revenue', 'Revenue per shopper'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows))),
      h('p', { 'data-uplift': 'conversion', text: sentence(e, r, 'conversion_rate') }),
      h('p', { 'data-uplift': 'revenue', text: sentence(e, r, 'revenue_per_session_cents') }),
      early,
      h('p', { class: 'muted', text: 'The interval is where the true difference lies with 95 % confidence; when it includes zero, the difference may be chance. Every shopper who reached the widget counts, and an order counts within ' + r.order_window_days + ' days of their last visit.' }));
  }

  route(/^\/experiments\/?$/, async () => {
    const list = h('div', {});
    async function load() {
      const [{ items }, analytics] = await Promise.all([api('/api/experiments?limit=250'), api('/api/analytics')]);
      const byId = new Map((analytics.experiments || []).map((e) => [e.id, e.results]));
      if (!items.length) {
        list.replaceChildren(empty('No experiments yet', 'Compare two ways of filling a widget, or a widget against none, and see what it changes in orders and revenue.'));
        return;
      }
      list.replaceChildren(...items.map((e) => {
        e.results = byId.get(e.id) || null;
        const [label, tone] = STATES[e.state] || [e.state, null];
        const act = async (ev, state, done) => {
          await busy(ev.currentTarget, async () => {
            try { await api('/api/experiments/' + encodeURIComponent(e.id), { method: 'PATCH', body: { state } }); toast(done); await load(); } catch (er) { toast(er.message, true); }
          });
        };
        const actions = [];
        if (e.state === 'draft') actions.push(button('Start', (ev) => act(ev, 'running', 'Experiment started'), { primary: true, label: 'Start ' + e.name }));
        if (e.state === 'running') {
          actions.push(button('Stop', async (ev) => {
            const target = ev.currentTarget;
            if (!(await A.confirm('Stop this experiment?', 'Every shopper gets the widget’s usual list again. The results are kept; a stopped experiment cannot run again.', 'Stop'))) return;
            await act({ currentTarget: target }, 'stopped', 'Experiment stopped');
          }, { critical: true, label: 'Stop ' + e.name }));
        }
        return h('section', { class: 'card', 'data-experiment': e.id, 'data-state': e.state, 'aria-label': e.name },
          h('div', { class: 'row' }, h('h2', { class: 'card__title', text: e.name }), badge(label, tone), h('span', { class: 'spacer' }), actions),
          h('p', { class: 'muted', text: slotName(e.intent) + ' widget · A: ' + SHORT[e.arms[0].strategy] + ' (' + e.arms[0].share + ' %) · B: ' + SHORT[e.arms[1].strategy] + ' (' + e.arms[1].share + ' %)' + (e.started_at ? ' · started ' + when(e.started_at) : '') + (e.stopped_at ? ' · stopped ' + when(e.stopped_at) : '') }),
          results(e));
      }));
    }

    const errors = new Errors();
    const name = input({ maxlength: 100, placeholder: 'For example: Similar products vs none' });
    const slot = select(SLOTS, 'related');
    const armA = select(STRATEGIES, 'control');
    const armB = select(STRATEGIES, 'personalized');
    const share = input({ type: 'number', min: 1, max: 99, step: 1, value: 50 });
    const create = button('Create experiment', null, { primary: true, submit: true });
    const form = h('form', { novalidate: true, 'data-new-experiment': '' }, errors.summary,
      field('Name', name, { errors, path: 'name' }),
      field('Widget', slot, { errors, path: 'intent', help: 'The recommendation block whose list the experiment decides.' }),
      h('div', { class: 'row' },
        field('Arm A (baseline)', armA, { errors, path: 'arms[0].strategy', inline: true }),
        field('Arm B', armB, { errors, path: 'arms[1].strategy', inline: true }),
        field('Shoppers in arm A (%)', share, { errors, path: 'arms[0].share', inline: true })),
      h('p', { class: 'muted', text: 'Each shopper is put in one arm for good: logged-in customers by their account, others by their browser session. Shoppers who decline analytics see the usual list and are not counted.' }),
      h('div', { class: 'actions' }, create));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      await busy(create, async () => {
        const body = { intent: slot.value, arms: [{ strategy: armA.value, share: Number(share.value) }, { strategy: armB.value }] };
        if (name.value.trim()) body.name = name.value.trim();
        if (!Number.isInteger(body.arms[0].share)) body.arms[0].share = share.value;
        try {
          await api('/api/experiments', { method: 'POST', body });
          errors.clear();
          toast('Experiment created as a draft');
          name.value = '';
          await load();
        } catch (er) {
          if (er.status === 422) errors.show(er); else toast(er.message, true);
        }
      });
    });
    await load();
    return h('div', { class: 'page' }, pageHead('Experiments'),
      h('p', { class: 'muted', text: 'An honest figure for what recommendations earn you: shoppers are split at random between two arms, and the difference in orders and revenue is shown with its uncertainty.' }),
      card('New experiment', form), list);
  });
})();
