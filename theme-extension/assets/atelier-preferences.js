// Atelier preference center (theme app extension): sizes, interests, contact and consent, and
// the shopper's answers to the merchant's questions (changed here, saved one by one).
(() => {
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

	function init(form) {
		const t = JSON.parse(form.querySelector('[data-i18n]').textContent);
		const box = form.querySelector('[data-sections]');
		const status = form.querySelector('[data-status]');
		const uid = 'pc' + Math.random().toString(36).slice(2, 7);
		const api = (path, o) => fetch(form.dataset.proxy + path, { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, ...o });
		const errs = {}; // path → error element
		let settings;
		let quiz = { questions: [], answers: {} };

		const field = (path, label, control, note) => {
			const id = control.id;
			const err = el('p', { class: 'atelier-p__error', id: id + '-err' });
			control.setAttribute('aria-describedby', err.id);
			errs[path] = err;
			return el('div', { class: 'atelier-p__field' }, [el('label', { for: id, text: label }), control, note, err]);
		};
		const check = (path, label, on) => {
			const id = uid + path.replace(/\W/g, '_');
			const c = el('input', { type: 'checkbox', id, name: path, checked: on });
			const err = el('p', { class: 'atelier-p__error', id: id + '-err' });
			c.setAttribute('aria-describedby', err.id);
			errs[path] = err;
			return el('div', { class: 'atelier-p__field' }, [el('label', { for: id, class: 'atelier-p__check' }, [c, ' ' + label]), err]);
		};
		const group = (legend, kids) => el('fieldset', { class: 'atelier-pc__group' }, [el('legend', { text: legend }), ...kids]);

		// One fieldset per question: radios (with "no answer") or checkboxes, as the quiz asks.
		const answersGroup = () => {
			if (!quiz.questions.length) return null;
			const sets = quiz.questions.map((question, qi) => {
				const chosen = quiz.answers[question.key] || [];
				const multiple = question.kind === 'multiple';
				const opts = question.options.map((o, n) => ({ value: o.key, label: o.label, on: chosen.includes(o.key), n }));
				if (!multiple) opts.push({ value: '', label: t.no_size, on: !chosen.length, n: 'none' });
				return el('fieldset', { class: 'atelier-p__field', 'data-answer': question.key }, [
					el('legend', { text: question.prompt }),
					...opts.map((o) => {
						const id = uid + 'q' + qi + '-' + o.n;
						return el('label', { for: id, class: 'atelier-p__check' }, [
							el('input', { type: multiple ? 'checkbox' : 'radio', id, name: 'answers.' + question.key, value: o.value, checked: o.on }), ' ' + o.label]);
					}),
				]);
			});
			return group(t.answers, sets);
		};

		async function saveAnswers() {
			let ok = true;
			for (const question of quiz.questions) {
				const set = box.querySelector('[data-answer="' + CSS.escape(question.key) + '"]');
				if (!set) continue;
				const now = [...set.querySelectorAll('input:checked')].map((x) => x.value).filter(Boolean).sort();
				const was = [...(quiz.answers[question.key] || [])].sort();
				if (now.join('\n') === was.join('\n')) continue;
				const path = '/questions/' + encodeURIComponent(question.key) + '/answer';
				const r = now.length
					? await api(path, { method: 'PUT', body: JSON.stringify({ options: now }) })
					: await api(path, { method: 'DELETE' });
				ok = ok && r.ok;
			}
			const q = await api('/questions');
			if (q.ok) quiz = await q.json();
			return ok;
		}

		function render(p) {
			const stale = new Set(p.stale || []);
			const note = (path) => (stale.has(path) ? el('p', { class: 'atelier-p__help', text: t.stale }) : null);
			const sizes = settings.size_categories.map((c) => {
				const current = p.sizes[c.key];
				const opts = [...c.sizes];
				if (current && !opts.includes(current)) opts.push(current); // kept, marked stale
				const s = el('select', { id: uid + 'size-' + c.key, name: 'sizes.' + c.key },
					[el('option', { value: '', text: t.no_size }), ...opts.map((v) => el('option', { value: v, text: v, selected: v === current }))]);
				return field('sizes.' + c.key, c.label, s, note('sizes.' + c.key));
			});
			const interests = settings.interests.map((i) => check('interests.' + i.key, i.label, p.interests.includes(i.key)));
			const freq = el('select', { id: uid + 'freq', name: 'frequency' }, [el('option', { value: '', text: '—' }),
				...settings.frequencies.map((f) => el('option', { value: f, text: t[f] || f, selected: f === p.communication.frequency }))]);
			const pause = el('input', { type: 'date', id: uid + 'pause', name: 'pause_until', value: p.communication.pause_until || '' });
			box.replaceChildren(
				group(t.sizes, sizes),
				group(t.interests, [...interests, (errs.interests = el('p', { class: 'atelier-p__error' }))]),
				group(t.contact, [check('communication.email', t.email, p.communication.email), check('communication.sms', t.sms, p.communication.sms),
					field('communication.frequency', t.frequency, freq, note('communication.frequency')),
					field('communication.pause_until', t.pause_until, pause, el('p', { class: 'atelier-p__help', text: t.pause_help }))]),
				answersGroup(),
				group(t.consent, [check('consent.personalization', settings.texts.personalization_consent || 'personalization', p.consent.personalization),
					check('consent.marketing', settings.texts.marketing_consent || 'marketing', p.consent.marketing)]),
			);
			form.removeAttribute('aria-busy');
		}

		function collect() {
			const v = (n) => form.elements[n];
			const sizes = {};
			for (const c of settings.size_categories) sizes[c.key] = v('sizes.' + c.key).value || null;
			return {
				sizes,
				interests: settings.interests.filter((i) => v('interests.' + i.key).checked).map((i) => i.key),
				communication: { email: v('communication.email').checked, sms: v('communication.sms').checked, frequency: v('frequency').value || null, pause_until: v('pause_until').value || null },
				consent: { personalization: v('consent.personalization').checked, marketing: v('consent.marketing').checked },
			};
		}

		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			Object.values(errs).forEach((e) => (e.textContent = ''));
			status.textContent = '';
			try {
				const r = await api('/preferences', { method: 'PUT', body: JSON.stringify(collect()) });
				const j = await r.json();
				if (r.status === 422) {
					for (const e of j.errors || []) {
						const target = errs[e.field] || errs[e.field.replace(/\[\d+\]$/, '')];
						if (target) target.textContent = e.message;
					}
					status.textContent = t.fix_errors;
					return;
				}
				if (!r.ok) throw new Error();
				const answered = await saveAnswers();
				// Answers may set interests and sizes: show the preferences as they are now.
				const again = await api('/preferences');
				render(again.ok ? await again.json() : j);
				status.textContent = answered ? t.saved : t.answers_failed;
			} catch {
				status.textContent = t.failed;
			}
		});

		Promise.all([api('/preference-center'), api('/preferences'), api('/questions')])
			.then(async ([s, p, q]) => {
				if (!s.ok || !p.ok) throw new Error();
				settings = await s.json();
				if (q.ok) quiz = await q.json();
				render(await p.json());
			})
			.catch(() => { box.replaceChildren(el('p', { class: 'atelier-p__error', text: t.failed })); });
	}

	const start = () => document.querySelectorAll('[data-atelier-preferences]').forEach(init);
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
