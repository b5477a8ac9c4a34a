/**
 * Opening a PostgreSQL store at a command's start (src/store/open-store.ts): pg's probe for Cloudflare
 * Workers does not load Node's fetch implementation (undici, ~25 ms of CPU per command on Node 20), and the
 * global `Response` is left exactly as it was (and works). Run in a fresh process: pg loads once per process.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// without a server: a URL nothing answers (port 1); loading pg is what is tested, the query only when a server is set
const url = process.env.DATABASE_URL;

describe('openStore on PostgreSQL, in a fresh process', () => {
  it('loads pg without loading undici, and leaves the global Response as it found it', async () => {
    const script = `
      const before = Object.getOwnPropertyDescriptor(globalThis, 'Response');
      const { openStore } = await import('./src/store/open-store.ts');
      const live = process.env.OMNIREC_TEST_LIVE === '1';
      try {
        const store = await openStore({ DATABASE_URL: process.env.DATABASE_URL, PGLITE_DIR: 'memory://' }, { migrate: false });
        if (live) await store.db.query('SELECT 1');
        await store.close();
      } catch (e) {
        if (live) throw e;
      }
      const after = Object.getOwnPropertyDescriptor(globalThis, 'Response');
      const undici = process.moduleLoadList.some((m) => m.includes('undici'));
      const same = before.get === after.get && before.set === after.set && before.configurable === after.configurable && before.enumerable === after.enumerable;
      const text = await new Response('still works').text();
      console.log(JSON.stringify({ undici, same, text, node: Number(process.versions.node.split('.')[0]) }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: url ?? 'postgres://postgres@127.0.0.1:1/none', OMNIREC_TEST_LIVE: url ? '1' : '0' },
    });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { undici: boolean; same: boolean; text: string; node: number };
    expect(r.same).toBe(true);
    expect(r.text).toBe('still works');
    // (Node 21+ defines navigator: pg asks it instead, nothing to hide)
    if (r.node < 21) expect(r.undici).toBe(false);
  }, 60_000);
});
