/**
 * TensorFlow.js backend selection for training. TF_BACKEND=auto tries, in order:
 * @tensorflow/tfjs-node (native, an optional dependency that may be absent), then
 * @tensorflow/tfjs-backend-wasm (its .wasm files ship in the package), then the pure-JS cpu
 * backend. Every failure is caught and the next one tried; the chosen backend is logged once.
 */
import type * as TF from '@tensorflow/tfjs';
import { config } from '../config.js';

export type TfBackendName = 'node' | 'wasm' | 'cpu';

/** The selected TensorFlow.js module and the name of the backend it runs on. */
export interface TfHandle {
  tf: typeof TF;
  backend: TfBackendName;
}

let ready: Promise<TfHandle> | undefined;

async function tryNode(): Promise<TfHandle> {
  // a computed specifier keeps bundlers and tsc from requiring the optional package
  const name = '@tensorflow/tfjs-node';
  const tf = (await import(name)) as typeof TF;
  await tf.setBackend('tensorflow');
  await tf.ready();
  return { tf, backend: 'node' };
}

async function tryWasm(): Promise<TfHandle> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  return { tf, backend: 'wasm' };
}

async function tryCpu(): Promise<TfHandle> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu' };
}

let notices = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** Where the backend notice goes (CLIs pass a no-op with --quiet). */
export function setTfNotices(log: (msg: string) => void): void {
  notices = log;
}

/**
 * Initialises TensorFlow.js once per process and returns it. `preference` defaults to
 * config().TF_BACKEND; an explicit backend that fails falls back like auto, with a warning.
 */
export function tfBackend(preference: 'auto' | TfBackendName = config().TF_BACKEND, log: (msg: string) => void = notices): Promise<TfHandle> {
  ready ??= (async () => {
    const order: TfBackendName[] =
      preference === 'auto' ? ['node', 'wasm', 'cpu'] : [preference, ...(['node', 'wasm', 'cpu'] as const).filter((b) => b !== preference)];
    const tries = { node: tryNode, wasm: tryWasm, cpu: tryCpu };
    const failures: string[] = [];
    for (const b of order) {
      try {
        const h = await tries[b]();
        if (failures.length) log(`tensorflow.js: ${failures.join('; ')}`);
        log(`tensorflow.js backend: ${h.backend}`);
        return h;
      } catch (e) {
        failures.push(`${b} unavailable (${(e as Error).message.split('\n')[0]})`);
      }
    }
    throw new Error(`no TensorFlow.js backend could start: ${failures.join('; ')}`);
  })();
  return ready;
}
