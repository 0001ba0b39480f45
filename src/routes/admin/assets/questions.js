// Atelier merchant admin: zero-party questions (the storefront quiz) and how shoppers answered.
// Registered on the shared admin script's router; every merchant- or shopper-supplied string is
// set as text.
(() => {
  'use strict';
  const A = window.atelierAdmin;
  if (!A) return;
  const { h, api, route, card, empty, pageHead, field, input, select, toast, busy, button, badge, Errors, num } = A;
  const KINDS = [['single', 'Single choice'], ['multiple', 'Multiple choice']];
  const pct = (share) => Math.round(share * 1000) / 10 + '%';

  route(/^\/questions\/?$/, async () => {
    const list = h('div', {});
    async function load() {
      const { items } = await api('/api/questions');
      if (!items.length) {
        list.replaceChildren(empty('No questions yet', 'Ask shoppers what they like — their answers become preferences that shape their recommendations.',
          h('a', { class: 'btn btn--primary', href: '#/questions/new', text: 'Add a question' })));
        return;
      }
      const move = (i, by) => async (e) => {
        await busy(e.currentTarget, async () => {
          try { await api('/api/questions/' + encodeURIComponent(items[i].key), { method: 'PUT', body: { position: i + by } }); await load(); } catch (er) { toast(er.message, true); }
        });
      };
      list.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-questions': '' },
        h('caption', { class: 'visually-hidden', text: 'Questions in the order the quiz asks them' }),
        h('thead', {}, h('tr', {}, ['Question', 'Kind', 'Options', 'Answers', 'State', ''].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, items.map((q, i) => h('tr', { 'data-key': q.key },
          h('th', { scope: 'row' }, h('a', { href: '#/questions/' + encodeURIComponent(q.key), text: q.prompt })),
          h('td', { text: q.kind === 'multiple' ? 'Multiple' : 'Single' }),
          h('td', { text: num(q.options.length) }),
          h('td', { text: num(q.respondents) }),
          h('td', {}, q.active ? badge('Active', 'success') : badge('Off')),
          h('td', { class: 'actions' },
            button('Up', move(i, -1), { small: true, plain: true, disabled: i === 0, label: 'Move “' + q.prompt + '” up' }),
            button('Down', move(i, 1), { small: true, plain: true, disabled: i === items.length - 1, label: 'Move “' + q.prompt + '” down' }))))))));
    }
    await load();
    return h('div', { class: 'page' }, pageHead('Questions', null, h('a', { class: 'btn btn--primary', href: '#/questions/new', text: 'Add a question' })),
      h('p', { class: 'muted', text: 'The Quiz block asks these on your storefront, one at a time. Answers are saved as shoppers go, can be changed later in the preference center, and shape recommendations only for shoppers who agreed to personalization.' }),
      card(null, list));
  });

  route(/^\/questions\/([^/]+)$/, async (raw) => {
    const key = decodeURIComponent(raw);
    const isNew = key === 'new';
    const center = await api('/api/preference-center');
    const q = isNew
      ? { key: '', prompt: '', kind: 'single', active: true, options: [{ key: '', label: '' }, { key: '', label: '' }] }
      : await api('/api/questions/' + encodeURIComponent(key));
    const errors = new Errors();
    // What an option may map onto: nothing (a taste signal), an interest, or a size.
    const targets = [['', 'Nothing: a taste signal']]
      .concat(center.interests.map((i) => [JSON.stringify({ interest: i.key }), 'Interest: ' + i.label]))
      .concat(center.size_categories.flatMap((c) => c.sizes.map((s) => [JSON.stringify({ size: { category: c.key, size: s } }), 'Size: ' + c.label + ' ' + s])));
    const mappingOf = (o) => (o.interest ? JSON.stringify({ interest: o.interest }) : o.size ? JSON.stringify({ size: o.size }) : '');
    const keyIn = input({ value: q.key, spellcheck: 'false', autocomplete: 'off', disabled: !isNew });
    const prompt = input({ value: q.prompt, maxlength: 200 });
    const kind = select(KINDS, q.kind);
    const active = h('input', { type: 'checkbox', checked: q.active });
    const optionsBox = h('div', {});
    const renderOptions = () => optionsBox.replaceChildren(...q.options.map((o, i) => {
      // A mapping the center no longer offers stays selectable, so saving keeps it.
      const current = mappingOf(o);
      const known = !current || targets.some(([v]) => v === current);
      const stale = known ? [] : [[current, (o.interest ? 'Interest: ' + o.interest : 'Size: ' + o.size.category + ' ' + o.size.size) + ' (no longer offered)']];
      const map = select(stale.concat(targets), current, { on: { change: (e) => { delete o.interest; delete o.size; if (e.target.value) Object.assign(o, JSON.parse(e.target.value)); } } });
      return h('fieldset', { class: 'group', 'data-option': i }, h('legend', { text: 'Option ' + (i + 1) }),
        h('div', { class: 'row' },
          field('Label', input({ value: o.label, maxlength: 100, on: { input: (e) => { o.label = e.target.value; } } }), { errors, path: 'options[' + i + '].label', inline: true }),
          field('Key', input({ value: o.key, spellcheck: 'false', on: { input: (e) => { o.key = e.target.value; } } }), { errors, path: 'options[' + i + '].key', inline: true }),
          field('Sets', map, { errors, path: 'options[' + i + ']', inline: true })),
        h('div', { class: 'row' },
          button('Move up', () => { q.options.splice(i - 1, 0, q.options.splice(i, 1)[0]); renderOptions(); }, { plain: true, small: true, disabled: i === 0, label: 'Move option ' + (o.label || i + 1) + ' up' }),
          button('Remove', () => { q.options.splice(i, 1); renderOptions(); }, { plain: true, small: true, critical: true, label: 'Remove option ' + (o.label || i + 1) })));
    }));
    renderOptions();
    const save = button(isNew ? 'Create question' : 'Save', null, { primary: true, submit: true });
    const form = h('form', { novalidate: true }, errors.summary,
      field('Prompt', prompt, { errors, path: 'prompt', help: 'What the shopper is asked, up to 200 characters.' }),
      field('Question key', keyIn, { errors, path: 'key', help: isNew ? 'A stable name (a-z, 0-9, _ and -). Answers keep it, so it cannot change later.' : 'Answers name this key; it cannot change.' }),
      field('Kind', kind, { errors, path: 'kind' }),
      field('Asked on the storefront', active, { errors, path: 'active' }),
      h('h2', { class: 'subheading', text: 'Options' }),
      h('p', { class: 'muted', text: 'Keep an option’s key when you reword it: earlier answers stay with it. An option that sets nothing still lifts products tagged QUESTION:OPTION (for example style:minimal) for shoppers who chose it.' }),
      optionsBox,
      h('div', { class: 'actions' },
        button('Add option', () => { q.options.push({ key: '', label: '' }); renderOptions(); optionsBox.lastChild.querySelector('input').focus(); }, { small: true }),
        save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      await busy(save, async () => {
        const body = { prompt: prompt.value, kind: kind.value, active: active.checked, options: q.options };
        if (isNew) body.key = keyIn.value.trim();
        try {
          const r = isNew
            ? await api('/api/questions', { method: 'POST', body })
            : await api('/api/questions/' + encodeURIComponent(q.key), { method: 'PUT', body });
          errors.clear();
          toast(isNew ? 'Question created' : 'Question saved (version ' + r.version + ')');
          if (isNew) location.hash = '#/questions/' + encodeURIComponent(r.key);
          else { Object.assign(q, r); renderOptions(); await loadDistribution(); }
        } catch (er) {
          if (er.status === 422) errors.show(er); else toast(er.message, true);
        }
      });
    });
    const remove = isNew ? null : button('Delete question', async (e) => {
      if (!(await A.confirm('Delete this question?', 'Its answers are deleted with it; what they set in shoppers’ preferences stays.', 'Delete'))) return;
      await busy(e.currentTarget, async () => {
        try { await api('/api/questions/' + encodeURIComponent(q.key), { method: 'DELETE' }); toast('Question deleted'); location.hash = '#/questions'; } catch (er) { toast(er.message, true); }
      });
    }, { critical: true });

    const dist = h('div', { 'aria-live': 'polite' });
    async function loadDistribution() {
      if (isNew) return;
      const d = await api('/api/questions/' + encodeURIComponent(q.key) + '/distribution');
      const row = (o, label) => {
        const fill = h('span', {});
        // Set through the CSSOM: the admin's CSP allows no inline style attributes.
        fill.style.width = Math.min(100, o.share * 100) + '%';
        return h('tr', { 'data-option': o.key },
          h('th', { scope: 'row', text: label }),
          h('td', { text: num(o.count) }),
          h('td', {}, h('span', { class: 'meter', 'aria-hidden': 'true' }, fill), ' ' + pct(o.share)));
      };
      dist.replaceChildren(
        h('p', { 'data-respondents': '', text: d.respondents === 1 ? '1 shopper answered.' : num(d.respondents) + ' shoppers answered.' + (d.kind === 'multiple' ? ' Shoppers may choose several options, so shares add up to more than 100%.' : '') }),
        d.respondents ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-distribution': '' },
          h('caption', { class: 'visually-hidden', text: 'Answers per option' }),
          h('thead', {}, h('tr', {}, ['Option', 'Shoppers', 'Share'].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, d.options.map((o) => row(o, o.label)), d.retired.map((o) => row(o, o.key + ' (removed option)'))))) : null);
    }
    await loadDistribution();
    return h('div', { class: 'page' }, pageHead(isNew ? 'New question' : 'Question', ['Questions', '#/questions'], remove),
      card(null, form), isNew ? null : card('Answers', dist));
  });
})();
