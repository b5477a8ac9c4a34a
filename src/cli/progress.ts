/**
 * A progress bar on stderr (cli-progress), silent when stderr is not a TTY or when quiet.
 *
 * @example
 * const bar = progressBar({ label: 'import', total: fileBytes, unit: 'bytes', quiet: flags.quiet });
 * bar.update(bytesRead, { rows });
 * bar.stop();
 */
import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';

/** cli-progress, loaded when a bar is drawn (a quiet or piped command does not pay its ~20 modules at start). */
const loadCliProgress = (): typeof cliProgressModule => createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;

export interface ProgressBar {
  /** Sets the current value (and optionally the total, or the "info" text shown after the bar). */
  update(value: number, extra?: { total?: number; info?: string }): void;
  /** Adds to the current value. */
  increment(delta?: number, info?: string): void;
  /** Finishes and removes the bar line. Safe to call twice. */
  stop(): void;
  /** Whether anything is drawn at all. */
  readonly active: boolean;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** 'bytes' renders MB values; 'count' renders plain numbers. */
  unit?: 'bytes' | 'count';
  quiet?: boolean;
  /** Defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
}

const fmtBytes = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
const fmtCount = (n: number): string => n.toLocaleString('en-US');

/** A bar that is a no-op unless the stream is a TTY and quiet is not set. */
export function progressBar(options: ProgressOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  if (options.quiet || !stream.isTTY) {
    return { update() {}, increment() {}, stop() {}, active: false };
  }
  const fmt = options.unit === 'bytes' ? fmtBytes : fmtCount;
  const cliProgress = loadCliProgress();
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: (opts, params, payload: { info?: string }) => {
        const width = opts.barsize ?? 30;
        const done = Math.round(Math.min(1, params.progress) * width);
        const pct = Math.floor(Math.min(1, params.progress) * 100);
        const eta = Number.isFinite(params.eta) && params.progress < 1 ? ` eta ${params.eta}s` : '';
        return `${options.label} [${'#'.repeat(done)}${'-'.repeat(width - done)}] ${String(pct).padStart(3)}% ${fmt(params.value)}/${fmt(params.total)}${eta}${payload.info ? ` ${payload.info}` : ''}`;
      },
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, options.total), 0, { info: '' });
  let stopped = false;
  return {
    active: true,
    update(value, extra) {
      if (stopped) return;
      if (extra?.total !== undefined) bar.setTotal(Math.max(1, extra.total));
      bar.update(value, extra?.info !== undefined ? { info: extra.info } : undefined);
    },
    increment(delta = 1, info) {
      if (stopped) return;
      bar.increment(delta, info !== undefined ? { info } : undefined);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
