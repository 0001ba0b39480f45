// Atelier app embed: a product view, and add-to-cart submissions, as behaviour events.
(() => {
	const me = document.querySelector('script[data-atelier-embed]');
	if (!me) return;
	const d = me.dataset;
	let sid;
	try {
		sid = localStorage.getItem('atelier_sid');
		if (!sid) localStorage.setItem('atelier_sid', (sid = crypto.randomUUID().replace(/-/g, '')));
	} catch {
		sid = 'anonymous';
	}
	const send = (type) => fetch(d.proxy + '/events', {
		method: 'POST',
		keepalive: true,
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ type, product_id: d.productId, session_id: sid }),
	}).catch(() => {});
	send('view');
	document.addEventListener('submit', (e) => {
		if (e.target.matches && e.target.matches('form[action*="/cart/add"]')) send('add_to_cart');
	}, true);
})();
