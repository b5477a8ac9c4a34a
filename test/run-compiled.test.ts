/**
 * scripts/run.mjs, the launcher of `npm run import`: the compiled tree is named by a hash of every
 * source, so a changed source can never run stale code; AssemblyScript and declarations are not compiled.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceFiles, sourceHash } from '../scripts/run.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'omnirec-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('scripts/run.mjs', () => {
  it('compiles src/ and scripts/ (not AssemblyScript, not declarations); any change of a source or of tsconfig names another tree', () => {
    const put = (path: string, text: string) => {
      mkdirSync(join(tmp, path, '..'), { recursive: true });
      writeFileSync(join(tmp, path), text);
    };
    put('src/a.ts', 'export const a = 1;\n');
    put('src/core/b.ts', 'export const b = 2;\n');
    put('src/wasm/assembly/k.ts', 'export function k(): i32 { return 1; }\n');
    put('src/types.d.ts', 'declare const x: number;\n');
    put('scripts/s.ts', "import { a } from '../src/a.js';\nconsole.log(a);\n");
    put('src/console/index.html', '<html></html>\n');
    const files = sourceFiles(tmp);
    expect(files).toEqual(['scripts/s.ts', 'src/a.ts', 'src/core/b.ts'].map((f) => join(...f.split('/'))));
    const h0 = sourceHash(files, tmp, '0.28.2');
    expect(sourceHash(files, tmp, '0.28.2')).toBe(h0);
    put('src/core/b.ts', 'export const b = 3;\n');
    const h1 = sourceHash(files, tmp, '0.28.2');
    expect(h1).not.toBe(h0);
    put('tsconfig.json', '{}\n');
    const h2 = sourceHash(files, tmp, '0.28.2');
    expect(h2).not.toBe(h1);
    expect(sourceHash(files, tmp, '0.29.0')).not.toBe(h2);
    // a file added is a change too
    put('src/c.ts', 'export const c = 1;\n');
    expect(sourceHash(sourceFiles(tmp), tmp, '0.28.2')).not.toBe(h2);
  });

  it('runs a script compiled, with its arguments', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/run.mjs', 'scripts/import.ts', '--help'], { cwd: join(__dirname, '..') });
    expect(stdout).toMatch(/^Usage: npm run import -- <file\|dir>\.\.\./);
  }, 60_000);
});
