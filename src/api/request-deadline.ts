/**
 * Request deadlines without a timer per request (a setTimeout, an AbortController and a race per
 * request cost ~15 µs, a tenth of a list's whole CPU time): handlers in flight sit in one set that
 * one interval (every SWEEP_MS, unref'd) sweeps, so a deadline fires up to SWEEP_MS late. The
 * handler's AbortSignal is made only when the handler asks for it.
 */
const SWEEP_MS = 25;

interface InFlight {
  due: number;
  expire(): void;
}

const inFlight = new Set<InFlight>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const e of inFlight) {
    if (e.due > now) continue;
    inFlight.delete(e);
    e.expire();
  }
}

/** A request's deadline: `signal` (made on first use) is aborted with the error once it has passed. */
export class Deadline {
  private ac: AbortController | undefined;
  private reason: Error | undefined;

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.reason) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  /**
   * `work`'s result, or a rejection with `late()` once `ms` have passed (the signal is aborted
   * with it then; `work` goes on, unawaited).
   */
  race<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = {
        due: performance.now() + ms,
        expire: () => {
          this.reason = late();
          this.ac?.abort(this.reason);
          reject(this.reason);
        },
      };
      inFlight.add(entry);
      sweeper ??= setInterval(sweep, SWEEP_MS).unref();
      work.then(
        (v) => {
          inFlight.delete(entry);
          resolve(v);
        },
        (err: unknown) => {
          inFlight.delete(entry);
          reject(err);
        },
      );
    });
  }
}
