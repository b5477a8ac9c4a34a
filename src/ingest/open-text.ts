/**
 * Opens a text file for streaming, plain or gzip (detected by the magic bytes 1f 8b,
 * whatever the name), and yields it as chunks of whole lines (bytes, or decoded lines) with
 * constant memory.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { wasmApi, type WasmMemory, wasmModule } from '../core/wasm-modules.js';

/** How a file's bytes become text: UTF-8 (invalid sequences flagged per line) or Latin-1 (every byte a character). */
export type TextEncoding = 'utf8' | 'latin1';

/** What is wrong with a line, whatever its content (LineBatch.flaws): the record holding it is rejected. */
export const FLAW_UTF8 = 1;
export const FLAW_CONTROL = 2;
export const FLAW_TOO_LONG = 4;

/** A batch of consecutive physical lines (without line terminators). */
export interface LineBatch {
  lines: string[];
  /** 1-based line number of lines[0] in the file. */
  firstLine: number;
  /** Bytes of the file (compressed bytes for gzip) consumed so far. */
  bytesRead: number;
  /** Per line, FLAW_* bits (undefined: no line has any). */
  flaws?: Uint8Array;
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
  /** Default 'utf8'. */
  encoding?: TextEncoding;
  /** Longest line kept, in bytes (default MAX_LINE_BYTES): a longer one becomes a FLAW_TOO_LONG line. */
  maxLineBytes?: number;
}

/** Default longest line (bytes): a record of the formats read here is a few hundred bytes. */
export const MAX_LINE_BYTES = 1 << 20;
/** What an over-long line is replaced by: this marker, then the line's first bytes (for the report). */
const TOO_LONG = Buffer.from('\u0000omnirec:line-too-long\u0000');
const TOO_LONG_TEXT = TOO_LONG.toString('latin1');
const KEEP_OF_LONG = 200;

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
  const chunks = byteChunks(path, gzip, options.chunkSize, options.maxLineBytes ?? MAX_LINE_BYTES);
  return { path, gzip, totalBytes: size, chunks, batches: lineBatches(chunks, 1, options.encoding) };
}

/** A read error as the import reports it: the file named, what went wrong, and where (no stack). */
function readError(path: string, gzip: boolean, e: Error, bytesRead: number): InvalidArgumentError {
  const code = (e as { code?: string }).code;
  const what = gzip
    ? code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message)
      ? 'the gzip data ends early (file cut short?)'
      : 'the gzip data is corrupt'
    : 'read failed';
  return new InvalidArgumentError(`${path}: ${what} after ${bytesRead.toLocaleString('en-US')} bytes (${e.message})`, { path, bytesRead });
}

async function* byteChunks(path: string, gzip: boolean, chunkSize: number | undefined, maxLineBytes: number): AsyncGenerator<ByteLines> {
  const raw = createReadStream(path, { highWaterMark: gzip ? CHUNK : (chunkSize ?? CHUNK) });
  const stream = gzip ? raw.pipe(createGunzip({ chunkSize: Math.max(64, chunkSize ?? GUNZIP_CHUNK) })) : raw;
  raw.on('error', (e) => stream.destroy(e));
  try {
    yield* lineChunks(stream as AsyncIterable<Buffer>, () => raw.bytesRead, maxLineBytes);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    throw readError(path, gzip, e as Error, raw.bytesRead);
  } finally {
    raw.destroy();
  }
}

/** Chunks of whole lines out of a byte stream; a line longer than maxLineBytes is replaced by a TOO_LONG line. */
async function* lineChunks(stream: AsyncIterable<Buffer>, bytesRead: () => number, maxLineBytes: number): AsyncGenerator<ByteLines> {
  // bytes after the last line feed so far: a newline byte never occurs inside a multi-byte UTF-8
  // character, so text cut after one decodes on its own (Buffer's native decoder, no stream state)
  let carry: Buffer = Buffer.alloc(0);
  let first = true;
  const bom = (bytes: Buffer): Buffer => {
    if (!first) return bytes;
    first = false;
    return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  };
  // an over-long line being skipped: its first bytes are kept, the rest dropped up to its line feed
  let long = false;
  const tooLong = (start: Buffer): Buffer => Buffer.concat([TOO_LONG, start.subarray(0, KEEP_OF_LONG)]);
  for await (let chunk of stream) {
    if (long) {
      const end = chunk.indexOf(10);
      if (end < 0) continue;
      long = false;
      yield { bytes: tooLong(carry), bytesRead: bytesRead() };
      carry = Buffer.alloc(0);
      chunk = chunk.subarray(end + 1);
    }
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      carry = Buffer.concat([carry, chunk]);
      if (carry.length > maxLineBytes) {
        long = true;
        carry = Buffer.from(carry.subarray(0, KEEP_OF_LONG));
      }
      continue;
    }
    const firstEnd = chunk.indexOf(10);
    if (carry.length + firstEnd > maxLineBytes) {
      yield { bytes: tooLong(Buffer.concat([carry, chunk.subarray(0, Math.min(firstEnd, KEEP_OF_LONG))])), bytesRead: bytesRead() };
      if (firstEnd < last) yield* splitLong(chunk.subarray(firstEnd + 1, last), maxLineBytes, bytesRead());
    } else if (carry.length === 0) yield* splitLong(bom(chunk.subarray(0, last)), maxLineBytes, bytesRead());
    else {
      // the carried line completed on its own, then the chunk's other lines where they are: only
      // the short partial line is copied, not the whole chunk
      yield { bytes: bom(Buffer.concat([carry, chunk.subarray(0, firstEnd)])), bytesRead: bytesRead() };
      if (firstEnd < last) yield* splitLong(chunk.subarray(firstEnd + 1, last), maxLineBytes, bytesRead());
    }
    carry = Buffer.from(chunk.subarray(last + 1));
    if (carry.length > maxLineBytes) {
      long = true;
      carry = Buffer.from(carry.subarray(0, KEEP_OF_LONG));
    }
  }
  if (long) {
    yield { bytes: tooLong(carry), bytesRead: bytesRead() };
    return;
  }
  // a last line without a line feed, unless it is empty (or only a carriage return)
  const tail = bom(carry);
  if (tail.length > 1 || (tail.length === 1 && tail[0] !== 13)) yield { bytes: tail, bytesRead: bytesRead() };
}

