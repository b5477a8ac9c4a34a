/**
 * The embedded cache's files as two processes see them: an isolated MemoryCache on the same directory
 * behaves like another process (its own memory, only the files in common).
 */
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';

let dir: string;
const open: MemoryCache[] = [];
const cache = (isolated = true) => {
  const c = new MemoryCache(dir, { pollMs: 10, isolated });
  open.push(c);
  return c;
};
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (v: string, id: string) => `p:v:${v}:customer:${id}`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cache-memory-'));
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded cache across processes', () => {
  it('a reader picks up appends, overwrites and deletes of another process within the poll interval', async () => {
    const writer = cache();
    const reader = cache();
    await writer.writeBatch([
      [key('v1', 'a'), Buffer.from('A1')],
      [key('v1', 'b'), Buffer.from('B1')],
    ]);
    expect((await reader.get(key('v1', 'a')))?.toString()).toBe('A1');
    await writer.writeBatch([[key('v1', 'a'), Buffer.from('A2')]]);
    expect(await writer.delete([key('v1', 'b'), key('v1', 'zz')])).toBe(1);
    // within the poll interval the reader may still answer from memory; after it, from the file
    await wait(20);
    expect((await reader.get(key('v1', 'a')))?.toString()).toBe('A2');
    expect(await reader.get(key('v1', 'b'))).toBeNull();
    expect(await reader.countExisting([key('v1', 'a'), key('v1', 'b')])).toBe(1);
  });

  it('getMany reads afresh while get may answer from memory for up to the poll interval', async () => {
    const writer = cache();
    const reader = new MemoryCache(dir, { pollMs: 60_000, isolated: true });
    open.push(reader);
    await writer.writeBatch([['p:{v:v1}:meta', Buffer.from('old')]]);
    expect((await reader.get('p:{v:v1}:meta'))?.toString()).toBe('old');
    await writer.writeBatch([['p:{v:v1}:meta', Buffer.from('new')]]);
    expect((await reader.get('p:{v:v1}:meta'))?.toString()).toBe('old');
    expect((await reader.getMany(['p:{v:v1}:meta']))[0]?.toString()).toBe('new');
  });

  it('ignores a torn record at the end of a log until it is complete', async () => {
    const writer = cache();
    const reader = cache();
    await writer.writeBatch([[key('v1', 'a'), Buffer.from('A1')]]);
    expect((await reader.get(key('v1', 'a')))?.toString()).toBe('A1');
    const log = join(dir, "v", "v1.log");
    const k = Buffer.from(key('v1', 'c'));
    const head = Buffer.alloc(9);
    head.writeUInt8(1, 0);
    head.writeUInt32LE(k.length, 1);
    head.writeUInt32LE(3, 5);
    appendFileSync(log, Buffer.concat([head, k, Buffer.from('C')]));
    await wait(20);
    expect(await reader.get(key('v1', 'c'))).toBeNull();
    expect((await reader.get(key('v1', 'a')))?.toString()).toBe('A1');
    appendFileSync(log, Buffer.from('CC'));
    await wait(20);
    expect((await reader.get(key('v1', 'c')))?.toString()).toBe('CCC');
  });

  it('keeps one log per version, removes it when the version is emptied, and starts over when a log is replaced', async () => {
    const writer = cache();
    const reader = cache();
    await writer.writeBatch([
      [key('v1', 'a'), Buffer.from('1')],
      [key('v2', 'a'), Buffer.from('2')],
      ['p:{v:v2}:meta', Buffer.from('{}')],
      ['p:current', 'v2'],
    ]);
    expect(readdirSync(join(dir, 'v')).sort()).toEqual(['v1.log', 'v2.log']);
    expect((await reader.get('p:current'))?.toString()).toBe('v2');
    expect((await reader.get('p:{v:v2}:meta'))?.toString()).toBe('{}');
    const all: string[] = [];
    for await (const b of reader.scan('p:*', 2)) all.push(...b);
    expect(all.sort()).toEqual(['p:current', 'p:v:v1:customer:a', 'p:v:v2:customer:a', 'p:{v:v2}:meta']);
    await writer.delete([key('v1', 'a')]);
    expect(readdirSync(join(dir, 'v'))).toEqual(['v2.log']);
    await wait(20);
    expect(await reader.get(key('v1', 'a'))).toBeNull();
    // v1 written again from scratch: the reader must not apply the new file from its old offset
    await writer.writeBatch([[key('v1', 'b'), Buffer.from('new')]]);
    await wait(20);
    expect((await reader.get(key('v1', 'b')))?.toString()).toBe('new');
    expect(await reader.get(key('v1', 'a'))).toBeNull();
  });

  it('compacts a log that is mostly overwritten records; another process reloads it whole', async () => {
    const writer = new MemoryCache(dir, { pollMs: 10, isolated: true, compactMinBytes: 2000 });
    open.push(writer);
    const reader = cache();
    const value = (i: number) => Buffer.alloc(100, i);
    await writer.writeBatch([
      [key('v1', 'a'), value(0)],
      [key('v1', 'b'), value(0)],
    ]);
    expect((await reader.get(key('v1', 'b')))?.[0]).toBe(0);
    for (let i = 1; i <= 60; i++) await writer.writeBatch([[key('v1', 'a'), value(i)]]);
    // 62 records of 127 bytes were written (~7.9 kB); every time the log passes 2,000 bytes it is rewritten
    // with the two live records only, so at rest it stays at most 2,000 bytes
    const size = statSync(join(dir, 'v', 'v1.log')).size;
    expect(size).toBeLessThanOrEqual(2000);
    await wait(20);
    expect((await reader.get(key('v1', 'a')))?.[0]).toBe(60);
    expect((await reader.get(key('v1', 'b')))?.[0]).toBe(0);
    await writer.writeBatch([[key('v1', 'b'), value(7)]]);
    await wait(20);
    expect((await reader.get(key('v1', 'b')))?.[0]).toBe(7);
  });

  it('delivers published messages to subscribers of another process, once each, in order', async () => {
    const a = cache();
    const b = cache();
    const got: string[] = [];
    await b.subscribe('p:announce', (m) => got.push(m));
    await a.setAndPublish('p:current', 'v1', 'p:announce', 'v1');
    await a.setAndPublish('p:current', 'v2', 'p:announce', 'v2');
    await wait(50);
    expect(got).toEqual(['v1', 'v2']);
    expect((await b.get('p:current'))?.toString()).toBe('v2');
    await a.hashSet('p:versions', 'v1', 'x');
    await a.hashSet('p:versions', 'v2', 'y');
    await a.hashDelete('p:versions', 'v1');
    expect(await b.hashGetAll('p:versions')).toEqual({ v2: 'y' });
  });

  it('persists: a new instance after every other was closed reads what was written', async () => {
    const first = cache(false);
    await first.writeBatch([[key('v1', 'a'), Buffer.from('A')]]);
    await first.close();
    const second = cache(false);
    expect((await second.get(key('v1', 'a')))?.toString()).toBe('A');
    await expect(first.get(key('v1', 'a'))).rejects.toThrow(/closed/);
  });
});
