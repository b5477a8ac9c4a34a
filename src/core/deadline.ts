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
