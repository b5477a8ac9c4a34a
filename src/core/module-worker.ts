/**
 * Starts a worker thread running a module of this project: the compiled .js directly, or, when
 * running from TypeScript sources under tsx, a small bootstrap that registers tsx in the worker
 * first (loader hooks of the main thread do not reach workers).
 *
 * @example
 * const w = moduleWorker(new URL('./read-worker.js', import.meta.url), { path });
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `url`: the module as its compiled `.js` URL, resolved against the caller's `import.meta.url`; `options`: Worker options (resource limits...). */
export function moduleWorker(url: URL, workerData?: unknown, options: Omit<WorkerOptions, 'eval' | 'workerData'> = {}): Worker {
  const caller = url.href;
  // under tsx, callers' URLs end in .ts; the sibling module then is a .ts file too
  const source = import.meta.url.endsWith('.ts') ? caller.replace(/\.js$/, '.ts') : caller;
  if (!source.endsWith('.ts')) return new Worker(new URL(source), { ...options, workerData });
  const tsx = tsxApiUrl();
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(code, { ...options, eval: true, workerData });
}

/** tsx's ESM API module: import.meta.resolve where the runtime has it; test runners' module
 * transforms may lack it, then the `require` entry point's ESM sibling. */
function tsxApiUrl(): string {
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
}
