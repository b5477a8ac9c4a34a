import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCli } from '../src/cli/args.js';
import { ALS_DEFAULTS } from '../src/models/als.js';
import { hyperparameterFlags, parseModelList, resolveTrainConfig } from '../src/train/train-config.js';

let dir: string;
const spec = { name: 't', summary: 't', flags: hyperparameterFlags() };
const resolve = async (argv: string[], config?: object) => {
  let path: string | undefined;
  if (config) {
    path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, JSON.stringify(config));
  }
  return resolveTrainConfig(parseCli(spec, argv).flags, path, argv);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-cfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('training configuration', () => {
  it('defaults < config file < flags', async () => {
    const def = await resolve([]);
    expect(def.models.als.factors).toBe(ALS_DEFAULTS.factors);
    expect(def.weighting).toMatchObject({ scheme: 'log', epsilon: 1, halfLifeDays: 0 });
    const fromFile = await resolve([], { weighting: { halfLifeDays: 90 }, models: { als: { factors: 32, solver: 'cholesky' } } });
    expect(fromFile.weighting.halfLifeDays).toBe(90);
    expect(fromFile.models.als).toMatchObject({ factors: 32, solver: 'cholesky', reg: ALS_DEFAULTS.reg });
    const both = await resolve(['--als-factors', '16', '--half-life-days', '30'], { weighting: { halfLifeDays: 90 }, models: { als: { factors: 32 } } });
    expect(both.models.als.factors).toBe(16);
    expect(both.weighting.halfLifeDays).toBe(30);
    expect((await resolve(['--item-knn-similarity', 'jaccard'])).models.item_knn.similarity).toBe('jaccard');
  });

  it('rejects unknown models and parameters, wrong types, bad choices and bad weighting', async () => {
    await expect(resolve([], { models: { nope: {} } })).rejects.toThrow(/unknown model "nope"/);
    await expect(resolve([], { models: { als: { nope: 1 } } })).rejects.toThrow(/no parameter "nope"/);
    await expect(resolve([], { models: { als: { factors: '64' } } })).rejects.toThrow(/must be a number/);
    await expect(resolve([], { models: { als: { solver: 'magic' } } })).rejects.toThrow(/one of/);
    await expect(resolve([], { weighting: { epsilon: -1 } })).rejects.toThrow(/epsilon/);
    await expect(resolve([], { extra: 1 })).rejects.toThrow(/unknown key/);
    expect(() => parseCli(spec, ['--item-knn-similarity', 'euclid'])).toThrow(/one of/);
  });

  it('parses --models against the recommenders', () => {
    expect(parseModelList('als,repeat,als', [])).toEqual(['als', 'repeat']);
    expect(parseModelList(undefined, ['popularity'])).toEqual(['popularity']);
    expect(() => parseModelList('segments', [])).toThrow(/unknown model/);
  });
});