/** Whole lines as they are, unless one is longer than maxLineBytes (then each line on its own, long ones replaced). */
function* splitLong(bytes: Buffer, maxLineBytes: number, bytesRead: number): Generator<ByteLines> {
  if (bytes.length <= maxLineBytes) {
    yield { bytes, bytesRead };
    return;
  }
  let start = 0;
  let from = 0;
  for (;;) {
    const end = bytes.indexOf(10, from);
    const stop = end < 0 ? bytes.length : end;
    if (stop - from > maxLineBytes) {
      if (from > start) yield { bytes: bytes.subarray(start, from - 1), bytesRead };
      yield { bytes: Buffer.concat([TOO_LONG, bytes.subarray(from, from + KEEP_OF_LONG)]), bytesRead };
      start = stop + 1;
    }
    if (end < 0) break;
    from = end + 1;
  }
  if (start < bytes.length) yield { bytes: bytes.subarray(start), bytesRead };
}

/** C0 control characters but tab, line feed and carriage return; DEL. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/** Whether text holds a control character a row may not (see CONTROL): NUL cannot even be stored. */
export const hasControl = (text: string): boolean => CONTROL.test(text);

/** The WebAssembly check of bytes for CONTROL's characters (src/wasm/assembly/text-scan.ts): its memory and entry. */
let scanner: { mem: WasmMemory; bytes: Uint8Array; hasControl: (p: number, n: number) => number } | null | undefined;

/**
 * Whether `text`, decoded from `bytes` (UTF-8 or Latin-1), holds a character of CONTROL. Every one of them is ASCII,
 * and an ASCII byte decodes as itself in both encodings (in UTF-8 even next to invalid bytes, which become U+FFFD,
 * never ASCII), so the text holds one exactly when the bytes do: the bytes are checked 16 at a time by the
 * WebAssembly module (the expression over the text took ~0.1 s of the reader's CPU on the shared 45 MB file; the
 * module ~0.01 s). Without the module (not built, or no SIMD), the expression over the text.
 */
export function controlIn(bytes: Uint8Array, text: string): boolean {
  if (scanner === undefined) {
    const mod = wasmModule('text-scan');
    if (mod === null) scanner = null;
    else {
      const mem = new wasmApi!.Memory({ initial: 16 });
      const { exports } = new wasmApi!.Instance(mod, { env: { memory: mem } });
      scanner = { mem, bytes: new Uint8Array(mem.buffer), hasControl: (exports as { hasControl: (p: number, n: number) => number }).hasControl };
    }
  }
  if (scanner === null) return CONTROL.test(text);
  const n = bytes.length;
  if (n > scanner.bytes.length) {
    scanner.mem.grow(Math.ceil((n - scanner.bytes.length) / 65536));
    scanner.bytes = new Uint8Array(scanner.mem.buffer);
  }
  scanner.bytes.set(bytes);
  return scanner.hasControl(0, n) !== 0;
}

/** The lines of a byte chunk, each without its carriage return (see decodeChunk for their flaws). */
export function decodeLines(bytes: Buffer, encoding: TextEncoding = 'utf8'): string[] {
  return decodeChunk(bytes, encoding).lines;
}

/**
 * The lines of a byte chunk, each without its carriage return, and what is wrong with any of them
 * (FLAW_*): bytes that are not UTF-8 (when decoding UTF-8: they would become U+FFFD), control
 * characters (NUL…), a line replaced because it was too long. Checked on the whole chunk first:
 * clean chunks (nearly all) cost one scan each.
 */
export function decodeChunk(bytes: Buffer, encoding: TextEncoding = 'utf8'): { lines: string[]; flaws?: Uint8Array } {
  const text = bytes.toString(encoding);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  const badUtf8 = encoding === 'utf8' && text.includes('\ufffd') && !isUtf8(bytes);
  if (!badUtf8 && !controlIn(bytes, text)) return { lines };
  const flaws = new Uint8Array(lines.length);
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const end = i === lines.length - 1 ? bytes.length : bytes.indexOf(10, at);
    const l = lines[i];
    if (l.startsWith(TOO_LONG_TEXT)) {
      flaws[i] = FLAW_TOO_LONG;
      lines[i] = l.slice(TOO_LONG_TEXT.length);
    } else {
      if (badUtf8 && l.includes('\ufffd') && !isUtf8(bytes.subarray(at, end))) flaws[i] |= FLAW_UTF8;
      if (CONTROL.test(l)) flaws[i] |= FLAW_CONTROL;
    }
    at = end + 1;
  }
  return { lines, flaws };
}

/** Byte chunks as batches of lines. */
export async function* lineBatches(chunks: AsyncIterable<ByteLines>, firstLine = 1, encoding: TextEncoding = 'utf8'): AsyncGenerator<LineBatch> {
  let lineNo = firstLine;
  for await (const { bytes, bytesRead } of chunks) {
    const { lines, flaws } = decodeChunk(bytes, encoding);
    yield flaws ? { lines, firstLine: lineNo, bytesRead, flaws } : { lines, firstLine: lineNo, bytesRead };
    lineNo += lines.length;
  }
}
