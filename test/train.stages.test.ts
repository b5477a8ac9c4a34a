import { describe, expect, it } from 'vitest';
import { peakRssMiB, Stages } from '../src/train/stages.js';

describe('Stages: time, CPU and peak memory per stage', () => {
  it('records each stage, and a stage that touches 96 MiB peaks at least that far above where it started', async () => {
    const stages = new Stages({ quiet: true, resetPeak: true });
    await stages.run('small', () => 1);
    const before = process.memoryUsage().rss / 1048576;
    let kept: Buffer | null = null;
    await stages.run('big', () => {
      kept = Buffer.alloc(96 * 1048576, 1); // filled: every page resident
      return kept.length;
    });
    expect(Object.keys(stages.peakRssMiB)).toEqual(['small', 'big']);
    expect(Object.keys(stages.timings)).toEqual(['small', 'big']);
    expect(stages.peakRssMiB.small).toBeGreaterThan(0);
    expect(stages.peakRssMiB.big).toBeGreaterThanOrEqual(Math.floor(before + 90));
    // the process's peak spans every stage, whatever each stage reset
    expect(await peakRssMiB()).toBeGreaterThanOrEqual(stages.peakRssMiB.big);
    expect(kept).not.toBeNull();
  });

  it('without resetPeak, each stage records the process peak so far (never below an earlier stage’s)', async () => {
    const stages = new Stages({ quiet: true });
    await stages.run('a', () => Buffer.alloc(32 * 1048576, 1).length);
    await stages.run('b', () => 1);
    expect(stages.peakRssMiB.b).toBeGreaterThanOrEqual(stages.peakRssMiB.a);
  });
});
