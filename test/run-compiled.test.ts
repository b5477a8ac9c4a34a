/**
 * scripts/run.mjs, the launcher of `npm run import`: the compiled tree is named by a hash of every
 * source, so a changed source can never run stale code; AssemblyScript and declarations are not compiled.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceFiles, sourceHash, statKey } from '../scripts/run.mjs';

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

  it("looks the tree up by the sources' metadata: a rewrite of the same size, a file added or tsconfig changed is another key", async () => {
    const dir = join(tmp, 'stat');
    const put = (path: string, text: string) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    put('src/a.ts', 'export const a = 1;\n');
    put('tsconfig.json', '{}\n');
    const before = Date.now();
    const k0 = statKey(sourceFiles(dir), dir, '0.28.2');
    expect(statKey(sourceFiles(dir), dir, '0.28.2')).toEqual(k0);
    expect(statKey(sourceFiles(dir), dir, '0.29.0').key).not.toBe(k0.key);
    // the newest change is reported (a lookup is recorded only once every source is older than 2 s)
    expect(Math.abs(k0.newest - before)).toBeLessThan(5_000);
    // same size, new content, past the file system's clock grain
    await new Promise((r) => setTimeout(r, 30));
    put('src/a.ts', 'export const a = 2;\n');
    const k1 = statKey(sourceFiles(dir), dir, '0.28.2');
    expect(k1.key).not.toBe(k0.key);
    await new Promise((r) => setTimeout(r, 30));
    put('tsconfig.json', '[]\n');
    const k2 = statKey(sourceFiles(dir), dir, '0.28.2');
    expect(k2.key).not.toBe(k1.key);
    put('src/b.ts', '');
    expect(statKey(sourceFiles(dir), dir, '0.28.2').key).not.toBe(k2.key);
  });

  it('runs a script compiled, with its arguments', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/run.mjs', 'scripts/import.ts', '--help'], { cwd: join(__dirname, '..') });
    expect(stdout).toMatch(/^Usage: npm run import -- <file\|dir>\.\.\./);
  }, 60_000);

  it('`npm run import` starts with its Node flags (V8 heap and compiler settings: a flag Node does not know fails the command)', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const [node, ...rest] = pkg.scripts.import.split(' ');
    expect(node).toBe('node');
    const flags = rest.filter((a) => a.startsWith('--'));
    expect(rest.slice(flags.length)).toEqual(['scripts/run.mjs', 'scripts/import.ts']);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...flags, 'scripts/run.mjs', 'scripts/import.ts', '--help'], { cwd: join(__dirname, '..') });
    expect(stdout).toMatch(/^Usage: npm run import -- <file\|dir>\.\.\./);
    // (V8 warns of a flag it does not know, and goes on)
    expect(stderr).not.toMatch(/unknown flag|bad option/i);
  }, 60_000);
});
