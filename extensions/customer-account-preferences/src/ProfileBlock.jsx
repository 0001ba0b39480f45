// Entry point of the customer account UI extension (target
// customer-account.profile.block.render): loads the shop's preference center, the shopper's
// preferences and wishlist from Atelier, and saves changes, with Shopify's session token.
import '@shopify/ui-extensions/preact';
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';

import { APP_URL } from './config.js';
import { createClient, shopOf } from './api.js';
import { bodyOf, errorsOf, formOf } from './model.js';
import { PreferenceCenter } from './view.jsx';

export default async () => {
	render(<Extension />, document.body);
};

export function Extension() {
	const t = (key, vars) => shopify.i18n.translate(key, vars);
	const client = useMemo(() => createClient({ appUrl: APP_URL, sessionToken: shopify.sessionToken }), []);
	const [state, setState] = useState({ phase: 'loading' });
	const [shop, setShop] = useState(null);

	useEffect(() => {
		shopify.sessionToken.get().then((tok) => setShop(shopOf(tok)), () => {});
		client.load().then(
			(d) => setState({ phase: 'ready', form: formOf(d.preferences, d.center), wishlist: d.wishlist, errors: {} }),
			(e) => setState({ phase: e.code === 'not_logged_in' ? 'logged_out' : 'error' }),
		);
	}, [client]);

	if (state.phase === 'loading') return <s-section><s-text>{t('loading')}</s-text></s-section>;
	if (state.phase === 'logged_out') return <s-section><s-text>{t('loggedOut')}</s-text></s-section>;
	if (state.phase === 'error') return <s-section><s-banner tone="critical">{t('error')}</s-banner></s-section>;

	const update = (patch) => setState((s) => ({ ...s, status: undefined, form: { ...s.form, ...patch } }));
	const on = {
		size: (key, value) => update({ sizes: state.form.sizes.map((s) => (s.key === key ? { ...s, value } : s)) }),
		interests: (values) => update({ chosenInterests: [...values] }),
		set: (name, value) => update({ [name]: value }),
		save: async () => {
			setState((s) => ({ ...s, status: 'saving' }));
			try {
				const saved = await client.save(bodyOf(state.form));
				setState((s) => ({ ...s, status: 'saved', errors: {}, form: { ...formOf(saved, { ...centerOf(s.form) }), texts: s.form.texts } }));
			} catch (e) {
				setState((s) => ({ ...s, status: 'failed', errors: e.status === 422 ? errorsOf(e.body) : {} }));
			}
		},
		remove: async (productId) => {
			await client.removeFromWishlist(productId).catch(() => {});
			setState((s) => ({ ...s, wishlist: s.wishlist.filter((i) => i.product_id !== productId) }));
		},
	};
	return <PreferenceCenter form={state.form} errors={state.errors} status={state.status} wishlist={state.wishlist} shop={shop} t={t} on={on} />;
}

/** The preference center the form was made from (to read a saved answer against it again). */
function centerOf(form) {
	return {
		size_categories: form.sizes.map((s) => ({ key: s.key, label: s.label, sizes: s.stale ? s.options.filter((o) => o !== s.value) : s.options })),
		interests: form.interests.filter((i) => !i.stale),
		frequencies: form.frequencies,
		texts: form.texts,
	};
}
