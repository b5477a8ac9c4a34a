/**
 * Tiny shared CLI helpers: typed flags, --help text, usage errors (exit 2), failures (exit 1).
 *
 * @example
 * const spec = defineCli({
 *   name: 'import', summary: 'Imports order, inventory and consent files.',
 *   usage: '<file|dir>...',
 *   flags: {
 *     json: { type: 'boolean', description: 'one JSON document on stdout' },
 *     'batch-size': { type: 'int', default: 5000, description: 'lines per database batch' },
 *     out: { type: 'string', description: 'output directory', required: true },
 *   },
 *   positionals: { min: 1 },
 * });
 * runCli(async () => {
 *   const { flags, positionals } = parseCli(spec);
 *   flags['batch-size']; // number
 *   flags.out;           // string
 * });
 */
import { InvalidArgumentError } from '../core/errors.js';

/** One flag. `int` and `number` are validated; `--help`/`-h` is always added. */
export interface FlagSpec {
  type: 'string' | 'int' | 'number' | 'boolean';
  description: string;
  short?: string;
  default?: string | number | boolean;
  /** Absence is a usage error. */
  required?: boolean;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  /** Placeholder shown in help, e.g. "N" or "DIR". */
  placeholder?: string;
}

export interface CliSpec<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** Command as users type it, e.g. "npm run import --". */
  name: string;
  summary: string;
  /** Positional part of the usage line, e.g. "<file>...". */
  usage?: string;
  flags: F;
  positionals?: { min?: number; max?: number };
  /** Extra paragraphs after the flag list (examples, exit codes). */
  epilog?: string;
}

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'int' | 'number'
    ? number
    : S extends { choices: readonly (infer C)[] }
      ? C
      : string;

/** Parsed flag values: booleans are always present; others are present when defaulted or required. */
export type ParsedFlags<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K]['type'] extends 'boolean'
    ? boolean
    : F[K] extends { default: string | number } | { required: true }
      ? ValueOf<F[K]>
      : ValueOf<F[K]> | undefined;
};

/** Bad command-line usage: the CLI prints the message and a hint, and exits with code 2. */
export class UsageError extends InvalidArgumentError {}

/** Identity helper that keeps the literal types of a spec. */
export function defineCli<const F extends Record<string, FlagSpec>>(spec: CliSpec<F>): CliSpec<F> {
  return spec;
}

/** The --help text of a spec. */
export function helpText(spec: CliSpec): string {
  const lines = [`Usage: ${spec.name}${spec.usage ? ` ${spec.usage}` : ''} [options]`, '', spec.summary, '', 'Options:'];
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(spec.flags)) {
    const ph = f.type === 'boolean' ? '' : ` ${f.placeholder ?? (f.type === 'string' ? 'VALUE' : 'N')}`;
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${ph}`;
    let right = f.description;
    if (f.choices) right += ` (one of: ${f.choices.join(', ')})`;
    if (f.default !== undefined && f.type !== 'boolean') right += ` [default: ${String(f.default)}]`;
    if (f.required) right += ' (required)';
    rows.push([left, right]);
  }
  rows.push(['-h, --help', 'show this help and exit']);
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [l, r] of rows) lines.push(`  ${l.padEnd(w)}${r}`);
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n') + '\n';
}

/** Thrown by parseCli when --help was asked; runCli prints the help and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
  }
}

/**
 * Parses argv (default process.argv.slice(2)) against a spec.
 * Accepts `--flag value`, `--flag=value`, `-f value`, `--no-flag` for booleans, and `--` to end flags.
 * Throws UsageError on unknown flags, missing values, bad numbers, bad choices, missing required flags,
 * or a wrong number of positionals; throws HelpRequested on -h/--help.
 */
export function parseCli<F extends Record<string, FlagSpec>>(
  spec: CliSpec<F>,
  argv: readonly string[] = process.argv.slice(2),
): { flags: ParsedFlags<F>; positionals: string[] } {
  const byShort = new Map<string, string>();
  for (const [name, f] of Object.entries(spec.flags)) if (f.short) byShort.set(f.short, name);
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    values[name] = f.type === 'boolean' ? (f.default ?? false) : f.default;
  }
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (onlyPositionals || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') throw new HelpRequested(helpText(spec));
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (!(name in spec.flags) && name.startsWith('no-') && spec.flags[name.slice(3)]?.type === 'boolean' && inline === undefined) {
        values[name.slice(3)] = false;
        continue;
      }
    } else {
      const n = byShort.get(arg.slice(1, 2));
      if (!n) throw new UsageError(`unknown option ${arg}`);
      name = n;
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    const f = spec.flags[name];
    if (!f) throw new UsageError(`unknown option --${name}`);
    if (f.type === 'boolean') {
      if (inline === undefined) values[name] = true;
      else if (/^(true|1|yes)$/i.test(inline)) values[name] = true;
      else if (/^(false|0|no)$/i.test(inline)) values[name] = false;
      else throw new UsageError(`--${name} takes no value (got "${inline}")`);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      raw = argv[++i];
    }
    values[name] = convert(name, f, raw);
  }
  for (const [name, f] of Object.entries(spec.flags)) {
    if (f.required && values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  const { min = 0, max = Infinity } = spec.positionals ?? { max: 0 };
  if (positionals.length < min) throw new UsageError(`expected at least ${min} argument${min === 1 ? '' : 's'}${spec.usage ? ` (${spec.usage})` : ''}`);
  if (positionals.length > max) throw new UsageError(max === 0 ? `unexpected argument "${positionals[0]}"` : `expected at most ${max} argument${max === 1 ? '' : 's'}`);
  return { flags: values as ParsedFlags<F>, positionals };
}

function convert(name: string, f: FlagSpec, raw: string): string | number {
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${f.choices.join(', ')} (got "${raw}")`);
    return raw;
  }
  const cleaned = raw.replace(/_/g, '');
  const v = Number(cleaned);
  if (cleaned.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name} must be a number (got "${raw}")`);
  if (f.type === 'int' && !Number.isInteger(v)) throw new UsageError(`--${name} must be a whole number (got "${raw}")`);
  return v;
}

/**
 * Runs a CLI's main function with the exit codes a scheduler can trust:
 * 0 on success (or the number main returns), 2 on UsageError (message + "try --help"),
 * 1 on any other error (message on stderr; stack with DEBUG=1). --help prints help, exits 0.
 */
export function runCli(main: () => Promise<number | void> | number | void, name = 'command'): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => {
        process.exitCode = typeof code === 'number' ? code : 0;
      },
      (err: unknown) => {
        if (err instanceof HelpRequested) {
          process.stdout.write(err.text);
          process.exitCode = 0;
        } else if (err instanceof UsageError) {
          process.stderr.write(`${name}: ${err.message}\nTry --help for usage.\n`);
          process.exitCode = 2;
        } else {
          const e = err instanceof Error ? err : new Error(String(err));
          process.stderr.write(`${name}: error: ${process.env.DEBUG ? (e.stack ?? e.message) : e.message}\n`);
          process.exitCode = 1;
        }
      },
    );
}
