#!/usr/bin/env node
// Builds the WebAssembly kernels from their AssemblyScript sources (src/wasm/assembly/*.ts) into dist/wasm/.
// Run by `npm install` (the package's `prepare` script) and `npm run build:wasm`; the output is not committed.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'wasm');
mkdirSync(out, { recursive: true });

// Every module imports its memory (the JavaScript side owns the layout; nothing is allocated inside).
const common = ['-O3', '--runtime', 'stub', '--noAssert', '--importMemory', '--noExportMemory'];
const targets = [
  // ALS: shared memory, so worker threads solve disjoint row ranges of one layout without copies
  { src: 'als.ts', flags: ['--enable', 'simd,threads', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536'] },
  { src: 'scorer.ts', flags: ['--enable', 'simd'] },
  // EASE's dense SPD inverse (matrix products)
  { src: 'dense.ts', flags: ['--enable', 'simd'] },
  // the import reader's check of a chunk's bytes for control characters
  { src: 'text-scan.ts', flags: ['--enable', 'simd'] },
];
for (const t of targets) {
  const file = join(out, t.src.replace(/\.ts$/, '.wasm'));
  const { error, stderr } = await asc.main([join(root, 'src', 'wasm', 'assembly', t.src), ...common, ...t.flags, '-o', file]);
  if (error) {
    console.error(`build-wasm: ${t.src}: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
}
console.log(`build-wasm: ${targets.length} modules in ${out}`);
