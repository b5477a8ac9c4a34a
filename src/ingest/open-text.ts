/**
 * Opens a text file for streaming, plain or gzip (detected by the magic bytes 1f 8b,
 * whatever the name), and yields it as batches of lines with constant memory.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { NotFoundError } from '../core/errors.js';

/** A batch of consecutive physical lines (without line terminators). */
export interface LineBatch {
  lines: string[];
  /** 1-based line number of lines[0] in the file. */
  firstLine: number;
  /** Bytes of the file (compressed bytes for gzip) consumed so far. */
  bytesRead: number;
}

export interface TextFile {
  path: string;
  gzip: boolean;
  /** Size of the file on disk. */
  totalBytes: number;
  /** The file's lines in batches; can be iterated once. */
  batches: AsyncIterable<LineBatch>;
}

const CHUNK = 1 << 20;

/** Whether the file starts with the gzip magic bytes. */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Opens a file as line batches. Throws NotFoundError when it does not exist. */
export async function openText(path: string): Promise<TextFile> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new NotFoundError(`${path} is not a file`, { path });
    size = st.size;
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    throw new NotFoundError(`cannot read ${path}: ${(e as Error).message}`, { path });
  }
  const gzip = await isGzip(path);
  return { path, gzip, totalBytes: size, batches: lineBatches(path, gzip) };
}

async function* lineBatches(path: string, gzip: boolean): AsyncGenerator<LineBatch> {
  const raw = createReadStream(path, { highWaterMark: CHUNK });
  const stream = gzip ? raw.pipe(createGunzip({ chunkSize: 256 * 1024 })) : raw;
  raw.on('error', (e) => stream.destroy(e));
  // bytes after the last line feed so far: a newline byte never occurs inside a multi-byte UTF-8
  // character, so text cut after one decodes on its own (Buffer's native decoder, no stream state)
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 1;
  let first = true;
  const decode = (bytes: Buffer): string => {
    let text = bytes.toString('utf8');
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    return text;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      carry = Buffer.concat([carry, chunk]);
      continue;
    }
    const head = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, last)]) : chunk.subarray(0, last);
    carry = Buffer.from(chunk.subarray(last + 1));
    const lines = decode(head).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    yield { lines, firstLine: lineNo, bytesRead: raw.bytesRead };
    lineNo += lines.length;
  }
  let tail = decode(carry);
  if (tail.charCodeAt(tail.length - 1) === 13) tail = tail.slice(0, -1);
  if (tail !== '') yield { lines: [tail], firstLine: lineNo, bytesRead: raw.bytesRead };
}
