/**
 * Input checks shared by the datasets of this package.
 */
import type { Dataset } from './types.js';

/**
 * Checks that every index is an integer in `[0, dataset.size)`.
 * @throws naming the dataset, the position and the bad index.
 */
export function checkIndices(
  dataset: Pick<Dataset, 'name' | 'size'>,
  indices: ArrayLike<number>,
): void {
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i] as number;
    if (!Number.isInteger(k) || k < 0 || k >= dataset.size) {
      throw new RangeError(
        `${dataset.name}: index ${String(k)} (position ${i}) must be an integer in [0, ${dataset.size})`,
      );
    }
  }
}
