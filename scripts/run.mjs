#!/usr/bin/env node
/**
 * node scripts/run.mjs scripts/NAME.ts [args...]
 *
 * Runs a TypeScript script of this project as JavaScript compiled ahead of time, so that a command pays
 * neither tsx's loader (a second process, and every module resolved and loaded through hooks on another
 * thread: about 0.7 s of CPU at each start, and as much again in each worker thread) nor a transpile.
 * The sources (src/ and scripts/, with tsconfig.json) are transpiled by esbuild, one file per source and
 * no bundling (the layout and import.meta.url stay as under tsx, worker threads included), into
 * .build/<hash of the sources>/; a run whose sources changed builds a new directory (about 0.2 s), so
 * the compiled code is never stale; concurrent runs build side by side and keep whichever lands first.
 * Reading every source to hash it takes ~15 ms of each start: a run first looks the tree up by the sources'
 * metadata (path, size, inode, change time in ns: a write to a file changes its ctime, which no tool can set
 * back), in .build/by-stat/; only when the metadata changed are the contents hashed (and the lookup recorded).
 * Without esbuild, or when a build fails, the script runs under tsx as before.
 * Data files the code reads beside itself (migrations, console, wasm) are linked, not copied.
 *
 * Used by `npm run import`; type checking stays with `npm run typecheck` (esbuild only strips types).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Compiled trees kept (the newest by use); older ones are removed. */
const KEEP = 3;
/** Source directories compiled, and what is left out (AssemblyScript, not JavaScript). */
const SOURCES = ['src', 'scripts'];
const EXCLUDE = [join('src', 'wasm', 'assembly')];
/** What the compiled code reads beside itself: linked into each tree (relative to the root). */
const LINKS = [join('src', 'store', 'migrations'), join('src', 'console'), join('dist', 'wasm')];

/** The .ts files of the sources, sorted (paths relative to `base`). */
export function sourceFiles(base = root) {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(base, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (EXCLUDE.includes(rel)) continue;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const d of SOURCES) if (existsSync(join(base, d))) walk(d);
  return out.sort();
}

/** A hash of every source's path and content, tsconfig.json and the compiler's version: the tree's name. */
export function sourceHash(files, base = root, compiler = '') {
  const h = createHash('sha256');
  h.update(`${compiler}\0${process.versions.node.split('.')[0]}\0`);
  const tsconfig = join(base, 'tsconfig.json');
  if (existsSync(tsconfig)) h.update(readFileSync(tsconfig));
  for (const f of files) {
    h.update(`\0${f.split(sep).join('/')}\0`);
    h.update(readFileSync(join(base, f)));
  }
  return h.digest('hex').slice(0, 20);
}

/**
 * A hash of every source's path and metadata (size, inode, modification and change times in ns), of
 * tsconfig.json's, and of the compiler's version: the key of the lookup of the tree built from them; and
 * the latest change time (ms) among them. File times have the kernel's clock tick as their grain, so a
 * file written twice within one tick keeps its times: a lookup is recorded only when every file is older
 * than RACY_MS (as git treats its index), so that no file can still change unseen.
 */
export function statKey(files, base = root, compiler = '') {
  let newest = 0;
  const h = createHash('sha256');
  h.update(`${compiler}\0${process.versions.node.split('.')[0]}\0`);
  for (const f of ['tsconfig.json', ...files]) {
    let st;
    try {
      st = statSync(join(base, f), { bigint: true });
    } catch {
      h.update(`\0${f}\0-`);
      continue;
    }
    h.update(`\0${f.split(sep).join('/')}\0${st.size}\0${st.ino}\0${st.mtimeNs}\0${st.ctimeNs}`);
    const changed = Number(st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs) / 1e6;
    if (changed > newest) newest = changed;
  }
  return { key: h.digest('hex').slice(0, 24), newest };
}

const BY_STAT = 'by-stat';
/** Sources changed less than this long ago (ms) are not trusted to keep their metadata: no lookup recorded. */
const RACY_MS = 2000;

