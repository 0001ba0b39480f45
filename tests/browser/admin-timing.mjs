// Time to the first meaningful view of every admin page, in a real browser (headless Chromium),
// against the demo admin of a freshly started binary. Not a test: it prints a table for
// BENCHMARKS.md, with baselines measured in the same browser and the same run.
//
//   cargo build --bin atelier && (cd tests/browser && node admin-timing.mjs)
//   ATELIER_BIN=target/release/atelier RUNS=7 CHROMIUM=/usr/bin/chromium node admin-timing.mjs
//
// For each page: a cold load (a new browser context: empty cache, the shell, the script, the
// stylesheet and the page's /api calls, each with a fresh session token) and a warm load (the
// same context again: the versioned script and stylesheet come from the cache). The time is
// from navigation start (performance.timeOrigin) to the moment the page's main content is in
// the document and the page is no longer busy (observed by a MutationObserver in the page).
// "In-app" is the time from a click-like hash change to the same point, inside a loaded admin.
// Baselines: the navigation to /healthz (one database round trip, no rendering) and to the
// admin's stylesheet (a static file), in the same browser.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS = Number(process.env.RUNS || 5);
const bin = path.resolve(repo, process.env.ATELIER_BIN || 'target/debug/atelier');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const fmt = (ms) => ms.toFixed(0) + ' ms';

if (!existsSync(bin)) { console.error('no binary at ' + bin + ' (cargo build --bin atelier)'); process.exit(2); }
const dir = mkdtempSync(path.join(os.tmpdir(), 'atelier-timing-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(bin, ['serve'], {
  env: { PATH: process.env.PATH, ATELIER_ENV: 'development', DATABASE_URL: `sqlite://${path.join(dir, 'demo.db')}`, BIND_ADDR: `127.0.0.1:${port}`, APP_URL: base, RUST_LOG: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
let browser;
try {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });

  // Marks the first moment `selector` is in #main and #main is no longer busy.
  const observe = (selector) => {
    const check = () => {
      const main = document.getElementById('main');
      if (window.__firstView || !main || main.hasAttribute('aria-busy') || !main.querySelector(selector)) return;
      window.__firstView = performance.now();
    };
    new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
  };
  const firstView = async (page, route, selector) => {
    await page.goto(`${base}/demo/admin#${route}`);
    await page.waitForFunction(() => window.__firstView, null, { timeout: 30000 });
    return page.evaluate(() => window.__firstView);
  };

  // Ids for the pages about one thing: a seeded template, and a personalized line if any.
  const ctx0 = await browser.newContext();
  const p0 = await ctx0.newPage();
  await p0.goto(`${base}/demo/admin#/`);
  await p0.waitForSelector('main:not([aria-busy]) h1');
  const ids = await p0.evaluate(async () => {
    const call = async (p) => (await fetch(p, { headers: { Authorization: 'Bearer ' + (await window.shopify.idToken()) } })).json();
    const t = await call('/api/templates');
    const l = await call('/api/production/lines?limit=1');
    return { template: t.items[0]?.id, line: l.items[0]?.line_item_id };
  });
  await ctx0.close();

  const pages = [
    ['Home', '/', '.checklist'],
    ['Templates', '/templates', 'table, .empty'],
    ['Template editor', '/templates/' + ids.template, '.fieldcard'],
    ['New template', '/templates/new', '.fields'],
    ['Production', '/production', 'tr[data-line-id], .empty'],
    ...(ids.line ? [['Print view', '/production/' + ids.line, '.print__list']] : []),
    ['Preference center', '/preferences', 'fieldset'],
    ['Recommendations', '/recommendations', '.ranked'],
    ['Analytics', '/analytics', '.funnel, .empty'],
    ['Privacy', '/privacy', 'table, .empty'],
  ];

  const baseline = async (p) => {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(base + p);
      times.push(await page.evaluate(() => performance.getEntriesByType('navigation')[0].responseEnd));
      await ctx.close();
    }
    return median(times);
  };
  const healthz = await baseline('/healthz');
  const css = await baseline('/admin/assets/admin.css');

  const rows = [];
  for (const [name, route, selector] of pages) {
    const cold = [], warm = [], inApp = [];
    for (let i = 0; i < RUNS; i++) {
      const ctx = await browser.newContext();
      await ctx.addInitScript(observe, selector);
      const page = await ctx.newPage();
      cold.push(await firstView(page, route, selector));
      // Warm: the same context, a fresh document.
      await page.goto('about:blank');
      warm.push(await firstView(page, route, selector));
      // In-app: from Home, a hash change to the page.
      if (route !== '/') {
        await page.goto('about:blank');
        await page.goto(`${base}/demo/admin#/`);
        await page.waitForSelector('main:not([aria-busy]) .checklist');
        inApp.push(await page.evaluate(async ([r, sel]) => {
          const main = document.getElementById('main');
          const old = main.firstElementChild;
          const t0 = performance.now();
          location.hash = r;
          for (;;) {
            await new Promise((res) => requestAnimationFrame(res));
            if (main.firstElementChild !== old && !main.hasAttribute('aria-busy') && main.querySelector(sel)) return performance.now() - t0;
          }
        }, [route, selector]));
      }
      await ctx.close();
    }
    rows.push({ name, cold: median(cold), coldMax: Math.max(...cold), warm: median(warm), inApp: inApp.length ? median(inApp) : null });
  }

  const binName = path.relative(repo, bin);
  console.log(`\nbinary: ${binName}; ${RUNS} runs per figure (median; cold max in brackets); Chromium headless\n`);
  console.log(`baselines, same browser: GET /healthz navigation ${fmt(healthz)}; GET /admin/assets/admin.css navigation ${fmt(css)}\n`);
  console.log('| page | cold (max) | warm | in-app | cold / healthz |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${fmt(r.cold)} (${fmt(r.coldMax)}) | ${fmt(r.warm)} | ${r.inApp == null ? '—' : fmt(r.inApp)} | ${(r.cold / healthz).toFixed(1)}× |`);
  }
  const worst = Math.max(...rows.map((r) => r.coldMax));
  console.log(`\nslowest cold first view: ${fmt(worst)} (target < 1000 ms)`);
  process.exitCode = worst < 1000 ? 0 : 1;
} finally {
  await browser?.close();
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
