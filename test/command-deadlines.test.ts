/**
 * Every wait of a command has a deadline (issues 12, 13): a PostgreSQL or Redis that accepts the connection and
 * never answers makes each command that opens the store or the cache exit 1 by itself, with one line naming what it
 * waited for and the bound (PG_CONNECT_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS), never a hang or a stack trace; and a
 * PostgreSQL that stops answering in the middle of a command fails its calls after the no-progress watch
 * (PG_STALL_TIMEOUT_MS), while a statement that legitimately runs long goes on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandPgTimeouts, openStore } from '../src/store/open-store.js';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { fixtureBundle } from './helpers/cache-bundle.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const root = join(__dirname, '..');
/** The test's own guard: a child still running after this is a hang (killed, and the test fails). */
const HANG_MS = 90_000;

/** A server that accepts every connection and never writes a byte (nor closes). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Run {
  code: number | null;
  killed: boolean;
  stderr: string;
}

/** Runs a command as a child process (as npm runs it), killed if it is still running after HANG_MS. */
function run(args: string[], env: Record<string, string>): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL|REDIS_CLUSTER_NODES|PGLITE_DIR|CACHE_DIR|MODEL_DIR|PG_|REDIS_)/.test(k)),
  );
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, args, { cwd: root, env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, HANG_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, killed, stderr });
    });
  });
}

let dir: string;
let pgSilent: Awaited<ReturnType<typeof silentServer>>;
let csv: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omnirec-deadlines-'));
  csv = join(dir, 'orders.csv');
  writeFileSync(csv, 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n');
  pgSilent = await silentServer();
  await writeBundle(join(dir, 'models'), fixtureBundle('v1', { tag: 1 }));
});

afterAll(async () => {
  await pgSilent.close();
  rmSync(dir, { recursive: true, force: true });
});

const tsx = (script: string, ...args: string[]) => ['--import', 'tsx', script, ...args];

describe('a PostgreSQL that accepts connections and never answers', () => {
  const commands: [string, () => string[]][] = [
    ['import', () => ['scripts/run.mjs', 'scripts/import.ts', '--quiet', csv]],
    ['check:store', () => tsx('scripts/check-store.ts')],
    ['migrate', () => tsx('scripts/migrate.ts')],
    ['train', () => ['scripts/run.mjs', 'scripts/train.ts', '--quiet', '--version', 't', '--model-dir', join(dir, 'models')]],
    ['evaluate', () => ['scripts/run.mjs', 'scripts/evaluate.ts', '--json']],
    ['evaluate:offers', () => tsx('scripts/evaluate-offers.ts', '--from-store')],
    // (publish reads and checks its bundle before it opens the store)
    ['publish', () => tsx('scripts/publish.ts', 'v1', '--quiet', '--model-dir', join(dir, 'models'))],
  ];
  it.each(commands)('%s exits 1 by itself, with one line naming PostgreSQL, its address and the connect deadline', async (name, args) => {
    const r = await run(args(), { DATABASE_URL: `postgres://postgres@127.0.0.1:${pgSilent.port}/x`, PG_CONNECT_TIMEOUT_MS: '1000', CACHE_DIR: 'memory://' });
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(`${name}: error: PostgreSQL at 127.0.0.1:${pgSilent.port} did not answer within 1 s (connect)`);
    // no stack trace
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }, HANG_MS + 30_000);
});

describe('a Redis that accepts connections and never answers', () => {
  it.each([['publish', 'v1'], ['publish', 'list']])('%s %s exits 1 by itself, naming Redis, its address and the connect deadline', async (_name, what) => {
    const redis = await silentServer();
    try {
      const r = await run(tsx('scripts/publish.ts', what, '--quiet', '--model-dir', join(dir, 'models')), {
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        REDIS_CONNECT_TIMEOUT_MS: '1000',
        PGLITE_DIR: 'memory://',
      });
      expect(r.killed).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^publish: error: Redis at redis://127\\.0\\.0\\.1:${redis.port} is unreachable: did not answer within 1 s \\(connect`));
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await redis.close();
    }
  }, HANG_MS + 30_000);
});

