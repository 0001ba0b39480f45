// The preference center's form, without any UI: what to show for PREFERENCES and the shop's
// settings, and the PUT body for what the shopper chose. The body is the theme block's, so
// `/customer-account/preferences` and `/proxy/preferences` receive the same thing.

/** The form's state for a shopper's stored preferences and the shop's preference center. */
export function formOf(prefs, center) {
	const stale = new Set(prefs.stale || []);
	const sizes = (center.size_categories || []).map((c) => {
		const current = (prefs.sizes || {})[c.key] || '';
		const options = [...c.sizes];
		// A stored size the shop no longer offers is kept and marked, never silently dropped.
		if (current && !options.includes(current)) options.push(current);
		return { key: c.key, label: c.label, options, value: current, stale: stale.has('sizes.' + c.key) };
	});
	const chosen = prefs.interests || [];
	const interests = (center.interests || []).map((i) => ({ key: i.key, label: i.label, stale: false }));
	for (const key of chosen) {
		if (!interests.some((i) => i.key === key)) interests.push({ key, label: key, stale: true });
	}
	const comm = prefs.communication || {};
	const consent = prefs.consent || {};
	return {
		sizes,
		interests,
		chosenInterests: [...chosen],
		email: !!comm.email,
		sms: !!comm.sms,
		frequencies: center.frequencies || [],
		frequency: comm.frequency || '',
		frequencyStale: stale.has('communication.frequency'),
		pauseUntil: comm.pause_until || '',
		personalization: !!consent.personalization,
		marketing: !!consent.marketing,
		texts: center.texts || {},
	};
}

/** PREFERENCES to PUT for the form as it stands. */
export function bodyOf(form) {
	const sizes = {};
	for (const s of form.sizes) sizes[s.key] = s.value || null;
	return {
		sizes,
		interests: form.interests.map((i) => i.key).filter((k) => form.chosenInterests.includes(k)),
		communication: {
			email: form.email,
			sms: form.sms,
			frequency: form.frequency || null,
			pause_until: form.pauseUntil || null,
		},
		consent: { personalization: form.personalization, marketing: form.marketing },
	};
}

/** A 422's errors by path (`sizes.tops`, `interests[1]`), for the fields that name them. */
export function errorsOf(body) {
	const out = {};
	for (const e of (body && body.errors) || []) {
		const key = String(e.field || '').replace(/\[\d+\]$/, '');
		if (!out[key]) out[key] = e.message;
	}
	return out;
}
