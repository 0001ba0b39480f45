// Shopify's theme check (the library behind `shopify theme check`) over the theme app extension.
// With a `shopify.extension.toml` at the root it applies the theme-app-extension preset: app block
// rules, JavaScript ≤ 10,000 B and CSS ≤ 100,000 B per block, translations present in every locale.
import { check } from '@shopify/theme-check-node';
import path from 'node:path';

const root = path.resolve(process.argv[2] || '../../theme-extension');
const offenses = await check(root);
const severity = ['error', 'warning', 'info'];
for (const o of offenses) {
  const where = path.relative(root, new URL(o.uri).pathname);
  console.log(`${severity[o.severity] ?? o.severity} ${o.check} ${where}:${(o.start?.line ?? 0) + 1} ${o.message}`);
}
console.log(`theme check: ${offenses.length} offense(s) in ${root}`);
process.exit(offenses.length ? 1 : 0);
