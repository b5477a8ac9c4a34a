/**
 * Timed stages of a long CLI run: a progress bar per stage on stderr (when it reports progress),
 * one "stage  seconds" line when it ends (unless quiet), and the timings for the manifest.
 *
 * @example
 * const stages = new Stages({ quiet: flags.quiet });
 * const data = await stages.run('dataset', async (progress) => build(lines, progress));
 * stages.timings; // { dataset: 0.42 }
 */
import { readFileSync, writeFileSync } from 'node:fs';
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
  /**
   * Peak resident memory, MiB, at the end of each stage (Linux: VmHWM; elsewhere the larger of the RSS at
   * its start and end): the process's peak so far, or with `resetPeak` the stage's own peak.
   */
  readonly peakRssMiB: Record<string, number> = {};
  private readonly quiet: boolean;
  private readonly resetPeak: boolean;
  private readonly log: (line: string) => void;

  /**
   * `resetPeak`: reset VmHWM when each stage starts, so that peakRssMiB is per stage (bench:train). The
   * kernel's peak then restarts too: `/usr/bin/time -v`'s "Maximum resident set size" of such a process is
   * the last stage's, and the process's peak is peakRssMiB() (which keeps the peaks before each reset).
   */
  constructor(options: { quiet?: boolean; log?: (line: string) => void; resetPeak?: boolean } = {}) {
    this.quiet = options.quiet ?? false;
    this.resetPeak = options.resetPeak ?? false;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  async run<T>(name: string, fn: (progress: Progress) => Promise<T> | T, options: { unit?: 'bytes' | 'count' } = {}): Promise<T> {
    let bar: ProgressBar | null = null;
    const progress: Progress = (done, total, label) => {
      bar ??= progressBar({ label: name.padEnd(16), total, quiet: this.quiet, unit: options.unit });
      bar.update(done, { total, info: label ?? '' });
    };
    const resetOk = this.resetPeak && resetPeakRss();
    const rss0 = process.memoryUsage().rss;
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
      const hwm = vmHwmKiB();
      this.peakRssMiB[name] = Math.round((hwm !== null ? hwm * 1024 : Math.max(rss0, process.memoryUsage().rss)) / 1048576);
      const peak = resetOk ? 'peak RSS' : 'peak RSS so far';
      if (!this.quiet) this.log(`  ${name.padEnd(22)} ${s.toFixed(2).padStart(7)} s  (cpu ${this.cpuTimings[name].toFixed(2)} s, ${peak} ${this.peakRssMiB[name]} MiB)`);
    }
  }
}

/** VmHWM (peak resident set) of this process in KiB from /proc/self/status, or null where there is none. */
function vmHwmKiB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? +m[1] : null;
  } catch {
    return null; // not Linux
  }
}

/** The largest VmHWM seen before a reset (KiB): the process's peak is the larger of it and the current VmHWM. */
let peakBeforeResetKiB = 0;

/**
 * Resets the process's VmHWM to its current RSS (Linux ≥ 4.0: "5" into /proc/self/clear_refs), keeping the
 * peak so far for peakRssMiB. False where it cannot (then per-stage peaks fall back to RSS samples).
 */
function resetPeakRss(): boolean {
  const before = vmHwmKiB();
  if (before === null) return false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    return false;
  }
  peakBeforeResetKiB = Math.max(peakBeforeResetKiB, before);
  return true;
}

/** Peak resident memory of the process so far, MiB: VmHWM (across the stages' resets) where available, else current RSS. */
export async function peakRssMiB(): Promise<number> {
  const hwm = vmHwmKiB();
  if (hwm !== null) return Math.round(Math.max(hwm, peakBeforeResetKiB) / 1024);
  return Math.round(process.memoryUsage().rss / 1048576);
}
