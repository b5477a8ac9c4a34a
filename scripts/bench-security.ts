/**
 * npx tsx scripts/bench-security.ts [--n 200000]
 * CPU cost per request of what the security layer adds (src/api/api-keys.ts, http-security.ts,
 * customer-token.ts, rate-limit.ts), each measured in the same run beside a baseline (a new
 * ServerResponse and a small JSON.stringify, work every request does anyway), with the load average.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import os from 'node:os';
import { SignJWT } from 'jose';
import { parseApiKeys } from '../src/api/api-keys.js';
import { customerTokenCheck } from '../src/api/customer-token.js';
import { securityHeaders } from '../src/api/http-security.js';
import { keyRateLimiter, parseRateLimits } from '../src/api/rate-limit.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';

const spec = defineCli({
  name: 'npx tsx scripts/bench-security.ts',
  summary: 'Per-request CPU cost of API-key lookup, security headers, CORS, customer tokens and rate limiting.',
  flags: { n: { type: 'int', default: 200_000, description: 'iterations per measurement' } },
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(`load average ${load()}\n`);
  const rows: [string, number][] = [];
  const time = async (name: string, n: number, f: () => unknown) => {
    for (let i = 0; i < Math.min(n, 10_000); i++) await f();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await f();
    rows.push([name, Number(process.hrtime.bigint() - t) / n / 1000]);
  };
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.headers = { origin: 'https://shop.example.com' };
  const n = flags.n;
  await time('baseline: new ServerResponse', n, () => new ServerResponse(req));
  await time('baseline: JSON.stringify of a 10-item list', n, () =>
    JSON.stringify({ items: Array.from({ length: 10 }, (_, i) => ({ sku: `SKU${i}`, score: i / 10, reason: { type: 'similar_to', sku: 'SKU1' } })) }),
  );
  for (const count of [1, 10, 100]) {
    const keys = parseApiKeys(Array.from({ length: count }, (_, i) => `key-number-${i}-abcdef:storefront`).join(','));
    await time(`API key: hash + constant-time compare, ${count} key(s)`, n, () => keys.find(`key-number-${count - 1}-abcdef`));
  }
  const helmetOnly = securityHeaders();
  const withCors = securityHeaders({ corsOrigins: ['https://shop.example.com'] });
  await time('security headers (helmet set), incl. new ServerResponse', n, () => helmetOnly(req, new ServerResponse(req), () => {}));
  await time('security headers + CORS (allowed origin), incl. new ServerResponse', n, () => withCors(req, new ServerResponse(req), () => {}));
  const limiter = keyRateLimiter(parseRateLimits('storefront=1000000000'), { windowS: 3600 });
  const key = parseApiKeys('bench-key-0001:storefront').list()[0];
  await time('rate limit, in memory (consume)', n / 4, () => limiter(key, req, new ServerResponse(req)));
  const secret = 'bench-customer-token-secret-0123456789abcdef';
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('1042').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  const check = customerTokenCheck({ secret, store: { findCustomer: async () => null }, access: { resolve: async () => ({ status: 'unknown_customer' }) } });
  const treq = new IncomingMessage(new Socket());
  treq.headers = { authorization: `Bearer ${token}` };
  await time('customer token: verify HS256 JWT (sub = the id asked)', n / 10, () => check(treq, new ServerResponse(treq), { id: '1042' }));
  for (const [name, us] of rows) process.stdout.write(`${name.padEnd(70)} ${us.toFixed(2).padStart(8)} µs\n`);
  process.stdout.write(`load average ${load()}\n`);
});
