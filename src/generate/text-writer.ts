/**
 * A buffered streaming text writer (optionally gzip) with backpressure: constant memory
 * whatever the amount written. Deterministic bytes for the same input (gzip level 6, no mtime).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';

export class TextWriter {
  private buf: string[] = [];
  private size = 0;
  private readonly out: Writable;
  private readonly file: Writable;
  private bytes = 0;
  constructor(
    readonly path: string,
    gzip = false,
    private readonly flushAt = 1 << 20,
  ) {
    this.file = createWriteStream(path);
    this.out = gzip ? createGzip({ level: 6 }) : this.file;
    if (gzip) this.out.pipe(this.file);
  }

  /** Uncompressed bytes written (UTF-16 length; ASCII content). */
  get written(): number {
    return this.bytes + this.size;
  }

  /** Appends text; resolves immediately unless the buffer is full and the stream is busy. */
  async write(text: string): Promise<void> {
    if (this.add(text)) await this.flush();
  }

  /** Appends text without a promise; true when the buffer is full and flush() should be awaited. */
  add(text: string): boolean {
    this.buf.push(text);
    this.size += text.length;
    return this.size >= this.flushAt;
  }

  /** Writes the buffer out, waiting for the stream to drain when it is busy. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buf.join('');
    this.bytes += this.size;
    this.buf = [];
    this.size = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.file, 'finish');
  }
}
