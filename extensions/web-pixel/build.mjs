// Bundles the pixel as Shopify's build does (one minified file) to measure what a storefront
// loads: `npm run build` prints its size raw and gzipped.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
await build({ entryPoints: ['src/index.js'], bundle: true, minify: true, format: 'iife', target: 'es2020', outfile: 'dist/pixel.js', logLevel: 'warning' });
const bytes = readFileSync('dist/pixel.js');
console.log(`dist/pixel.js: ${bytes.length} bytes, ${gzipSync(bytes).length} gzipped`);
