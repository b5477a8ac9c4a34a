/**
 * Timed stages of a long CLI run: a progress bar per stage on stderr (when it reports progress),
 * one "stage  seconds" line when it ends (unless quiet), and the timings for the manifest.
 *
 * @example
 * const stages = new Stages({ quiet: flags.quiet });
 * const data = await stages.run('dataset', async (progress) => build(lines, progress));
 * stages.timings; // { dataset: 0.42 }
 */
import type { Progress } from '../core/recommender.js';
import { type ProgressBar, progressBar } from '../cli/progress.js';

export class Stages {
  /** Seconds per stage, in the order they ran. */
  readonly timings: Record<string, number> = {};
  /**
   * CPU seconds (user + system) of this process per stage: on a machine shared with other work
   * this is close to what the wall time would be on an idle one (training is single-threaded).
   */
  readonly cpuTimings: Record<string, number> = {};
  private readonly quiet: boolean;
  private readonly log: (line: string) => void;

  constructor(options: { quiet?: boolean; log?: (line: string) => void } = {}) {
    this.quiet = options.quiet ?? false;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  async run<T>(name: string, fn: (progress: Progress) => Promise<T> | T, options: { unit?: 'bytes' | 'count' } = {}): Promise<T> {
    let bar: ProgressBar | null = null;
    const progress: Progress = (done, total, label) => {
      bar ??= progressBar({ label: name.padEnd(16), total, quiet: this.quiet, unit: options.unit });
      bar.update(done, { total, info: label ?? '' });
    };
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      return await fn(progress);
    } finally {
      (bar as ProgressBar | null)?.stop();
      const s = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      this.timings[name] = Math.round(s * 1000) / 1000;
      this.cpuTimings[name] = Math.round((c.user + c.system) / 1000) / 1000;
      if (!this.quiet) this.log(`  ${name.padEnd(22)} ${s.toFixed(2).padStart(7)} s  (cpu ${this.cpuTimings[name].toFixed(2)} s)`);
    }
  }
}

/** Peak resident memory so far, MiB: VmHWM from /proc/self/status where available, else current RSS. */
export async function peakRssMiB(): Promise<number> {
  try {
    const { readFile } = await import('node:fs/promises');
    const s = await readFile('/proc/self/status', 'utf8');
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(s);
    if (m) return Math.round(+m[1] / 1024);
  } catch {
    // not Linux
  }
  return Math.round(process.memoryUsage().rss / 1048576);
}
