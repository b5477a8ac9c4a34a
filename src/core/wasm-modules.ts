/**
 * The project's WebAssembly modules, compiled from their AssemblyScript sources (src/wasm/assembly/) into
 * dist/wasm/ by `npm install` (scripts/build-wasm.mjs, the package's `prepare` script) or `npm run build:wasm`.
 * Found next to the sources (src/core → ../../dist/wasm) or next to the compiled code (dist/src/core → ../../wasm).
 */
import { readFileSync } from 'node:fs';

/** The slice of the WebAssembly API used here (the project's lib settings do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
export const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export type WasmName = 'als' | 'scorer' | 'dense' | 'text-scan';

const compiled = new Map<WasmName, object | null>();
const why = new Map<WasmName, string>();

/** The compiled module, or null when its file is missing or this runtime cannot compile it (see `wasmUnavailable`). */
export function wasmModule(name: WasmName): object | null {
  let m = compiled.get(name);
  if (m !== undefined) return m;
  m = null;
  if (!wasmApi) why.set(name, 'this runtime has no WebAssembly');
  else {
    const candidates = [new URL(`../../dist/wasm/${name}.wasm`, import.meta.url), new URL(`../../wasm/${name}.wasm`, import.meta.url)];
    let bytes: Uint8Array | null = null;
    for (const c of candidates) {
      try {
        bytes = readFileSync(c);
        break;
      } catch {
        /* try the next place */
      }
    }
    if (!bytes) why.set(name, `dist/wasm/${name}.wasm is missing: run npm install or npm run build:wasm`);
    else {
      try {
        m = new wasmApi.Module(bytes);
      } catch (e) {
        why.set(name, `cannot compile ${name}.wasm here (${(e as Error).message})`);
      }
    }
  }
  compiled.set(name, m);
  return m;
}

/** Why `wasmModule(name)` is null (undefined while it is not). */
export function wasmUnavailable(name: WasmName): string | undefined {
  wasmModule(name);
  return why.get(name);
}
