/**
 * The item side of a model version as cache blobs (P:{v:V}:meta|items|neighbours|fbt|popular) and back.
 * Pure functions, no I/O. The meta blob names the sha256 of every other blob, so a reader can tell
 * a complete, consistent version from a partial one.
 */
import { createHash } from 'node:crypto';
import type { ModelBundle, RankedList, ServedBundle } from '../core/bundle.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Channel, Segment } from '../core/records.js';
import { type PackedArray, packArrays, unpackArrays } from './codec.js';
import type { ItemBlob } from './keys.js';
import { type LoadedModel, loadedModelFromBundle } from './model-source.js';

/** JSON header stored at P:{v:V}:meta. */
export interface ItemSideMeta {
  version: string;
  manifest: ModelBundle['manifest'];
  items: string[];
  itemCategories: (string | null)[];
  als: { k: number; reg: number; alpha: number } | null;
  blend: Record<string, number>;
  /** channels: absent in versions published before per-channel lists. */
  popular: { stores: string[]; segments: Segment[]; channels?: Channel[] };
  customers: number;
  /** The served model's spec and which tables the popular blob holds for it (absent before it existed). */
  served?: { spec: ServedBundle['spec']; trends: string[]; lists: string[]; foldInWeight: number };
  /** sha256 (hex) of each binary blob. */
  digests: Record<Exclude<ItemBlob, 'meta'>, string>;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const rankedArrays = (name: string, r: RankedList): Record<string, PackedArray> => ({
  [`${name}.items`]: r.items,
  [`${name}.scores`]: r.scores,
});

/** The five item-side blobs of a bundle under `version`. */
export function encodeItemSide(bundle: ModelBundle, version: string): Record<ItemBlob, Buffer> {
  const stores = Object.keys(bundle.popular.byStore);
  const segments = Object.keys(bundle.popular.bySegment) as Segment[];
  const byChannel = bundle.popular.byChannel;
  const channels = byChannel ? (Object.keys(byChannel) as Channel[]) : undefined;
  const popularArrays: Record<string, PackedArray> = {
    ...rankedArrays('global', bundle.popular.global),
    ...rankedArrays('trending', bundle.popular.trending),
  };
  stores.forEach((s, i) => Object.assign(popularArrays, rankedArrays(`store${i}`, bundle.popular.byStore[s])));
  segments.forEach((s, i) => Object.assign(popularArrays, rankedArrays(`segment${i}`, bundle.popular.bySegment[s]!)));
  channels?.forEach((c, i) => Object.assign(popularArrays, rankedArrays(`channel${i}`, byChannel![c]!)));
  const served = bundle.served;
  if (served) {
    popularArrays['served.popularity'] = served.popularity;
    for (const [h, t] of Object.entries(served.trends)) popularArrays[`served.trend.${h}`] = t;
    for (const [kind, l] of Object.entries(served.lists)) {
      popularArrays[`served.${kind}.indptr`] = l!.indptr;
      popularArrays[`served.${kind}.indices`] = l!.indices;
      popularArrays[`served.${kind}.scores`] = l!.scores;
    }
  }
  const blobs = {
    items: packArrays({ k: bundle.als?.k ?? 0 }, bundle.als ? { itemFactors: bundle.als.itemFactors } : {}),
    neighbours: packArrays({}, { ...bundle.neighbours }),
    fbt: packArrays({}, { ...bundle.fbt }),
    popular: packArrays({}, popularArrays),
  };
  const meta: ItemSideMeta = {
    version,
    manifest: bundle.manifest,
    items: bundle.items,
    itemCategories: bundle.itemCategories,
    als: bundle.als ? { k: bundle.als.k, reg: bundle.als.reg, alpha: bundle.als.alpha } : null,
    blend: bundle.blend,
    // no `channels` key for bundles without per-channel lists: their meta (and digest) stay as before
    popular: channels ? { stores, segments, channels } : { stores, segments },
    customers: bundle.customers.length,
    ...(served
      ? { served: { spec: served.spec, trends: Object.keys(served.trends), lists: Object.keys(served.lists), foldInWeight: served.foldInWeight } }
      : {}),
    digests: {
      items: sha256(blobs.items),
      neighbours: sha256(blobs.neighbours),
      fbt: sha256(blobs.fbt),
      popular: sha256(blobs.popular),
    },
  };
  return { meta: Buffer.from(JSON.stringify(meta), 'utf8'), ...blobs };
}

export const BINARY_BLOBS = ['items', 'neighbours', 'fbt', 'popular'] as const;

/** Throws unless the blob's sha256 is the one the meta names. */
export function verifyBlob(meta: ItemSideMeta, name: (typeof BINARY_BLOBS)[number], b: Buffer): void {
  if (sha256(b) !== meta.digests[name]) throw new InvalidArgumentError(`version ${meta.version}: blob ${name} fails its checksum`);
}

/** Parses the meta blob. */
export function decodeMeta(buf: Buffer): ItemSideMeta {
  try {
    return JSON.parse(buf.toString('utf8')) as ItemSideMeta;
  } catch {
    throw new InvalidArgumentError('cache meta value is not JSON');
  }
}

/**
 * Rebuilds the served item side from its blobs; every blob's checksum must match the meta's,
 * otherwise the version is incomplete or mixed and an InvalidArgumentError is thrown.
 */
export function decodeItemSide(blobs: Record<ItemBlob, Buffer | null>, { verify = true } = {}): LoadedModel {
  if (!blobs.meta) throw new InvalidArgumentError('cache has no meta for this version');
  const meta = decodeMeta(blobs.meta);
  for (const name of BINARY_BLOBS) {
    const b = blobs[name];
    if (!b) throw new InvalidArgumentError(`version ${meta.version}: blob ${name} is missing`);
    if (verify) verifyBlob(meta, name, b);
  }
  const factors = unpackArrays(blobs.items!).arrays;
  const topK = (b: Buffer) => {
    const a = unpackArrays(b).arrays;
    return { indptr: a.indptr as Int32Array, indices: a.indices as Int32Array, scores: a.scores as Float32Array };
  };
  const pop = unpackArrays(blobs.popular!).arrays;
  const ranked = (name: string): RankedList => ({ items: pop[`${name}.items`] as Int32Array, scores: pop[`${name}.scores`] as Float32Array });
  return loadedModelFromBundle(
    {
      manifest: meta.manifest,
      items: meta.items,
      itemCategories: meta.itemCategories,
      als: meta.als ? { ...meta.als, itemFactors: factors.itemFactors as Float32Array } : null,
      neighbours: topK(blobs.neighbours!),
      fbt: topK(blobs.fbt!),
      popular: {
        global: ranked('global'),
        trending: ranked('trending'),
        byStore: Object.fromEntries(meta.popular.stores.map((s, i) => [s, ranked(`store${i}`)])),
        ...(meta.popular.channels ? { byChannel: Object.fromEntries(meta.popular.channels.map((c, i) => [c, ranked(`channel${i}`)])) } : {}),
        bySegment: Object.fromEntries(meta.popular.segments.map((s, i) => [s, ranked(`segment${i}`)])),
      },
      blend: meta.blend,
      ...(meta.served
        ? {
            served: {
              spec: meta.served.spec,
              foldInWeight: meta.served.foldInWeight,
              popularity: pop['served.popularity'] as Float32Array,
              trends: Object.fromEntries(meta.served.trends.map((h) => [h, pop[`served.trend.${h}`] as Float32Array])),
              lists: Object.fromEntries(
                meta.served.lists.map((k) => [
                  k,
                  { indptr: pop[`served.${k}.indptr`] as Int32Array, indices: pop[`served.${k}.indices`] as Int32Array, scores: pop[`served.${k}.scores`] as Float32Array },
                ]),
              ),
            },
          }
        : {}),
    },
    meta.version,
  );
}
