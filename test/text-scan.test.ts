/**
 * The import reader's check of a chunk for control characters (open-text.ts controlIn): the WebAssembly scan of
 * the bytes (src/wasm/assembly/text-scan.ts) answers as the expression over the decoded text (hasControl), for
 * UTF-8 (valid or not) and Latin-1, at every length and position (the 16-byte blocks and the bytes after them).
 */
import { describe, expect, it } from 'vitest';
import { wasmUnavailable } from '../src/core/wasm-modules.js';
import { controlIn, decodeChunk, hasControl } from '../src/ingest/open-text.js';

/** A deterministic generator (xorshift32): the cases are the same at every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const CONTROLS = [...Array.from({ length: 32 }, (_, c) => c).filter((c) => c !== 9 && c !== 10 && c !== 13), 0x7f];
const ALLOWED_NEAR = [9, 10, 13, 0x20, 0x7e, 0x80, 0x9f, 0xc2, 0xe2, 0xff];

describe('controlIn (bytes checked for control characters)', () => {
  it('the WebAssembly module is built and used', () => {
    expect(wasmUnavailable('text-scan')).toBeUndefined();
  });

  it('answers as the expression over the decoded text: random bytes, UTF-8 and Latin-1', () => {
    const r = rng(20261207);
    let withControl = 0;
    for (let k = 0; k < 4000; k++) {
      const n = Math.floor(r() * 80);
      const b = Buffer.alloc(n);
      const mode = k % 4;
      for (let i = 0; i < n; i++) {
        // mostly printable text, with allowed characters near the ranges' ends, invalid UTF-8 and (rarely) a control
        const x = r();
        b[i] =
          mode === 0 ? Math.floor(r() * 256)
          : x < 0.9 ? 0x20 + Math.floor(r() * 95)
          : x < 0.97 || mode === 1 ? ALLOWED_NEAR[Math.floor(r() * ALLOWED_NEAR.length)]
          : CONTROLS[Math.floor(r() * CONTROLS.length)];
      }
      for (const enc of ['utf8', 'latin1'] as const) {
        const text = b.toString(enc);
        const want = hasControl(text);
        if (want) withControl++;
        expect(controlIn(b, text), `${enc} ${b.toString('hex')}`).toBe(want);
      }
    }
    // both answers were asked for many times
    expect(withControl).toBeGreaterThan(1000);
    expect(withControl).toBeLessThan(7000);
  });

  it('finds each control character at every position of a block and of the bytes after the blocks', () => {
    for (const n of [1, 15, 16, 17, 31, 32, 33, 100]) {
      const clean = Buffer.alloc(n, 0x41);
      expect(controlIn(clean, clean.toString('utf8'))).toBe(false);
      for (let at = 0; at < n; at++) {
        for (const c of [...CONTROLS, ...ALLOWED_NEAR]) {
          const b = Buffer.from(clean);
          b[at] = c;
          expect(controlIn(b, b.toString('latin1')), `n ${n} at ${at} byte ${c}`).toBe(CONTROLS.includes(c));
        }
      }
    }
  });

  it('a chunk larger than the memory so far grows it; an invalid UTF-8 sequence before an ASCII control still finds it', () => {
    const big = Buffer.alloc(3 << 20, 0x61);
    expect(controlIn(big, big.toString('utf8'))).toBe(false);
    big[big.length - 1] = 0x7f;
    expect(controlIn(big, big.toString('utf8'))).toBe(true);
    // a truncated 3-byte sequence then NUL: U+FFFD then U+0000 in the text
    const b = Buffer.from([0x61, 0xe2, 0x82, 0x00, 0x62]);
    expect(b.toString('utf8')).toBe('a\ufffd\u0000b');
    expect(controlIn(b, b.toString('utf8'))).toBe(true);
    // after the big one, a small chunk is checked alone (not the rest of the memory)
    const small = Buffer.from('abc');
    expect(controlIn(small, 'abc')).toBe(false);
  });

  it('decodeChunk flags the lines with control characters as before', () => {
    const b = Buffer.from('ok line\nbad\u0001line\r\nfine\ttab\ndel\u007f\n\u0000');
    const { lines, flaws } = decodeChunk(b, 'utf8');
    expect(lines).toEqual(['ok line', 'bad\u0001line', 'fine\ttab', 'del\u007f', '\u0000']);
    expect(Array.from(flaws!)).toEqual([0, 2, 0, 2, 2]);
    expect(decodeChunk(Buffer.from('a,b\r\nc\td\n'), 'latin1').flaws).toBeUndefined();
  });
});
