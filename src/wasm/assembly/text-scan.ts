// AssemblyScript source of the import reader's check for control characters (src/ingest/open-text.ts): whether a
// chunk of a file's bytes holds a C0 control character other than tab, line feed and carriage return, or DEL, with
// WebAssembly SIMD (16 bytes at a time). Built by scripts/build-wasm.mjs at `npm install`.
// Those characters are ASCII: in UTF-8 (valid or not: a byte below 0x80 always decodes as itself) and in Latin-1 the
// text holds one exactly when the bytes do, so the bytes are checked instead of the decoded text.

@inline function control(c: u32): bool {
  return c < 0x20 ? c != 9 && c != 10 && c != 13 : c == 0x7f;
}

// 1 when bytes [p, p + n) hold such a character, else 0.
export function hasControl(p: usize, n: i32): i32 {
  const end = p + <usize>n;
  const space = i8x16.splat(0x20);
  const del = i8x16.splat(0x7f);
  const tab = i8x16.splat(9);
  const lf = i8x16.splat(10);
  const cr = i8x16.splat(13);
  let q = p;
  for (; q + 16 <= end; q += 16) {
    const v = v128.load(q);
    const odd = v128.or(i8x16.lt_u(v, space), i8x16.eq(v, del));
    const allowed = v128.or(v128.or(i8x16.eq(v, tab), i8x16.eq(v, lf)), i8x16.eq(v, cr));
    if (v128.any_true(v128.andnot(odd, allowed))) return 1;
  }
  for (; q < end; q++) if (control(<u32>load<u8>(q))) return 1;
  return 0;
}
