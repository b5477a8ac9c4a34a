/**
 * The baseline of bench:serve, run in its own process: a bare Express 5 app (defaults: ETag and
 * X-Powered-By on) answering GET /bare with a fixed JSON list the size of a 10-item recommendation.
 * Listens on 127.0.0.1:PORT (PORT=0: any free port) and prints `listening <port>` on stdout.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
const body = {
  items: Array.from({ length: 10 }, (_, i) => ({ sku: `SKU-${i}`, score: 0.5, reason: { type: 'similar_to', sku: 'SKU-0' }, category: 'cat' })),
  model: { version: 'bare', source: 'neighbours' },
  fallback: false,
};
app.get('/bare', (_req, res) => {
  res.json(body);
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
