/**
 * One process at a time on a PGlite directory (src/store/dir-lock.ts), with real processes: a second
 * process fails at once with a message naming the holder; a lock left by a killed process is taken over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDirectory } from '../src/store/dir-lock.js';

const script = new URL('./helpers/hold-pglite.ts', import.meta.url).pathname;
let dir: string;
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  /** Resolves with "open" once the store is open, or with the exit code and stderr when it failed. */
  opened: Promise<{ open: true } | { open: false; code: number | null; stderr: string }>;
  exited: Promise<number | null>;
}

function hold(): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script, join(dir, 'pglite')], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const opened = new Promise<{ open: true } | { open: false; code: number | null; stderr: string }>((resolve) => {
    child.stdout!.on('data', (d) => {
      if (String(d).includes('open')) resolve({ open: true });
    });
    void exited.then((code) => resolve({ open: false, code, stderr }));
  });
  return { child, opened, exited };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-lock-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('PGlite directory lock', () => {
  it('refuses a second process at once, naming the first; takes over the lock of a killed one', async () => {
    const a = hold();
    expect(await a.opened).toEqual({ open: true });
    const lockFile = join(dir, 'pglite', 'omnirec.lock');
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(a.child.pid);

    const b = hold();
    const rb = await b.opened;
    expect(rb.open).toBe(false);
    if (!rb.open) {
      expect(rb.code).toBe(3);
      expect(rb.stderr).toContain(`in use by process ${a.child.pid}`);
      expect(rb.stderr).toContain('DATABASE_URL');
    }

    // kill -9: the lock stays behind, stale; the next process takes it over
    a.child.kill('SIGKILL');
    await a.exited;
    expect(existsSync(lockFile)).toBe(true);
    const c = hold();
    expect(await c.opened).toEqual({ open: true });
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(c.child.pid);
    // a clean close removes the lock
    c.child.stdin!.write('close\n');
    expect(await c.exited).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  }, 60_000);

  it('refuses a second open in the same process until the first is released', async () => {
    const d = join(dir, 'same');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(d);
    const l = lockDirectory(d);
    expect(() => lockDirectory(d)).toThrow(/in use by process/);
    l.release();
    lockDirectory(d).release();
  });
});
