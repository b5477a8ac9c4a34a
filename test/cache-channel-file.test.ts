/**
 * The embedded cache's file-backed channels (CACHE_DIR shared by several processes): a subscriber
 * reads only what was appended since it last looked, and a file replaced by a publisher past its
 * size limit loses nothing that was appended before the switch.
 */
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_ROTATE_BYTES, ChannelTail, Store } from '../src/cache/memory-store.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'omnirec-chan-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const line = (m: string) => JSON.stringify(m) + '\n';

describe('ChannelTail', () => {
  it('delivers only messages appended after it starts, each once, a half-written line when complete', () => {
    const f = join(tmp(), 'c.log');
    writeFileSync(f, line('before'));
    const t = new ChannelTail(f);
    expect(t.read()).toEqual([]);
    appendFileSync(f, line('a') + line('b'));
    expect(t.read()).toEqual(['a', 'b']);
    expect(t.read()).toEqual([]);
    appendFileSync(f, '"c');
    expect(t.read()).toEqual([]);
    appendFileSync(f, '"\n');
    expect(t.read()).toEqual(['c']);
    t.close();
  });

  it('a file that does not exist yet is read from its start once it appears', () => {
    const f = join(tmp(), 'c.log');
    const t = new ChannelTail(f);
    expect(t.read()).toEqual([]);
    writeFileSync(f, line('first'));
    expect(t.read()).toEqual(['first']);
    t.close();
  });

  it('after a replacement, finishes the old file, then reads the new one from its start', () => {
    const d = tmp();
    const f = join(d, 'c.log');
    writeFileSync(f, '');
    const t = new ChannelTail(f);
    appendFileSync(f, line('old-1'));
    expect(t.read()).toEqual(['old-1']);
    appendFileSync(f, line('old-2')); // not read yet when the file is replaced
    writeFileSync(join(d, 'next'), line('new-1'));
    renameSync(join(d, 'next'), f);
    appendFileSync(f, line('new-2'));
    expect(t.read()).toEqual(['old-2', 'new-1', 'new-2']);
    t.close();
  });
});

describe('file-backed channel of the embedded store', () => {
  it('rotates past its size limit without losing the messages published between two polls', async () => {
    const dir = tmp();
    const publisher = new Store(dir, 10, 1 << 20);
    const subscriber = new Store(dir, 10, 1 << 20);
    const got: string[] = [];
    const off = subscriber.subscribe('ch', (m) => got.push(m));
    publisher.publish('ch', 'hello');
    await new Promise((r) => setTimeout(r, 40));
    expect(got).toEqual(['hello']);
    got.length = 0;
    const big = 'x'.repeat(4096);
    const n = Math.ceil((CHANNEL_ROTATE_BYTES * 1.5) / big.length);
    // published in one go (no poll in between): the file is replaced under the subscriber
    for (let i = 0; i < n; i++) publisher.publish('ch', `${i}:${big}`);
    await new Promise((r) => setTimeout(r, 80));
    off();
    expect(got.length).toBe(n);
    expect(got.map((m) => Number(m.split(':')[0]))).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
