// Block preview frame: runs before the storefront block's own script and answers the block's
// app-proxy calls with what the admin posts in (the merchant's unsaved draft), so the preview
// is the real block, fed with draft data. Nothing leaves the frame: events are swallowed and
// links go nowhere.
(() => {
  const origin = new URL(location.href).origin;
  let resolve;
  const routes = new Promise((r) => { resolve = r; });
  addEventListener('message', (ev) => {
    if (ev.source === parent && ev.data && ev.data.type === 'atelier-preview-data') resolve(ev.data.routes || {});
  });
  parent.postMessage({ type: 'atelier-preview-ready' }, origin);
  const json = (body, status) => new Response(JSON.stringify(body), { status: status || 200, headers: { 'Content-Type': 'application/json' } });
  window.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    const path = url.pathname.replace(/^\/admin\/preview-proxy/, '');
    const method = ((init && init.method) || 'GET').toUpperCase();
    if (path === '/events') return new Response(null, { status: 204 });
    const data = await routes;
    if (method === 'PUT' && path === '/preferences') {
      const body = JSON.parse((init && init.body) || '{}');
      const base = data['/preferences'] || {};
      const sizes = Object.assign({}, base.sizes, body.sizes);
      for (const k of Object.keys(sizes)) if (sizes[k] == null) delete sizes[k];
      return json(Object.assign({}, base, body, { sizes }));
    }
    if (method === 'GET' && Object.prototype.hasOwnProperty.call(data, path)) return json(data[path]);
    return json({ error: { code: 'not_in_preview', message: 'Not available in the preview.' } }, 404);
  };
  document.addEventListener('click', (e) => { if (e.target.closest && e.target.closest('a')) e.preventDefault(); }, true);
  document.addEventListener('submit', (e) => e.preventDefault());
  const report = () => parent.postMessage({ type: 'atelier-preview-height', height: document.documentElement.scrollHeight }, origin);
  addEventListener('load', () => { report(); new ResizeObserver(report).observe(document.body); });
})();