function esbuildVersion() {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** The compiled tree of the current sources: built now unless it exists. Null when it cannot be built. */
async function compiledTree() {
  const version = esbuildVersion();
  if (version === null) return null;
  const files = sourceFiles();
  const builds = join(root, '.build');
  // the tree of these sources' metadata, when it was looked up before (and still exists)
  const { key, newest } = statKey(files, root, version);
  const entry = join(builds, BY_STAT, key);
  let known = null;
  try {
    known = readFileSync(entry, 'utf8').trim();
  } catch {
    // not recorded: the contents are hashed below
  }
  const dir = join(builds, known && /^[0-9a-f]{20}$/.test(known) ? known : sourceHash(files, root, version));
  const done = join(dir, '.complete');
  const record = () => {
    if (known !== null || Date.now() - newest < RACY_MS) return;
    try {
      mkdirSync(join(builds, BY_STAT), { recursive: true });
      const tmpEntry = `${entry}.tmp-${process.pid}`;
      writeFileSync(tmpEntry, `${relative(builds, dir)}\n`);
      renameSync(tmpEntry, entry);
    } catch {
      // a lookup not recorded: the next run hashes the contents again
    }
  };
  if (existsSync(done)) {
    // used now: the tree pruning keeps the most recently used
    const now = new Date();
    utimesSync(done, now, now);
    record();
    return dir;
  }
  const { build } = await import('esbuild');
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    await build({
      entryPoints: files.map((f) => join(root, f)),
      outdir: tmp,
      outbase: root,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      tsconfig: join(root, 'tsconfig.json'),
      logLevel: 'silent',
      // no bundling: each module is its own file, imports stay as written (.js paths)
      bundle: false,
    });
    for (const l of LINKS) {
      if (!existsSync(join(root, l))) continue;
      mkdirSync(dirname(join(tmp, l)), { recursive: true });
      symlinkSync(relative(dirname(join(tmp, l)), join(root, l)), join(tmp, l));
    }
    writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // another run built the same tree meanwhile: theirs is as good
      if (!existsSync(done)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return null;
  }
  prune(builds, dir);
  record();
  return dir;
}

/** Removes all but the KEEP most recently used trees (and builds abandoned over an hour ago). */
function prune(builds, current) {
  const trees = [];
  for (const name of readdirSync(builds)) {
    const path = join(builds, name);
    if (path === current || name === BY_STAT) continue;
    if (name.includes('.tmp-')) {
      if (Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
      continue;
    }
    const mark = join(path, '.complete');
    trees.push({ path, used: existsSync(mark) ? statSync(mark).mtimeMs : 0 });
  }
  trees.sort((a, b) => b.used - a.used);
  for (const t of trees.slice(KEEP - 1)) rmSync(t.path, { recursive: true, force: true });
  // lookups of trees removed (or never completed) go too
  const index = join(builds, BY_STAT);
  if (!existsSync(index)) return;
  for (const name of readdirSync(index)) {
    const path = join(index, name);
    let tree = '';
    try {
      tree = readFileSync(path, 'utf8').trim();
    } catch {
      continue;
    }
    const stale = name.includes('.tmp-') ? Date.now() - statSync(path).mtimeMs > 3_600_000 : !existsSync(join(builds, tree, '.complete'));
    if (stale) rmSync(path, { force: true });
  }
}

async function main() {
  const script = process.argv[2];
  if (!script || !script.endsWith('.ts')) {
    process.stderr.write('usage: node scripts/run.mjs scripts/NAME.ts [args...]\n');
    process.exit(2);
  }
  const source = resolve(script);
  const rel = relative(root, source);
  const tree = rel.startsWith('..') ? null : await compiledTree();
  const compiled = tree && join(tree, rel.replace(/\.ts$/, '.js'));
  if (compiled && existsSync(compiled)) {
    process.argv.splice(1, 2, compiled);
    await import(pathToFileURL(compiled).href);
    return;
  }
  // no compiled tree: the script under tsx, as `tsx scripts/NAME.ts` runs it
  const { register } = await import('tsx/esm/api');
  register();
  process.argv.splice(1, 2, source);
  await import(pathToFileURL(source).href);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
