import { NotFoundError } from '../core/errors.js';
import { BINARY_BLOBS, decodeItemSide, decodeMeta, verifyBlob } from './item-side.js';
import { ITEM_BLOBS, type CacheKeys, type ItemBlob } from './keys.js';
import type { LoadedModel } from './model-source.js';
import type { VectorCache } from './vector-cache.js';

/**
 * Reads the item side of one published version with a single MGET (all its keys share the hash tag
 * {v:V}, so this is one slot and one atomic read). Refuses a version without its "complete" marker
 * (still being written, or partly cleaned up) and one whose blobs fail the meta's checksums.
 */
export async function loadModel(cache: VectorCache, keys: CacheKeys, version: string): Promise<LoadedModel> {
  const values = await cache.getMany([...ITEM_BLOBS.map((b) => keys.blob(version, b)), keys.complete(version)]);
  if (!values[ITEM_BLOBS.length]) {
    throw new NotFoundError(`model version ${version} is not (completely) published in the cache`, { version });
  }
  const blobs = Object.fromEntries(ITEM_BLOBS.map((b, i) => [b, values[i]])) as Record<ItemBlob, Buffer | null>;
  if (!blobs.meta) throw new NotFoundError(`model version ${version} has no meta in the cache`, { version });
  // checksums one blob at a time, yielding in between, so a large catalogue does not stall requests in flight
  const meta = decodeMeta(blobs.meta);
  for (const name of BINARY_BLOBS) {
    const b = blobs[name];
    if (!b) throw new NotFoundError(`model version ${version}: blob ${name} is missing in the cache`, { version });
    verifyBlob(meta, name, b);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return decodeItemSide(blobs, { verify: false });
}