describe('command deadlines: configuration', () => {
  it('PG_CONNECT_TIMEOUT_MS and PG_STALL_TIMEOUT_MS default to 10 s and 30 s for commands, and a bad value names the variable', () => {
    expect(commandPgTimeouts({})).toMatchObject({ connectTimeoutMs: 10_000, connectOnly: true, stallMs: 30_000 });
    expect(commandPgTimeouts({ PG_CONNECT_TIMEOUT_MS: '1500', PG_STALL_TIMEOUT_MS: '600' })).toMatchObject({ connectTimeoutMs: 1500, stallMs: 600 });
    expect(() => commandPgTimeouts({ PG_STALL_TIMEOUT_MS: 'soon' })).toThrow(/PG_STALL_TIMEOUT_MS="soon"/);
    expect(() => commandPgTimeouts({ PG_CONNECT_TIMEOUT_MS: '0' })).toThrow(/PG_CONNECT_TIMEOUT_MS/);
  });
});

// a real PostgreSQL behind a proxy that can freeze (as CI runs it: DATABASE_URL set)
const pgUrl = process.env.DATABASE_URL;
if (pgUrl) {
  describe('a PostgreSQL that stops answering in the middle of a command', () => {
    const target = new URL(pgUrl);
    const timeouts = commandPgTimeouts({ PG_CONNECT_TIMEOUT_MS: '1000', PG_STALL_TIMEOUT_MS: '500' });

    it('fails the call in progress (and later ones) with a message naming the wait, instead of waiting for ever', async () => {
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const url = new URL(pgUrl);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const store = await openStore({ DATABASE_URL: url.toString(), PGLITE_DIR: 'memory://' }, { timeouts });
      try {
        await store.totals();
        await proxy.setMode('hang');
        await expect(store.totals()).rejects.toThrow(`PostgreSQL at 127.0.0.1:${proxy.port} did not answer within 1.5 s (a statement in progress, then a new connection's SELECT 1)`);
        await expect(store.totals()).rejects.toThrow(/did not answer within 1.5 s/);
      } finally {
        await proxy.close();
        await store.close().catch(() => {});
      }
    }, 60_000);

    /** A store through a proxy, on one pooled connection (so the connection a call uses is known), and its SqlClient. */
    async function proxiedStore(poolSize = 1) {
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const url = new URL(pgUrl!);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const store = await openStore({ DATABASE_URL: url.toString(), PGLITE_DIR: 'memory://' }, { timeouts, poolSize });
      const db = (store as unknown as { db: import('../src/store/sql-client.js').SqlClient }).db;
      return { proxy, store, db };
    }
    const lost = (port: number, state: string, pid = '\\d+') =>
      new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${port} did not answer a statement within 0\\.5 s: its connection is lost \\(backend ${pid} is ${state}; the server answers new connections\\)$`);

    it("one open connection lost while the server answers new ones (its packets dropped): that call fails naming the wait, the next one works", async () => {
      const { proxy, store, db } = await proxiedStore();
      try {
        const before = await store.totals();
        // the statement never reaches the server: its backend is idle; the watch's SELECT 1 on a new connection is answered
        proxy.cutOpen();
        await expect(store.totals()).rejects.toThrow(lost(proxy.port, 'idle, running no statement'));
        // (a new connection)
        expect(await store.totals()).toEqual(before);
        // a statement under way when its connection is cut: the backend ends it, its answer is lost
        const sleeping = db.query('SELECT 7 AS v FROM pg_sleep(0.3)');
        await new Promise((r) => setTimeout(r, 100));
        proxy.cutOpen();
        await expect(sleeping).rejects.toThrow(lost(proxy.port, 'idle, running no statement'));
        // in a transaction: the backend waits for the client, "idle in transaction"
        await expect(
          db.transaction(async (tx) => {
            await tx.query('SELECT 1');
            proxy.cutOpen();
            await tx.query('SELECT 2');
          }),
        ).rejects.toThrow(lost(proxy.port, 'idle in transaction, running no statement'));
        expect(await store.totals()).toEqual(before);
      } finally {
        await proxy.close();
        await store.close().catch(() => {});
      }
    }, 60_000);

    it('one connection lost while the others go on answering (progress, so never "no progress at all"): that call fails all the same', async () => {
      const { proxy, store, db } = await proxiedStore(2);
      try {
        await db.query('SELECT 1');
        proxy.cutOpen();
        let settled = false;
        const outcome = db.query('SELECT 1 AS v').then(
          () => 'answered',
          (e: Error) => e.message,
        );
        void outcome.finally(() => (settled = true));
        // meanwhile a new connection answers statement after statement
        let answered = 0;
        while (!settled) {
          expect((await db.query<{ v: number }>('SELECT 2 AS v')).rows[0].v).toBe(2);
          answered++;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(await outcome).toMatch(lost(proxy.port, 'idle, running no statement'));
        expect(answered).toBeGreaterThan(0);
      } finally {
        await proxy.close();
        await store.close().catch(() => {});
      }
    }, 60_000);

    it('a backend killed without the client being told (pg_terminate_backend, its goodbye dropped): the call fails naming the wait', async () => {
      const { proxy, store, db } = await proxiedStore();
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      try {
        const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        proxy.cutOpen();
        expect((await admin.query('SELECT pg_terminate_backend($1) AS ok', [pid])).rows[0].ok).toBe(true);
        await expect(db.query('SELECT 1')).rejects.toThrow(lost(proxy.port, 'gone', String(pid)));
        expect((await db.query<{ v: number }>('SELECT 3 AS v')).rows[0].v).toBe(3);
      } finally {
        await admin.end();
        await proxy.close();
        await store.close().catch(() => {});
      }
    }, 60_000);

    it('a large answer still arriving over a slow link (its backend already idle) goes on: not taken for a lost connection', async () => {
      const { proxy, store, db } = await proxiedStore();
      try {
        await db.query('SELECT 1');
        // 3 MB at 1 MB/s: the backend hands it to the OS at once and is idle for the ~3 s it takes to arrive
        proxy.throttleDown(1_000_000);
        const r = await db.query<{ s: string }>("SELECT repeat('x', 1000) AS s FROM generate_series(1, 3000)");
        expect(r.rows.length).toBe(3000);
        expect(r.rows[2999].s.length).toBe(1000);
      } finally {
        await proxy.close();
        await store.close().catch(() => {});
      }
    }, 60_000);

    it('a lock wait longer than the watch goes on (its backend is active, waiting): not taken for a lost connection', async () => {
      const store = await openStore({ DATABASE_URL: pgUrl, PGLITE_DIR: 'memory://' }, { timeouts });
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      try {
        const db = (store as unknown as { db: import('../src/store/sql-client.js').SqlClient }).db;
        await admin.query('BEGIN; SELECT pg_advisory_xact_lock(424242)');
        // (a transaction-scoped lock: released as the statement ends)
        const waiting = db.query<{ v: number }>('SELECT 5 AS v FROM pg_advisory_xact_lock(424242)');
        await new Promise((r) => setTimeout(r, 2000));
        await admin.query('COMMIT');
        expect((await waiting).rows[0].v).toBe(5);
      } finally {
        await admin.end();
        await store.close();
      }
    }, 60_000);

    it('lets a statement that runs longer than the watch go on while the server answers', async () => {
      const store = await openStore({ DATABASE_URL: pgUrl, PGLITE_DIR: 'memory://' }, { timeouts });
      try {
        const db = (store as unknown as { db: { query(sql: string): Promise<{ rows: { v: number }[] }> } }).db;
        const r = await db.query('SELECT 7 AS v FROM pg_sleep(2)');
        expect(r.rows[0].v).toBe(7);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}
