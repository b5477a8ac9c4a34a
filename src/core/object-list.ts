/**
 * An empty array for values that are not small integers (strings, objects, null), born with the elements kind it
 * will hold. V8 makes `[]` an array of small integers (PACKED_SMI_ELEMENTS) and changes its kind at the first other
 * value pushed; optimized code that has seen such a fresh array pushed into checks that each value pushed is a small
 * integer, and is thrown away (deoptimized: "not a Smi", then compiled again on the compile threads) the first time a
 * fresh array takes a string or an object. An array made here has the general kind from the start: no check, no
 * recompile (the import's reader, planner and identity resolution make such arrays per batch: --trace-deopt).
 */
export function objectList<T>(): T[] {
  const a = [undefined] as unknown as T[];
  a.length = 0;
  return a;
}
