/**
 * Every wait has a deadline: the import's wait for its reader thread's next batch (src/ingest/import-batches.ts)
 * ends the import once the thread has sent nothing for WORKER_DEADLINE_MS (no progress, not total time), with a
 * message naming the file, a non-zero exit from `npm run import`, and a store whose invariants hold (the batches
 * committed before are whole: no order without its lines; check:store passes); importing the file again completes it.
 * The hang is injected with the test hook OMNIREC_TEST_WORKER_HANG=import (the reader sends one batch, then nothing).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { importBatches } from '../src/ingest/import-batches.js';
import { importFiles } from '../src/ingest/import-file.js';
import { storeBackends } from './helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'omnirec-reader-deadline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const UCI_HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
/** Online Retail lines: three per invoice, one of 50 products, one of 100 customers. */
function uciFile(name: string, lines: number): string {
  const rows = [UCI_HEADER];
  for (let i = 0; i < lines; i++) {
    const o = Math.floor(i / 3);
    rows.push(`${600000 + o},SKU${i % 50},Thing ${i % 50},${1 + (i % 5)},2010-12-01 08:26:00,2.55,${17000 + (o % 100)},United Kingdom`);
  }
  const path = join(tmp, name);
  writeFileSync(path, rows.join('\n') + '\n');
  return path;
}

const HANG = { OMNIREC_TEST_WORKER_HANG: 'import', WORKER_DEADLINE_MS: '1500' };
afterEach(() => {
  delete process.env.OMNIREC_TEST_WORKER_HANG;
  delete process.env.WORKER_DEADLINE_MS;
});

for (const backend of storeBackends()) {
  describe(`the import's reader thread on ${backend.name}`, () => {
    it('sends a batch and then nothing: the import fails at the deadline naming the file, what was committed is whole, a re-import completes it', async () => {
      const path = uciFile(`hang-${backend.name}.csv`, 30_000);
      const { store, cleanup } = await backend.open();
      try {
        // (the reader thread sees the hook: it starts meanwhile)
        Object.assign(process.env, HANG);
        const e = await importFiles(store, [path], { batchSize: 2_000, worker: true }).then(
          () => null,
          (err: Error) => err,
        );
        for (const k of Object.keys(HANG)) delete process.env[k];
        expect(e?.message).toBe(`the import reader thread sent nothing for 1.5 s while reading ${path} (WORKER_DEADLINE_MS); stopped, the import failed`);
        // (the first batch may be committed or not, whole: orders of three lines)
        const t = await store.totals();
        expect(t.lines).toBeLessThan(30_000);
        expect(t.lines).toBe(t.orders * 3);
        expect((await store.checkInvariants()).failures).toEqual([]);
        const again = await importFiles(store, [path], { batchSize: 2_000, worker: true });
        expect(again.lines).toBe(30_000);
        expect(again.orders).toBe(10_000);
        expect((await store.checkInvariants()).failures).toEqual([]);
      } finally {
        await cleanup();
      }
    }, 120_000);

    it('is slow but keeps sending batches: no deadline on the whole file, the import completes', async () => {
      const path = uciFile(`slow-${backend.name}.csv`, 30_000);
      const { store, cleanup } = await backend.open();
      try {
        // 15 batches 0.3 s apart: 4.5 s in all, each under the 2 s without progress
        Object.assign(process.env, { OMNIREC_TEST_WORKER_HANG: 'import-slow', WORKER_DEADLINE_MS: '2000' });
        const t0 = performance.now();
        const s = await importFiles(store, [path], { batchSize: 2_000, firstBatchSize: 2_000, worker: true });
        expect(performance.now() - t0).toBeGreaterThan(2000);
        expect(s.lines).toBe(30_000);
        expect((await store.checkInvariants()).failures).toEqual([]);
      } finally {
        await cleanup();
      }
    }, 120_000);
  });
}

describe('npm run import with a reader thread that hangs (embedded store)', () => {
  const env = { ...process.env, PGLITE_DIR: join(tmp, 'pglite'), DATABASE_URL: '', REDIS_URL: '', REDIS_CLUSTER_NODES: '', CACHE_DIR: join(tmp, 'cache'), CACHE_PREFIX: 'reader-deadline' };
  const root = join(import.meta.dirname, '..');
  const cli = (script: string, extra: Record<string, string>, ...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env: { ...env, ...extra } });
  type Failed = { code: number; stdout: string; stderr: string };

  it('exits 1 with one clear line naming the file and no stack; check:store passes', async () => {
    // at least 4 MiB: the CLI reads it on a thread
    const path = uciFile('cli-hang.csv', 70_000);
    const r = (await cli('scripts/import.ts', HANG, path, '--quiet').catch((e: Failed) => e)) as Failed;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the import reader thread sent nothing for 1.5 s while reading ${path} (WORKER_DEADLINE_MS); stopped, the import failed`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const check = await cli('scripts/check-store.ts', {}, '--json');
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, failures: [] });
  }, 180_000);
});

describe("a failure beside the reader thread ends the wait for its next batch at once (not at WORKER_DEADLINE_MS)", () => {
  // (10 min: a wait that only its deadline ends makes these tests time out)
  afterEach(() => delete process.env.WORKER_DEADLINE_MS);
  const drain = async (path: string, options: Partial<Parameters<typeof importBatches>[1]>) => {
    process.env.WORKER_DEADLINE_MS = '600000';
    for await (const _ of importBatches(path, { worker: true, batchSize: 2_000, reserveOrderIds: async () => [], ...options })) void _;
  };

  it('a refused order-id reservation (the store unreachable) is the import\'s error', async () => {
    const path = uciFile('refused-ids.csv', 30_000);
    const refused = new Error('PostgreSQL unreachable (test)');
    await expect(drain(path, { reserveOrderIds: () => Promise.reject(refused) })).rejects.toBe(refused);
  }, 30_000);

  it('an abort (the import failed elsewhere) ends a wait on a reservation that never answers', async () => {
    const path = uciFile('aborted.csv', 30_000);
    const stop = new AbortController();
    let ask: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => (ask = resolve));
    const reading = drain(path, {
      signal: stop.signal,
      reserveOrderIds: () => {
        ask();
        return new Promise<number[]>(() => undefined);
      },
    });
    reading.catch(() => undefined);
    await asked;
    stop.abort();
    await expect(reading).rejects.toThrow(`the import of ${path} was stopped`);
  }, 30_000);

  it('npm run import of a file read on a thread, PostgreSQL refusing connections: exit 1 at once, one line', async () => {
    const root = join(import.meta.dirname, '..');
    const path = uciFile('cli-refused.csv', 70_000);
    const env = { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', WORKER_DEADLINE_MS: '600000' };
    const r = (await promisify(execFile)(process.execPath, ['scripts/run.mjs', 'scripts/import.ts', path, '--quiet'], { cwd: root, env }).catch((e: { code: number; stderr: string }) => e)) as {
      code: number;
      stderr: string;
    };
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^import: error: PostgreSQL at 127\.0\.0\.1:1 unreachable/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
