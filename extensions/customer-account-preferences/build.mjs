// Bundles the extension as Shopify's build does (esbuild, Preact's automatic JSX runtime, one
// minified file) to measure what a customer account page loads: `npm run build` prints its size
// raw and gzipped. `shopify app deploy` builds and uploads its own copy.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
await build({
	entryPoints: ['src/ProfileBlock.jsx'],
	bundle: true,
	minify: true,
	format: 'esm',
	target: 'es2020',
	jsx: 'automatic',
	jsxImportSource: 'preact',
	outfile: 'dist/profile-block.js',
	logLevel: 'warning',
});
const bytes = readFileSync('dist/profile-block.js');
console.log(`dist/profile-block.js: ${bytes.length} bytes, ${gzipSync(bytes).length} gzipped`);
