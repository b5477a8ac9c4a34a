import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineCli, HelpRequested, helpText, parseCli, UsageError } from '../src/cli/args.js';
import { progressBar } from '../src/cli/progress.js';

const spec = defineCli({
  name: 'tool',
  summary: 'Does things.',
  usage: '<file>...',
  flags: {
    json: { type: 'boolean', description: 'JSON output' },
    quiet: { type: 'boolean', short: 'q', description: 'quiet' },
    'batch-size': { type: 'int', default: 100, description: 'batch' },
    ratio: { type: 'number', description: 'a ratio' },
    mode: { type: 'string', choices: ['fast', 'slow'], description: 'mode' },
    out: { type: 'string', required: true, placeholder: 'DIR', description: 'output' },
  },
  positionals: { min: 1, max: 2 },
});

describe('parseCli', () => {
  it('parses every flag form with types and defaults', () => {
    const { flags, positionals } = parseCli(spec, ['a.csv', '--json', '-q', '--batch-size=250', '--ratio', '0.5', '--mode', 'slow', '--out', 'x', 'b.csv']);
    expect(positionals).toEqual(['a.csv', 'b.csv']);
    expect(flags).toEqual({ json: true, quiet: true, 'batch-size': 250, ratio: 0.5, mode: 'slow', out: 'x' });
    const d = parseCli(spec, ['--out', 'x', '--no-json', 'f']).flags;
    expect(d['batch-size']).toBe(100);
    expect(d.json).toBe(false);
    expect(d.ratio).toBeUndefined();
    expect(parseCli(spec, ['--out', 'x', '--', '--not-a-flag']).positionals).toEqual(['--not-a-flag']);
    expect(parseCli(spec, ['--out', 'x', '--batch-size', '1_000', 'f']).flags['batch-size']).toBe(1000);
  });

  it('bad usage is a UsageError with a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['f', '--nope'], /unknown option --nope/],
      [['f', '-z', '--out', 'x'], /unknown option -z/],
      [['f', '--out'], /--out needs a value/],
      [['f', '--out', 'x', '--batch-size', '1.5'], /whole number/],
      [['f', '--out', 'x', '--ratio', 'abc'], /--ratio must be a number/],
      [['f', '--out', 'x', '--mode', 'medium'], /one of fast, slow/],
      [['f'], /--out is required/],
      [['--out', 'x'], /at least 1 argument/],
      [['a', 'b', 'c', '--out', 'x'], /at most 2/],
      [['f', '--out', 'x', '--json=maybe'], /takes no value/],
    ];
    for (const [argv, msg] of cases) {
      expect(() => parseCli(spec, argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseCli(spec, argv), argv.join(' ')).toThrow(msg);
    }
  });

  it('--help throws HelpRequested carrying the help text', () => {
    expect(() => parseCli(spec, ['--help'])).toThrow(HelpRequested);
    const text = helpText(spec);
    expect(text).toMatch(/^Usage: tool <file>\.\.\. \[options\]/);
    expect(text).toMatch(/--batch-size N\s+batch \[default: 100\]/);
    expect(text).toMatch(/--out DIR\s+output \(required\)/);
    expect(text).toMatch(/-q, --quiet/);
  });
});

describe('progressBar', () => {
  it('draws nothing when the stream is not a TTY or when quiet', () => {
    const s = new PassThrough() as unknown as NodeJS.WriteStream;
    let written = 0;
    (s as unknown as PassThrough).on('data', (d: Buffer) => (written += d.length));
    const bar = progressBar({ label: 'x', total: 10, stream: s });
    bar.update(5);
    bar.stop();
    expect(bar.active).toBe(false);
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80, cursorTo() {}, clearLine() {}, moveCursor() {} }) as unknown as NodeJS.WriteStream;
    expect(progressBar({ label: 'x', total: 10, stream: tty, quiet: true }).active).toBe(false);
    expect(written).toBe(0);
  });

  it('draws on a TTY', async () => {
    let out = '';
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 100, cursorTo() { return true; }, clearLine() { return true; }, moveCursor() { return true; } });
    tty.on('data', (d: Buffer) => (out += d.toString()));
    const bar = progressBar({ label: 'load', total: 4 * 1048576, unit: 'bytes', stream: tty as unknown as NodeJS.WriteStream });
    bar.update(1048576, { info: '10 rows' });
    expect(bar.active).toBe(true);
    bar.stop();
    await new Promise((r) => setImmediate(r));
    expect(out).toMatch(/load \[#+-+\]\s+25% 1\.0 MB\/4\.0 MB.*10 rows/);
  });
});
