/**
 * Opens a text file for streaming, plain or gzip (detected by the magic bytes 1f 8b,
 * whatever the name), and yields it as chunks of whole lines (bytes, or decoded lines) with
 * constant memory.
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

/** Consecutive whole lines as bytes: the line feeds between them, not the one after the last. */
export interface ByteLines {
  bytes: Buffer;
  /** Bytes of the file (compressed bytes for gzip) consumed so far. */
  bytesRead: number;
}

export interface TextFile {
  path: string;
  gzip: boolean;
  /** Size of the file on disk. */
  totalBytes: number;
  /** The file's lines in chunks of bytes (UTF-8, byte order mark removed); iterate this or `batches`, once. */
  chunks: AsyncIterable<ByteLines>;
  /** The file's lines in batches of strings; iterate this or `chunks`, once. */
  batches: AsyncIterable<LineBatch>;
}

export interface OpenOptions {
  /** Bytes per read (per decompressed chunk for gzip): small values let tests cut lines at every position. */
  chunkSize?: number;
}

const CHUNK = 1 << 20;
const GUNZIP_CHUNK = 256 * 1024;

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
export async function openText(path: string, options: OpenOptions = {}): Promise<TextFile> {
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
  const chunks = byteChunks(path, gzip, options.chunkSize);
  return { path, gzip, totalBytes: size, chunks, batches: lineBatches(chunks) };
}

async function* byteChunks(path: string, gzip: boolean, chunkSize?: number): AsyncGenerator<ByteLines> {
  const raw = createReadStream(path, { highWaterMark: gzip ? CHUNK : (chunkSize ?? CHUNK) });
  const stream = gzip ? raw.pipe(createGunzip({ chunkSize: Math.max(64, chunkSize ?? GUNZIP_CHUNK) })) : raw;
  raw.on('error', (e) => stream.destroy(e));
  // bytes after the last line feed so far: a newline byte never occurs inside a multi-byte UTF-8
  // character, so text cut after one decodes on its own (Buffer's native decoder, no stream state)
  let carry: Buffer = Buffer.alloc(0);
  let first = true;
  const bom = (bytes: Buffer): Buffer => {
    if (!first) return bytes;
    first = false;
    return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      carry = Buffer.concat([carry, chunk]);
      continue;
    }
    if (carry.length === 0) yield { bytes: bom(chunk.subarray(0, last)), bytesRead: raw.bytesRead };
    else {
      // the carried line completed on its own, then the chunk's other lines where they are: only
      // the short partial line is copied, not the whole chunk
      const firstEnd = chunk.indexOf(10);
      yield { bytes: bom(Buffer.concat([carry, chunk.subarray(0, firstEnd)])), bytesRead: raw.bytesRead };
      if (firstEnd < last) yield { bytes: chunk.subarray(firstEnd + 1, last), bytesRead: raw.bytesRead };
    }
    carry = Buffer.from(chunk.subarray(last + 1));
  }
  // a last line without a line feed, unless it is empty (or only a carriage return)
  const tail = bom(carry);
  if (tail.length > 1 || (tail.length === 1 && tail[0] !== 13)) yield { bytes: tail, bytesRead: raw.bytesRead };
}

/** The lines of a byte chunk, each without its carriage return. */
export function decodeLines(bytes: Buffer): string[] {
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** Byte chunks as batches of lines. */
export async function* lineBatches(chunks: AsyncIterable<ByteLines>, firstLine = 1): AsyncGenerator<LineBatch> {
  let lineNo = firstLine;
  for await (const { bytes, bytesRead } of chunks) {
    const lines = decodeLines(bytes);
    yield { lines, firstLine: lineNo, bytesRead };
    lineNo += lines.length;
  }
}
