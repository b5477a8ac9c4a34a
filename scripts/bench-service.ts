/**
 * What the serving benchmarks share (bench:serve, bench:offers): the service (or bare Express) in its own
 * process, as `npm start` runs it, and a throwaway history store for the run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * A fresh PostgreSQL database for the run (dropped after), or a PGlite directory with --pglite
 * (removed after); `env` points the service at it.
 */
export async function benchStore(databaseUrl: string | null, prefix: string): Promise<{ store: Store; env: Record<string, string>; drop(): Promise<void> }> {
  if (!databaseUrl) {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-pglite-`));
    const store = await openStore({ DATABASE_URL: undefined, PGLITE_DIR: dir });
    return { store, env: { PGLITE_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `omnirec_bench_${process.pid}_${Date.now()}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  const store = await openStore({ DATABASE_URL: u.toString(), PGLITE_DIR: 'memory://' });
  return {
    store,
    env: { DATABASE_URL: u.toString() },
    async drop() {
      await store.close().catch(() => {});
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A server under load in its own process: where it listens, its pid (for CPU time), and how to stop it. */
export interface Served {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** A free loopback port (the OS picks one; the child binds it right after). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const { port } = s.address() as AddressInfo;
  await new Promise((res) => s.close(res));
  return port;
}

/**
 * Runs a TypeScript entry point in its own Node process (node --import tsx, so the pid is the
 * server's own) with exactly `env` (plus PATH/HOME) and PORT set, stdout discarded; resolves once
 * GET `ready` answers 200. close() sends SIGTERM (graceful shutdown) and waits for the exit.
 */
export async function serveProcess(name: string, entry: string, env: Record<string, string>, ready: string): Promise<Served> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: join(here, '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode} before it was ready:\n${stderr}`);
    const ok = await fetch(url + ready).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready after 120 s:\n${stderr}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

