// Shared by the tests: Shopify's globals stubbed (`shopify.sessionToken`, `shopify.i18n`), the
// JSX compiled with esbuild as Shopify's build compiles it, and fixtures in Atelier's shapes.
import { build } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const en = JSON.parse(readFileSync(path.join(root, 'locales/en.default.json'), 'utf8'));

export function stubShopify(token = 'header.' + Buffer.from(JSON.stringify({ dest: 'demo.myshopify.com' })).toString('base64url') + '.sig') {
	const calls = { tokens: 0 };
	globalThis.shopify = {
		sessionToken: { get: async () => { calls.tokens += 1; return token; } },
		i18n: { translate: (key, vars) => (en[key] || key).replace(/\{\{(\w+)\}\}/g, (_, k) => (vars || {})[k] ?? '') },
	};
	return calls;
}

export const t = (key, vars) => (en[key] || key).replace(/\{\{(\w+)\}\}/g, (_, k) => (vars || {})[k] ?? '');

/** Compiles a JSX module (preact and the ui-extensions package stay external) and imports it. */
export async function importJsx(entry) {
	const outdir = path.join(root, 'test/.build');
	mkdirSync(outdir, { recursive: true });
	const outfile = path.join(outdir, path.basename(entry).replace(/\.jsx$/, '.mjs'));
	await build({
		entryPoints: [path.join(root, entry)],
		bundle: true,
		format: 'esm',
		platform: 'node',
		jsx: 'automatic',
		jsxImportSource: 'preact',
		external: ['preact', 'preact/*', '@shopify/ui-extensions', '@shopify/ui-extensions/*'],
		outfile,
		logLevel: 'error',
	});
	return import(outfile + '?v=' + Date.now());
}

export const center = {
	size_categories: [
		{ key: 'tops', label: 'Tops', sizes: ['S', 'M', 'L'] },
		{ key: 'shoes', label: 'Shoes (EU)', sizes: ['38', '39'] },
	],
	interests: [{ key: 'sale', label: 'Sale' }, { key: 'gifts', label: 'Gifts' }],
	frequencies: ['weekly', 'monthly'],
	texts: { title: 'Your preferences', personalization_consent: 'Use my history to recommend products.', marketing_consent: 'Send me news and offers.' },
};

export const preferences = {
	customer_id: '7810000000000321',
	sizes: { tops: 'XXL', shoes: '39' },
	interests: ['sale', 'vintage'],
	communication: { email: true, sms: false, frequency: 'weekly', pause_until: '2027-01-15' },
	consent: { personalization: true, marketing: false },
	updated_at: '2026-12-01T10:00:00Z',
	stale: ['sizes.tops', 'interests[1]'],
};

export const wishlist = {
	items: [
		{ product_id: '555', added_at: '2026-12-01T10:00:00Z', title: 'Fig candle', handle: 'fig-candle', price_cents: 2000, image_url: null, available: true },
		{ product_id: '556', added_at: '2026-11-01T10:00:00Z', title: null, handle: null, price_cents: null, image_url: null, available: false },
	],
	max_items: 100,
};
