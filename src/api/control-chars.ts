/**
 * Control characters in request input. A NUL or any other C0 control character (U+0000–U+001F)
 * or DEL in a string of the path, the query or the body (values and keys, at any depth) is a 400
 * naming the field: no identifier, sku, order id or option of the API holds one, and PostgreSQL
 * refuses NUL in text (a 500 before this check).
 */
import { InvalidArgumentError } from '../core/errors.js';

const CONTROL = /[\u0000-\u001f\u007f]/;

const codePoint = (s: string) => `U+${s.charCodeAt(s.search(CONTROL)).toString(16).toUpperCase().padStart(4, '0')}`;

/** Throws a 400-able InvalidArgumentError naming the first field (`body.lines.0.sku`) that holds a control character. */
export function rejectControlChars(where: 'params' | 'query' | 'body', value: unknown): void {
  if (typeof value === 'string') {
    if (CONTROL.test(value)) fail(where, value);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  // iterative: a deeply nested body must not exhaust the stack
  const stack: [unknown, string][] = [[value, where]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (CONTROL.test(v)) fail(path, v);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}.${i}`]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i];
        if (CONTROL.test(k)) fail(`${path}.${JSON.stringify(k)}`, k, 'its name');
        stack.push([(v as Record<string, unknown>)[k], `${path}.${k}`]);
      }
    }
  }
}

function fail(field: string, value: string, what = 'it'): never {
  const message = `${what} contains a control character (${codePoint(value)})`;
  throw new InvalidArgumentError(`invalid request: ${field}: ${message}`, { fields: [{ field, message }] });
}
