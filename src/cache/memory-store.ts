/**
 * The embedded cache's storage: in-memory maps per version, optionally backed by the files of CACHE_DIR
 * (layout in memory-cache.ts). Internal to src/cache/memory-cache.ts.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';

const LOG_HEADER = 12;
const SET = 1;
const DEL = 2;

interface Partition {
  map: Map<string, Buffer>;
  /** Bytes of the log already applied, and the generation (header) and mtime of the file they came from. */
  offset: number;
  gen: string | null;
  mtimeMs: number;
  /** Bytes the live entries would take in a fresh log (for compaction). */
  live: number;
  checkedAt: number;
}

export type MetaValue = string | Record<string, string>;

/** The data behind every MemoryCache of one location (see memory-cache.ts for the file layout). */
export class Store {
  readonly emitter = new EventEmitter();
  private readonly parts = new Map<string, Partition>();
  private readonly meta = new Map<string, MetaValue>();
  private readonly channelPolls = new Map<string, ChannelPoll>();
  refs = 0;

  constructor(
    readonly dir: string | null,
    readonly pollMs: number,
    readonly compactMinBytes: number,
  ) {
    this.emitter.setMaxListeners(0);
    if (dir) for (const sub of ['meta', 'v', 'channels']) mkdirSync(join(dir, sub), { recursive: true });
  }

  private file(kind: 'meta' | 'v' | 'channels', name: string, ext: string): string {
    return join(this.dir!, kind, `${encodeURIComponent(name)}${ext}`);
  }

  // ---- unversioned keys
  readMeta(key: string): MetaValue | undefined {
    if (!this.dir) return this.meta.get(key);
    try {
      return JSON.parse(readFileSync(this.file('meta', key, '.json'), 'utf8')) as MetaValue;
    } catch {
      return undefined;
    }
  }

