/**
 * The history store as request paths use it: every call behind one circuit breaker (cockatiel).
 * A call that fails because PostgreSQL cannot answer (an UnavailableError: refused, reset, timed
 * out; see pg-client.ts) or takes longer than `slowMs` counts as a failure; after `failures` of them
 * in a row the circuit opens, and for `openMs` every call fails at once with an UnavailableError
 * (store-bound routes answer 503 with Retry-After, lists fall back with store_unavailable) instead
 * of queueing behind the pool; then one call tries the store again (the others wait for its
 * outcome), and a success closes the circuit. Other errors (not found, a constraint) are answers,
 * not failures. close, migrate and the streaming reads pass through untouched.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { RETRY_AFTER_S, within } from '../core/deadline.js';
import { UnavailableError } from '../core/errors.js';
import type { Store } from './store.js';

export interface GuardOptions {
  /** A call slower than this (ms) fails (UnavailableError) and counts against the store. */
  slowMs: number;
  /** Failures in a row that open the circuit (default 5). */
  failures?: number;
  /** How long the circuit stays open before one call tries again (ms, default 1000). */
  openMs?: number;
  /** Told when the circuit opens (with the last failure) and when it closes again. */
  onChange?: (state: 'open' | 'closed', reason?: unknown) => void;
}

const UNGUARDED = new Set<PropertyKey>(['close', 'migrate', 'historyLines', 'constructor']);

export function guardedStore(store: Store, o: GuardOptions): Store {
  const breaker = circuitBreaker(
    handleWhen((e) => e instanceof UnavailableError),
    { halfOpenAfter: o.openMs ?? 1000, breaker: new ConsecutiveBreaker(o.failures ?? 5) },
  );
  breaker.onBreak((r) => o.onChange?.('open', 'error' in r ? r.error : undefined));
  breaker.onReset(() => o.onChange?.('closed'));
  const open = () =>
    new UnavailableError(`the history store is not answering: calls fail at once for up to ${o.openMs ?? 1000} ms, then one tries again; retry`, {
      retryAfterS: RETRY_AFTER_S,
      circuit: CircuitState[breaker.state],
    });
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || UNGUARDED.has(prop)) return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        try {
          return await breaker.execute(() => within(Promise.resolve(v.apply(target, args)), o.slowMs, 'the history store'));
        } catch (e) {
          throw e instanceof BrokenCircuitError ? open() : e;
        }
      };
    },
  });
}
