/**
 * Helpers for the Recommender save/load format: named typed arrays plus a JSON header.
 */
import type { Recommender } from '../core/recommender.js';
import { InvalidArgumentError } from '../core/errors.js';

/** What Recommender.save returns and Recommender.load takes. */
export type SavedModel = ReturnType<Recommender['save']>;
type SavedArray = SavedModel['arrays'][string];

/** The named array of a saved model, checked for its type. */
export function savedArray<T extends SavedArray>(
  saved: SavedModel,
  name: string,
  type: { new (n: number): T; readonly name: string },
): T {
  const a = saved.arrays[name];
  if (!(a instanceof type)) {
    throw new InvalidArgumentError(`saved model: array "${name}" missing or not ${type.name}`, { name });
  }
  return a as T;
}

/** Checks a saved model's header names the expected model. */
export function checkHeader(saved: SavedModel, model: string): void {
  if (saved.header.model !== model) {
    throw new InvalidArgumentError(`saved model is "${String(saved.header.model)}", expected "${model}"`, { model });
  }
}
