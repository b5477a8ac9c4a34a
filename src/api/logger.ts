/**
 * Structured JSON logs: one line per event on stdout, `{time, level, msg, ...fields}`,
 * filtered by LOG_LEVEL. Small on purpose (no dependency); `child` adds fixed fields.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

let stdoutPending = '';
let stdoutScheduled = false;
let exitHooked = false;

function flushStdout(): void {
  stdoutScheduled = false;
  if (stdoutPending === '') return;
  const out = stdoutPending;
  stdoutPending = '';
  process.stdout.write(out);
}

/**
 * The default sink: lines gathered during one event-loop turn go to stdout in one write (under load a
 * turn answers dozens of requests, each with its line: one syscall instead of dozens), in order, at
 * the latest once 64 KB are pending; whatever is pending is written when the process exits.
 */
export function stdoutLine(line: string): void {
  stdoutPending += line + '\n';
  if (stdoutPending.length >= 65_536) return flushStdout();
  if (stdoutScheduled) return;
  stdoutScheduled = true;
  setImmediate(flushStdout);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', flushStdout);
  }
}

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = stdoutLine,
  base: Record<string, unknown> = {},
): Logger {
  const min = RANK[level];
  const baseObjects = hasObject(base);
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    const line = { time: new Date().toISOString(), level: lvl, msg, ...base, ...fields };
    // the replacer (errors as objects) only matters when some field is an object; without one
    // JSON.stringify takes its fast path (the per-request line has only strings and numbers)
    write(baseObjects || (fields && hasObject(fields)) ? JSON.stringify(line, errorReplacer) : JSON.stringify(line));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}

function hasObject(fields: Record<string, unknown>): boolean {
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'object' && v !== null) return true;
  }
  return false;
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
