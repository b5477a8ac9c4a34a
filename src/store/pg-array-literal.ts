/**
 * PostgreSQL array literals for query parameters, built as node-postgres builds them (pg/lib/utils.js
 * prepareValue → arrayString: every element double-quoted, `\` and `"` backslash-escaped, null and
 * undefined as NULL), byte for byte, but without its two regular-expression replacements per element:
 * an element holding neither character (nearly all: order ids, skus, identifiers) is quoted as it is.
 * An import batch sends tens of thousands of array elements; pg's escaping was about a sixth of the
 * import's main-thread CPU. Elements of other types (booleans, dates, buffers, objects) are left to
 * pg's own conversion, so the result is always what pg would have sent (test/pg-array-literal.test.ts).
 */
import { createRequire } from 'node:module';

/** pg's own conversion (pg/lib/utils.js, the module its queries use; no type declarations ship for it). */
const prepare = (createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown }).prepareValue;

/** The literal pg would send for the array `a` (prepareValue(a)). */
export function arrayLiteral(a: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out += ',';
    const x = a[i];
    if (x === null || x === undefined) out += 'NULL';
    else if (typeof x === 'string') out += x.indexOf('\\') < 0 && x.indexOf('"') < 0 ? `"${x}"` : `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    else if (typeof x === 'number') out += `"${x}"`;
    else if (Array.isArray(x)) out += arrayLiteral(x);
    else {
      // anything else as pg converts it: the element alone in an array, braces removed
      const one = prepare([x]) as string;
      out += one.slice(1, -1);
    }
  }
  return out + '}';
}

/** Query parameters with every array replaced by its literal (the other values as they are). */
export function withArrayLiterals(params: readonly unknown[] | undefined): unknown[] | undefined {
  if (params === undefined) return undefined;
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (Array.isArray(p)) {
      out ??= params.slice();
      out[i] = arrayLiteral(p);
    }
  }
  return out ?? (params as unknown[]);
}
