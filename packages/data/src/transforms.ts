/**
 * Dataset wrappers: grayscale to RGB, index subsets, seeded train/test splits.
 */
import { assertInRange, Rng } from '@ediy/core';
import { checkIndices } from './check.js';
import type { Dataset, DatasetBatch } from './types.js';

/**
 * A view of a 1-channel dataset with 3 channels (the gray value copied to R, G and B).
 * A 3-channel dataset is returned unchanged.
 * @throws when the dataset has neither 1 nor 3 channels.
 */
export function toRgb(dataset: Dataset): Dataset {
  const [h, w, c] = dataset.imageShape;
  if (c === 3) return dataset;
  if (c !== 1)
    throw new Error(`toRgb: ${dataset.name} has ${c} channels, expected 1 (or 3, left as is)`);
  return {
    name: dataset.name,
    size: dataset.size,
    imageShape: [h, w, 3],
    numClasses: dataset.numClasses,
    hasMasks: dataset.hasMasks,
    ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
    get(indices: ArrayLike<number>): DatasetBatch {
      const batch = dataset.get(indices);
      const gray = batch.images;
      const rgb = new Float32Array(gray.length * 3);
      for (let p = 0, q = 0; p < gray.length; p++, q += 3) {
        const v = gray[p] as number;
        rgb[q] = v;
        rgb[q + 1] = v;
        rgb[q + 2] = v;
      }
      return { ...batch, images: rgb };
    },
  };
}

/**
 * The items of `dataset` at `indices`, as a dataset of `indices.length` items (item `i`
 * is `dataset` item `indices[i]`).
 * @throws when an index is outside `[0, dataset.size)`.
 */
export function subset(
  dataset: Dataset,
  indices: ArrayLike<number>,
  name = `${dataset.name}[subset]`,
): Dataset {
  checkIndices(dataset, indices);
  const map = Int32Array.from(indices);
  const view: Dataset = {
    name,
    size: map.length,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    hasMasks: dataset.hasMasks,
    ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
    get(batchIndices: ArrayLike<number>): DatasetBatch {
      checkIndices(view, batchIndices);
      const mapped = new Int32Array(batchIndices.length);
      for (let i = 0; i < mapped.length; i++) mapped[i] = map[batchIndices[i] as number] as number;
      return dataset.get(mapped);
    },
  };
  return view;
}

/** Options of {@link splitDataset}. */
export interface SplitOptions {
  /** Share of the items that go to the test part, in [0, 1]; rounded to a whole count. */
  testFraction: number;
  /** Seed of the random assignment; the same seed gives the same split. */
  seed: number;
}

/** The two parts of a {@link splitDataset} split. */
export interface DatasetSplit {
  /** The items not in `test`. */
  train: Dataset;
  /** `round(size * testFraction)` items. */
  test: Dataset;
}

/**
 * Splits a dataset into disjoint train and test parts by a seeded permutation:
 * `round(size * testFraction)` items go to `test`, the rest to `train`, each in
 * increasing index order. Use it for data that has no official split; IDX and CIFAR
 * come as separate train and test files instead.
 * @throws when `testFraction` is not in [0, 1].
 */
export function splitDataset(dataset: Dataset, options: SplitOptions): DatasetSplit {
  assertInRange(options.testFraction, 0, 1, 'splitDataset: testFraction');
  const perm = new Rng(options.seed).fork('split').permutation(dataset.size);
  const nTest = Math.round(dataset.size * options.testFraction);
  const test = perm.slice(0, nTest).sort();
  const train = perm.slice(nTest).sort();
  return {
    train: subset(dataset, train, `${dataset.name}[train]`),
    test: subset(dataset, test, `${dataset.name}[test]`),
  };
}
