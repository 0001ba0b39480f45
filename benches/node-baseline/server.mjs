// The webhook intake a Shopify developer would otherwise deploy, as the baseline of
// benches/webhook_load.rs: Shopify's own library (`@shopify/shopify-api` with its Node adapter)
// validates each delivery, the webhook id de-duplicates it, and it is kept in memory (nothing is
// durable: a crash loses what was acknowledged). A plain `node:http` server, no framework.
//
//     PORT=8081 SHOPIFY_API_SECRET=… node server.mjs
//
// Answers like Atelier's `POST /webhooks`: 200 {"status":"accepted"|"duplicate"}, 401 on a bad
// signature, 400 on missing headers, 413 past 5 MiB; `GET /healthz` answers 200 for the
// generator's readiness check.

import '@shopify/shopify-api/adapters/node';
import http from 'node:http';
import { ApiVersion, LogSeverity, shopifyApi } from '@shopify/shopify-api';

const MAX_BYTES = 5 * 1024 * 1024;
const port = Number(process.env.PORT || 8081);

const shopify = shopifyApi({
  apiKey: process.env.SHOPIFY_API_KEY || 'bench-key',
  apiSecretKey: process.env.SHOPIFY_API_SECRET || 'bench-secret',
  scopes: ['read_orders', 'read_products'],
  hostName: 'bench.atelier.test',
  apiVersion: ApiVersion.October25 ?? Object.values(ApiVersion).at(-1),
  isEmbeddedApp: true,
  logger: { level: LogSeverity.Error },
});

// The store: deliveries by webhook id, in memory.
const stored = new Map();

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    reply(res, 200, { status: 'ok' });
    return;
  }
  if (req.method !== 'POST' || req.url !== '/webhooks') {
    reply(res, 404, { error: { code: 'not_found', message: 'Not found.' } });
    return;
  }
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BYTES) {
      tooLarge = true;
    } else if (!tooLarge) {
      chunks.push(chunk);
    }
  });
  req.on('end', async () => {
    if (tooLarge) {
      reply(res, 413, { error: { code: 'payload_too_large', message: 'Too large.' } });
      return;
    }
    const rawBody = Buffer.concat(chunks).toString('utf8');
    try {
      const check = await shopify.webhooks.validate({ rawBody, rawRequest: req, rawResponse: res });
      if (!check.valid) {
        const status = check.reason === 'invalid_hmac' ? 401 : 400;
        reply(res, status, { error: { code: check.reason, message: 'Refused.' } });
        return;
      }
      if (stored.has(check.webhookId)) {
        reply(res, 200, { status: 'duplicate' });
        return;
      }
      stored.set(check.webhookId, {
        topic: check.topic,
        shop: check.domain,
        apiVersion: check.apiVersion,
        triggeredAt: check.triggeredAt,
        body: rawBody,
      });
      reply(res, 200, { status: 'accepted' });
    } catch (e) {
      reply(res, 500, { error: { code: 'internal', message: String(e) } });
    }
  });
});

server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
