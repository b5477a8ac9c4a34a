/**
 * A copy of a string that shares no memory with the text it was cut from.
 *
 * V8 represents a substring of 13 or more characters as a slice that keeps the whole parent alive:
 * a sku or an email cut from a 1 MB chunk of a file keeps the whole chunk in memory for as long as
 * the value is held (in a Map key, a catalogue, an identity graph). Readers detach values that are
 * likely to be kept; `(" " + s).slice(1)` flattens into a fresh string (and short strings are copies already).
 */
export const detachString = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));
