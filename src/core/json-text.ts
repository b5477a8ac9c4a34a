/**
 * JSON.stringify for plain data whose numbers repeat (the next-best-offer answer's reasons: a customer's propensity
 * parts stay the same from one decision to the next, a sample is one of a pool's draws), with the text of each number
 * kept (turning a double into its shortest text is most of what JSON.stringify spends on such data). The same text as
 * JSON.stringify: anything but strings, numbers, booleans, null, arrays and plain objects (a toJSON, a class instance,
 * a bigint, a cycle) is handed to JSON.stringify itself. Tested against it (test/offers-answer-text.test.ts).
 */

const MAX_NUMBERS = 65_536;
const MAX_DEPTH = 32;
const numberTexts = new Map<number, string>();

/** JSON.stringify(x) of a number ("null" when not finite), its text kept. */
export function numberText(x: number): string {
  let t = numberTexts.get(x);
  if (t === undefined) {
    t = Number.isFinite(x) ? '' + x : 'null';
    if (numberTexts.size >= MAX_NUMBERS) numberTexts.clear();
    numberTexts.set(x, t);
  }
  return t;
}

/** JSON.stringify(value) (undefined where it gives undefined: undefined, a function, a symbol). */
export function plainJson(value: unknown): string | undefined {
  return write(value, 0);
}

function write(v: unknown, depth: number): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return numberText(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      const proto = Object.getPrototypeOf(v);
      if (depth >= MAX_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
      if (proto === Array.prototype && Array.isArray(v)) {
        let t = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) t += ',';
          t += write(v[i], depth + 1) ?? 'null';
        }
        return t + ']';
      }
      if (proto !== Object.prototype && proto !== null) return JSON.stringify(v);
      let t = '{';
      let first = true;
      // own enumerable string keys in JSON.stringify's order (Object.keys)
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const x = write((v as Record<string, unknown>)[k], depth + 1);
        if (x === undefined) continue;
        t += (first ? '' : ',') + JSON.stringify(k) + ':' + x;
        first = false;
      }
      return t + '}';
    }
    case 'bigint':
      return JSON.stringify(v); // throws as JSON.stringify does
    default:
      return undefined;
  }
}
