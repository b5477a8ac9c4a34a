/**
 * A next-best-offer reason's JSON (exactly `JSON.stringify(reason)`), kept with the keys and values it was written from,
 * so that a later reason with the same keys and values — decide's reasons repeat per customer's decision memo and offer,
 * but for the Thompson sample — is written without turning its numbers into text again (nbo-speed6).
 *
 * The reason is walked (its keys in order, as JSON writes them; arrays and objects one level down, primitive values
 * compared with ===); when every key and value matches a kept one, the kept text is used, with the value of the one
 * `sample` key of an object one level down (`parts.sample`) written in place. Anything the walk does not cover exactly
 * (undefined, functions, deeper objects, objects other than plain ones, a toJSON) is not kept: `undefined` is returned
 * and the caller writes JSON.stringify(reason).
 */

/** A kept reason text: the walk's keys (null for a structure mark) and values, and its text around the sample. */
export interface ReasonText {
  keys: (string | null)[];
  values: unknown[];
  /** The text up to the sample's value (all of it when there is no sample). */
  head: string;
  /** The text after the sample's value ('' when there is no sample). */
  tail: string;
  /** The index of the sample in `values`; -1 when there is none. */
  slot: number;
}

// structure marks of the walk (values; their key is null, or the property's key for an array / object value)
const ARRAY = { mark: 'array' };
const OBJECT = { mark: 'object' };
const END = { mark: 'end' };

const plainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype && (v as { toJSON?: unknown }).toJSON === undefined;
const plainArray = (v: unknown): v is unknown[] =>
  Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype && (v as { toJSON?: unknown }).toJSON === undefined;
const primitive = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** The sample read by the last `matches` that returned true, and by the last `build`. */
let matchedSample = 0;
let builtSample = 0;

/** Whether `reason` walks to exactly the keys and values of `kept` (its sample aside: left in `matchedSample`). */
function matches(reason: Record<string, unknown>, kept: ReasonText): boolean {
  const keys = kept.keys;
  const values = kept.values;
  const n = keys.length;
  const slot = kept.slot;
  let j = 0;
  if (!plainObject(reason)) return false;
  for (const k in reason) {
    if (j >= n || keys[j] !== k) return false;
    const v = reason[k];
    const w = values[j++];
    if (w === ARRAY) {
      if (!plainArray(v)) return false;
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (j >= n || values[j++] !== OBJECT || !plainObject(e)) return false;
        for (const kk in e) {
          if (j >= n || keys[j] !== kk || e[kk] !== values[j]) return false;
          j++;
        }
        if (j >= n || values[j++] !== END) return false;
      }
      if (j >= n || values[j++] !== END) return false;
    } else if (w === OBJECT) {
      if (!plainObject(v)) return false;
      for (const kk in v) {
        if (j >= n || keys[j] !== kk) return false;
        const x = v[kk];
        if (j === slot) {
          if (typeof x !== 'number') return false;
          matchedSample = x;
        } else if (x !== values[j]) return false;
        j++;
      }
      if (j >= n || values[j++] !== END) return false;
    } else if (v !== w || !primitive(v)) return false;
  }
  return j === n;
}

/** The walk of `reason` and its text, or undefined when the walk does not cover it exactly. */
function build(reason: unknown): ReasonText | undefined {
  if (!plainObject(reason)) return undefined;
  const keys: (string | null)[] = [];
  const values: unknown[] = [];
  let slot = -1;
  let head = '{';
  let text = '';
  // (the text is written into `text`; at the sample, `text` so far becomes the head)
  let first = true;
  for (const k of Object.keys(reason)) {
    const v = reason[k];
    if (!first) text += ',';
    first = false;
    text += JSON.stringify(k) + ':';
    keys.push(k);
    if (plainArray(v)) {
      values.push(ARRAY);
      text += '[';
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (!plainObject(e)) return undefined;
        keys.push(null);
        values.push(OBJECT);
        if (i > 0) text += ',';
        text += '{';
        let f = true;
        for (const kk of Object.keys(e)) {
          const x = e[kk];
          if (!primitive(x)) return undefined;
          keys.push(kk);
          values.push(x);
          text += (f ? '' : ',') + JSON.stringify(kk) + ':' + JSON.stringify(x);
          f = false;
        }
        keys.push(null);
        values.push(END);
        text += '}';
      }
      keys.push(null);
      values.push(END);
      text += ']';
    } else if (plainObject(v)) {
      values.push(OBJECT);
      text += '{';
      let f = true;
      for (const kk of Object.keys(v)) {
        const x = v[kk];
        if (!primitive(x)) return undefined;
        keys.push(kk);
        text += (f ? '' : ',') + JSON.stringify(kk) + ':';
        f = false;
        if (kk === 'sample' && slot < 0 && typeof x === 'number') {
          slot = values.length;
          values.push(0);
          builtSample = x;
          head += text;
          text = '';
        } else {
          values.push(x);
          text += JSON.stringify(x);
        }
      }
      keys.push(null);
      values.push(END);
      text += '}';
    } else if (primitive(v)) {
      values.push(v);
      text += JSON.stringify(v);
    } else return undefined;
  }
  text += '}';
  return slot < 0 ? { keys, values, head: head + text, tail: '', slot } : { keys, values, head, tail: text, slot };
}

/** JSON.stringify of a number. */
const jsonNumber = (x: number): string => (Number.isFinite(x) ? '' + x : 'null');

/** Kept reason texts per offer id, a few per offer (a decision explored or not, held out or not). */
export type ReasonTexts = Map<string, ReasonText[]>;

/** Reason texts answered from a kept text / written afresh (this process; for tests and profiles). */
export const reasonTextCounts = { kept: 0, written: 0 };

const PER_OFFER = 4;
const OFFERS = 64;

/**
 * JSON.stringify(reason): from a text kept in `kept` under `offerId` when the reason walks the same (its sample written
 * in place), else written afresh and kept (undefined when the walk does not cover the reason: the caller stringifies).
 */
export function reasonJson(kept: ReasonTexts, offerId: string, reason: unknown): string | undefined {
  const list = kept.get(offerId);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      if (matches(reason as Record<string, unknown>, t)) {
        reasonTextCounts.kept++;
        return t.slot < 0 ? t.head : t.head + jsonNumber(matchedSample) + t.tail;
      }
    }
  }
  reasonTextCounts.written++;
  const t = build(reason);
  if (t === undefined) return undefined;
  if (list === undefined) {
    if (kept.size >= OFFERS) kept.clear();
    kept.set(offerId, [t]);
  } else {
    if (list.length >= PER_OFFER) list.shift();
    list.push(t);
  }
  return t.slot < 0 ? t.head : t.head + jsonNumber(builtSample) + t.tail;
}
