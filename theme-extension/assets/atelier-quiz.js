// Atelier quiz (theme app extension): the merchant's questions one at a time, with progress.
// Each answer is saved as the shopper goes — in their account (/apps/atelier/questions) when
// logged in, in this browser otherwise — so coming back resumes at the first unanswered
// question. An anonymous visitor's answers are sent to the account once after login (merge),
// then forgotten here.
(() => {
	const KEY = 'atelier_quiz';
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
	const readLocal = () => {
		try {
			const v = JSON.parse(localStorage.getItem(KEY) || '{}');
			return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
		} catch {
			return {};
		}
	};
	const writeLocal = (v) => {
		try {
			if (Object.keys(v).length) localStorage.setItem(KEY, JSON.stringify(v));
			else localStorage.removeItem(KEY);
		} catch { /* private mode: the answers last for this page */ }
	};

	function init(box) {
		const t = JSON.parse(box.querySelector('[data-i18n]').textContent);
		const q = (s) => box.querySelector(s);
		const form = q('[data-step]');
		const holder = q('[data-question]');
		const error = q('[data-error]');
		const status = q('[data-status]');
		const progress = q('[data-progress]');
		const bar = q('[data-bar]');
		const done = q('[data-done]');
		const uid = 'aq' + Math.random().toString(36).slice(2, 7);
		const api = (path, o) => fetch(box.dataset.proxy + path, { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, ...o });
		let quiz;
		let answers = {};
		let at = 0;
		const say = (s) => (s || '').replace('[n]', at + 1).replace('[total]', quiz.questions.length);

		function show(i, focus) {
			at = i;
			const total = quiz.questions.length;
			const answered = quiz.questions.filter((x) => (answers[x.key] || []).length).length;
			bar.style.width = Math.round((answered / total) * 100) + '%';
			if (i >= total) {
				form.hidden = true;
				done.hidden = false;
				progress.textContent = '';
				q('[data-done-text]').textContent = say(t.done);
				const c = quiz.consent;
				q('[data-consent]').hidden = !(quiz.logged_in && c && !c.personalization && c.text);
				if (c && c.text) q('[data-consent-text]').textContent = c.text;
				q('[data-login-note]').hidden = quiz.logged_in;
				if (focus) done.focus();
				return;
			}
			done.hidden = true;
			form.hidden = false;
			const question = quiz.questions[i];
			const multiple = question.kind === 'multiple';
			const chosen = answers[question.key] || [];
			progress.textContent = say(t.progress);
			error.textContent = '';
			const hint = el('p', { class: 'atelier-p__help', id: uid + '-hint', text: multiple ? t.choose_any : t.choose_one });
			const options = question.options.map((o, n) => {
				const id = uid + '-' + i + '-' + n;
				const input = el('input', { type: multiple ? 'checkbox' : 'radio', id, name: 'answer', value: o.key, checked: chosen.includes(o.key) });
				return el('label', { for: id, class: 'atelier-q__option' }, [input, el('span', { text: o.label })]);
			});
			const set = el('fieldset', { class: 'atelier-q__question', 'aria-describedby': uid + '-hint ' + uid + '-err' }, [
				el('legend', { class: 'atelier-q__prompt', text: question.prompt }), hint, ...options,
			]);
			error.id = uid + '-err';
			holder.replaceChildren(set);
			q('[data-back]').hidden = i === 0;
			q('[data-next]').textContent = i === total - 1 ? t.finish : t.next;
			box.removeAttribute('aria-busy');
			if (focus) (set.querySelector('input:checked') || set.querySelector('input')).focus();
		}

		async function save(question, keys) {
			if (!quiz.logged_in) {
				const local = readLocal();
				local[question.key] = keys;
				writeLocal(local);
				return true;
			}
			const r = await api('/questions/' + encodeURIComponent(question.key) + '/answer', { method: 'PUT', body: JSON.stringify({ options: keys }) });
			if (!r.ok) return false;
			quiz = await r.json();
			return true;
		}

		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const question = quiz.questions[at];
			const keys = [...holder.querySelectorAll('input:checked')].map((x) => x.value);
			if (!keys.length) {
				error.textContent = t.required;
				holder.querySelector('fieldset').setAttribute('aria-invalid', 'true');
				holder.querySelector('input').focus();
				return;
			}
			const next = q('[data-next]');
			next.disabled = true;
			try {
				if (!(await save(question, keys))) throw new Error();
				answers[question.key] = keys;
				status.textContent = t.saved;
				show(at + 1, true);
			} catch {
				error.textContent = t.failed;
			} finally {
				next.disabled = false;
			}
		});
		q('[data-back]').addEventListener('click', () => show(Math.max(0, at - 1), true));
		q('[data-review]').addEventListener('click', () => show(0, true));
		q('[data-consent-save]').addEventListener('click', async () => {
			const on = q('[data-consent-box]').checked;
			try {
				const r = await api('/preferences', { method: 'PUT', body: JSON.stringify({ consent: { personalization: on } }) });
				if (!r.ok) throw new Error();
				quiz.consent.personalization = on;
				status.textContent = on ? t.consent_saved : '';
				q('[data-consent]').hidden = on;
			} catch {
				status.textContent = t.failed;
			}
		});

		(async () => {
			try {
				const r = await api('/questions');
				if (!r.ok) throw new Error();
				quiz = await r.json();
				const local = readLocal();
				if (quiz.logged_in && Object.keys(local).length) {
					const m = await api('/questions/merge', { method: 'POST', body: JSON.stringify({ answers: local }) });
					if (m.ok) {
						quiz = await m.json();
						writeLocal({});
					}
				}
				if (!quiz.questions.length) {
					box.hidden = true;
					return;
				}
				const ids = new Set(quiz.questions.map((x) => x.key));
				answers = quiz.logged_in ? quiz.answers : Object.fromEntries(Object.entries(local).filter(([k]) => ids.has(k)));
				// Resume at the first question without an answer.
				const first = quiz.questions.findIndex((x) => !(answers[x.key] || []).length);
				show(first === -1 ? quiz.questions.length : first, false);
			} catch {
				holder.replaceChildren(el('p', { class: 'atelier-p__error', text: t.failed }));
				box.removeAttribute('aria-busy');
			}
		})();
	}

	const start = () => document.querySelectorAll('[data-atelier-quiz]').forEach(init);
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