  writeMeta(key: string, value: MetaValue | undefined): void {
    if (!this.dir) {
      if (value === undefined) this.meta.delete(key);
      else this.meta.set(key, value);
      return;
    }
    const f = this.file('meta', key, '.json');
    if (value === undefined) {
      if (existsSync(f)) unlinkSync(f);
      return;
    }
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, f);
  }

  metaKeys(): string[] {
    if (!this.dir) return [...this.meta.keys()];
    return readdirSync(join(this.dir, 'meta'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => decodeURIComponent(f.slice(0, -5)));
  }

  // ---- versioned keys
  partition(version: string, fresh = false): Partition {
    let p = this.parts.get(version);
    if (!p) {
      p = { map: new Map(), offset: 0, gen: null, mtimeMs: 0, live: 0, checkedAt: 0 };
      this.parts.set(version, p);
    }
    if (this.dir && (fresh || Date.now() - p.checkedAt >= this.pollMs)) this.refresh(version, p);
    return p;
  }

  private refresh(version: string, p: Partition): void {
    p.checkedAt = Date.now();
    const f = this.file('v', version, '.log');
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      p.map.clear();
      p.live = 0;
      p.offset = 0;
      p.gen = null;
      return;
    }
    try {
      const st = fstatSync(fd);
      if (st.size === p.offset && st.mtimeMs === p.mtimeMs) return;
      // a log replaced by a new one (cleanup, then the version written again) has another generation
      const head = Buffer.alloc(LOG_HEADER);
      const gen = readSync(fd, head, 0, LOG_HEADER, 0) === LOG_HEADER ? head.toString('hex') : null;
      if (gen === null) return;
      if (gen !== p.gen || st.size < p.offset) {
        p.map.clear();
        p.live = 0;
        p.offset = LOG_HEADER;
        p.gen = gen;
      }
      p.mtimeMs = st.mtimeMs;
      if (st.size === p.offset) return;
      // read only the new tail (another process appended)
      const buf = Buffer.allocUnsafe(st.size - p.offset);
      readSync(fd, buf, 0, buf.length, p.offset);
      p.offset += applyLog(p, buf);
    } finally {
      closeSync(fd);
    }
  }

  versionsOnDisk(): string[] {
    if (!this.dir) return [...this.parts.keys()];
    return readdirSync(join(this.dir, 'v'))
      .filter((f) => f.endsWith('.log'))
      .map((f) => decodeURIComponent(f.slice(0, -4)));
  }

  append(version: string, records: [string, Buffer | null][]): void {
    const p = this.partition(version, true);
    for (const [k, v] of records) setEntry(p, k, v);
    if (!this.dir) return;
    const f = this.file('v', version, '.log');
    if (p.map.size === 0) {
      if (existsSync(f)) unlinkSync(f);
      p.offset = 0;
      p.gen = null;
      return;
    }
    if (!existsSync(f)) {
      // a new log starts with its generation: "OLOG" + 8 random bytes
      const head = Buffer.concat([Buffer.from('OLOG'), randomBytes(LOG_HEADER - 4)]);
      writeFileSync(f, head, { flag: 'wx' });
      p.gen = head.toString('hex');
    }
    appendFileSync(f, encodeLog(records));
    let st = statSync(f);
    if (st.size > this.compactMinBytes && st.size - LOG_HEADER > 2 * p.live) {
      // mostly overwritten records: rewrite the live ones under a new generation (readers reload it whole)
      const tmp = `${f}.${process.pid}.compact`;
      const head = Buffer.concat([Buffer.from('OLOG'), randomBytes(LOG_HEADER - 4)]);
      writeFileSync(tmp, Buffer.concat([head, encodeLog([...p.map])]));
      renameSync(tmp, f);
      p.gen = head.toString('hex');
      st = statSync(f);
    }
    p.offset = st.size;
    p.mtimeMs = st.mtimeMs;
  }

  // ---- channels
  publish(channel: string, message: string): void {
    if (!this.dir) {
      this.emitter.emit(channel, message);
      return;
    }
    const f = this.file('channels', channel, '.log');
    // a long-lived channel (customer changes: one line per purchase event) starts a fresh file past
    // CHANNEL_ROTATE_BYTES; subscribers finish the old one through their open descriptor (see subscribe)
    if ((statSync(f, { throwIfNoEntry: false })?.size ?? 0) >= CHANNEL_ROTATE_BYTES) {
      const tmp = `${f}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(tmp, '');
      renameSync(tmp, f);
    }
    appendFileSync(f, JSON.stringify(message) + '\n');
  }

  subscribe(channel: string, listener: (m: string) => void): () => void {
    if (!this.dir) {
      this.emitter.on(channel, listener);
      return () => this.emitter.off(channel, listener);
    }
    let poll = this.channelPolls.get(channel);
    if (!poll) {
      const state: ChannelPoll = { tail: new ChannelTail(this.file('channels', channel, '.log')), listeners: new Set(), timer: undefined as unknown as NodeJS.Timeout };
      state.timer = setInterval(() => {
        for (const m of state.tail.read()) for (const l of state.listeners) l(m);
      }, this.pollMs);
      state.timer.unref();
      poll = state;
      this.channelPolls.set(channel, poll);
    }
    poll.listeners.add(listener);
    return () => {
      poll.listeners.delete(listener);
      if (poll.listeners.size === 0) {
        clearInterval(poll.timer);
        poll.tail.close();
        this.channelPolls.delete(channel);
      }
    };
  }
}

/** A channel file past this size is replaced by an empty one at the next publish. */
export const CHANNEL_ROTATE_BYTES = 1 << 20;

interface ChannelPoll {
  tail: ChannelTail;
  listeners: Set<(m: string) => void>;
  timer: NodeJS.Timeout;
}

/**
 * Follows a channel file like `tail -F`: reads only bytes not read yet, through an open descriptor,
 * so that when a publisher replaces the file (rotation) the lines appended to the old one are still
 * read before moving to the new one. Messages already in the file when following starts are not
 * delivered (pub/sub semantics). A file replaced twice between two reads (over 1 MiB of messages
 * within one poll interval) loses the middle one's messages, as Redis pub/sub loses messages to a
 * disconnected subscriber: the customer caches' age limits stay the bound.
 */
export class ChannelTail {
  private fd: number | null = null;
  private ino = -1;
  private offset = 0;
  private partial = Buffer.alloc(0);

  constructor(private readonly path: string) {
    this.open(true);
  }

  private open(atEnd: boolean): void {
    try {
      this.fd = openSync(this.path, 'r');
    } catch {
      // not there (yet): read() tries again
      return;
    }
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.offset = atEnd ? st.size : 0;
    this.partial = Buffer.alloc(0);
  }

  /** The complete messages appended since the last call. */
  read(): string[] {
    const out: string[] = [];
    if (this.fd === null) {
      this.open(false);
      if (this.fd === null) return out;
    }
    this.drain(out);
    // replaced by a publisher: the old file is finished above, the new one is read from its start
    let ino = -1;
    try {
      ino = statSync(this.path).ino;
    } catch {
      // removed: keep the old descriptor until a new file appears
    }
    if (ino !== -1 && ino !== this.ino) {
      this.close();
      this.open(false);
      this.drain(out);
    }
    return out;
  }

  private drain(out: string[]): void {
    const fd = this.fd!;
    const size = fstatSync(fd).size;
    if (size < this.offset) this.offset = size; // truncated in place: nothing to recover
    if (size === this.offset) return;
    const buf = Buffer.allocUnsafe(size - this.offset);
    const n = readSync(fd, buf, 0, buf.length, this.offset);
    this.offset += n;
    const bytes = this.partial.length ? Buffer.concat([this.partial, buf.subarray(0, n)]) : buf.subarray(0, n);
    const end = bytes.lastIndexOf(10) + 1;
    this.partial = Buffer.from(bytes.subarray(end));
    for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) if (line) out.push(JSON.parse(line) as string);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function encodeLog(records: [string, Buffer | null][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of records) {
    const key = Buffer.from(k, 'utf8');
    const head = Buffer.alloc(9);
    head.writeUInt8(v === null ? DEL : SET, 0);
    head.writeUInt32LE(key.length, 1);
    head.writeUInt32LE(v?.length ?? 0, 5);
    parts.push(head, key);
    if (v) parts.push(v);
  }
  return Buffer.concat(parts);
}

const entryBytes = (k: string, v: Buffer) => 9 + Buffer.byteLength(k) + v.length;

/** Sets (or with null deletes) one entry, keeping the live byte count. */
function setEntry(p: Partition, k: string, v: Buffer | null): void {
  const old = p.map.get(k);
  if (old) p.live -= entryBytes(k, old);
  if (v === null) {
    p.map.delete(k);
  } else {
    p.map.set(k, v);
    p.live += entryBytes(k, v);
  }
}

/** Applies complete records of a log; returns the bytes consumed (a torn tail is left for later). */
function applyLog(p: Partition, buf: Buffer): number {
  let o = 0;
  while (o + 9 <= buf.length) {
    const op = buf.readUInt8(o);
    const kl = buf.readUInt32LE(o + 1);
    const vl = buf.readUInt32LE(o + 5);
    if (o + 9 + kl + vl > buf.length) break;
    const key = buf.toString('utf8', o + 9, o + 9 + kl);
    // values stay views of the log buffer read (no copy per value)
    setEntry(p, key, op === SET ? buf.subarray(o + 9 + kl, o + 9 + kl + vl) : null);
    o += 9 + kl + vl;
  }
  return o;
}

