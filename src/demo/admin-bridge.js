// Development stand-in for Shopify App Bridge (served only by GET /demo/admin in development):
// shopify.idToken() returns a real session token for the demo shop, minted by the server with
// the development API secret, so the admin runs outside Shopify and offline. Tokens stay in
// memory for the one call that asked for them.
window.shopify = {
  config: { apiKey: (document.querySelector('meta[name="shopify-api-key"]') || {}).content, shop: 'atelier-demo.myshopify.com' },
  async idToken() {
    const r = await fetch('/demo/admin/session-token', { method: 'POST', headers: { 'X-Atelier-Dev-Bridge': '1' }, credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error('The development session token could not be minted (HTTP ' + r.status + ').');
    return (await r.json()).token;
  },
};
