/**
 * Deadlines: every wait on a dependency is bounded. `within` races a promise against a timer and
 * rejects with an UnavailableError naming what did not answer (the API maps it to 503 with
 * Retry-After); the promise itself goes on (a timer cannot cancel I/O), so callers bound the
 * dependency's own timeouts too (src/store/pg-client.ts, src/cache/redis-cache.ts).
 */
import { UnavailableError } from './errors.js';

/** Seconds a client is asked to wait before retrying after a deadline or an unreachable dependency. */
export const RETRY_AFTER_S = 2;

/** `p`, or an UnavailableError "<what> did not answer within <ms> ms" once `ms` have passed (ms ≤ 0: no limit). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UnavailableError(`${what} did not answer within ${ms} ms`, { retryAfterS: RETRY_AFTER_S, timeoutMs: ms })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`, or `fallback` once `ms` have passed (`onLate` is told); `p` goes on and its result is dropped. */
export async function withinOr<T, F>(p: Promise<T>, ms: number, fallback: F, onLate?: () => void): Promise<T | F> {
  if (!(ms > 0)) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<F>((resolve) => {
        timer = setTimeout(() => {
          onLate?.();
          resolve(fallback);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** "10 s", "1.5 s": a deadline in a message. */
export const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/**
 * A deadline read from the environment (a command's, read where it is used rather than by the service's config
 * parser): `fallback` when unset or empty, else a whole number of milliseconds ≥ 1; anything else throws
 * `error` (default Error) naming the variable and its value.
 */
export function envMs(env: Record<string, string | undefined>, key: string, fallback: number, error: new (message: string) => Error = Error): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new error(`invalid configuration:\n  ${key}=${JSON.stringify(raw)}: must be a whole number of milliseconds, at least 1`);
  return v;
}

/** WORKER_DEADLINE_MS's default: a wait on a worker thread's answer lasts at most 10 minutes per WORKER_DEADLINE_WORK units of its work. */
export const WORKER_DEADLINE_DEFAULT_MS = 600_000;
/** The work (interactions, nonzeros, customers × lists) one WORKER_DEADLINE_MS covers. */
export const WORKER_DEADLINE_WORK = 10_000_000;

/**
 * How long a wait on a worker thread's answer may last before the worker is taken for hung (terminated, its work done
 * on the calling thread): WORKER_DEADLINE_MS (default 10 min) per WORKER_DEADLINE_WORK units of `work`, at least once.
 * Generous: a worker is never that slow unless it stopped (a fit on 20M lines takes minutes, not hours).
 */
export function workerDeadlineMs(work: number, env: Record<string, string | undefined> = process.env): number {
  const base = envMs(env, 'WORKER_DEADLINE_MS', WORKER_DEADLINE_DEFAULT_MS);
  // (a timer's longest delay)
  return Math.min(2 ** 31 - 1, Math.round(base * Math.max(1, (Number.isFinite(work) ? work : 0) / WORKER_DEADLINE_WORK)));
}

/** Test hook: a worker whose name is in OMNIREC_TEST_WORKER_HANG ("fits", "select", "als", "import") takes its work and never answers ("als-start": the JavaScript ALS worker answers nothing, its start-up probe included; "import-slow": the import's reader waits 0.3 s after each batch). */
export const hangsForTest = (name: string): boolean => (process.env.OMNIREC_TEST_WORKER_HANG ?? '').split(',').includes(name);
