/**
 * The baseline of bench:serve, run in its own process: a bare Express 5 app (defaults: ETag and
 * X-Powered-By on) answering GET /bare with a fixed JSON list the size of a 10-item recommendation.
 * Listens on 127.0.0.1:PORT (PORT=0: any free port) and prints `listening <port>` on stdout.
 * WORKERS=N (N > 1): N such processes behind a node:cluster primary sharing the port, as the service
 * runs with WEB_CONCURRENCY=N (bench:serve --workers N compares the two with the same processes).
 */
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import express from 'express';

const workers = Number(process.env.WORKERS ?? 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let alive = workers;
  cluster.on('exit', () => {
    if (--alive === 0) process.exit(0);
  });
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  });
} else {
  serve();
}

function serve(): void {

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
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
