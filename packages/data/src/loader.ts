/**
 * Batches of a dataset as tensors: seeded per-epoch shuffling, drop-last, prefetching of
 * the next batch's JS arrays, and an exact, resumable position.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, Rng } from '@ediy/core';
import type { Dataset, DatasetBatch, ObjectBox } from './types.js';

/** Options of {@link Loader}. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the shuffling: epoch `e`'s order depends only on `(seed, e)`. */
  seed: number;
  /** Shuffle every epoch (default true); false reads items in index order. */
  shuffle?: boolean;
  /** Leave out the last, smaller batch of an epoch (default true). */
  dropLast?: boolean;
  /**
   * Assemble the next batch's arrays in a `setImmediate` callback after a batch is handed
   * out (default true), so the work happens while the caller awaits something (I/O, an
   * async device read-back). It cannot overlap synchronous work on the same thread; when
   * {@link Loader.next} comes first, the pending work is cancelled and done then.
   */
  prefetch?: boolean;
  /** Check every batch: array lengths, pixels finite in [0, 1], labels and masks in range (default true). */
  validate?: boolean;
}

/** Where a {@link Loader} is: the epoch, and the index within it of the next batch. */
export interface LoaderPosition {
  /** Epoch number, from 0. */
  epoch: number;
  /** Index of the next batch in the epoch, in `[0, stepsPerEpoch)`. */
  index: number;
}

/** A batch as JS arrays, with the dataset indices it holds and where it was in the run. */
export interface ArrayBatch extends DatasetBatch {
  /** Dataset index of each item. */
  indices: Int32Array;
  /** The position this batch was read at. */
  position: LoaderPosition;
}

/**
 * A batch as tensors. The caller owns the tensors and disposes them (see {@link disposeBatch}).
 */
export interface Batch {
  /** `[B, H, W, C]` float32 pixels in [0, 1]. */
  images: tf.Tensor4D;
  /** `[B]` int32 labels (`-1` for unlabeled data). */
  labels: tf.Tensor1D;
  /** `[B, H, W]` int32 per-pixel classes (0 = background, k+1 = class k), when the dataset has masks. */
  masks?: tf.Tensor3D;
  /** The objects of each image, for scene datasets. */
  boxes?: ObjectBox[][];
  /** Dataset index of each item. */
  indices: Int32Array;
  /** The position this batch was read at. */
  position: LoaderPosition;
}

/** Disposes the tensors of a {@link Batch}. */
export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
  batch.masks?.dispose();
}

/**
 * Checks a batch read from `dataset` for `n` items.
 * @throws naming the dataset, `where`, and the first bad value.
 */
export function validateBatch(
  dataset: Dataset,
  batch: DatasetBatch,
  n: number,
  where: string,
): void {
  const [h, w, c] = dataset.imageShape;
  const name = `${dataset.name} ${where}`;
  if (!(batch.images instanceof Float32Array) || batch.images.length !== n * h * w * c) {
    throw new Error(
      `${name}: images must be a Float32Array of ${n}x${h}x${w}x${c} = ${n * h * w * c} values, got ${batch.images?.length}`,
    );
  }
  if (!(batch.labels instanceof Int32Array) || batch.labels.length !== n) {
    throw new Error(
      `${name}: labels must be an Int32Array of ${n} values, got ${batch.labels?.length}`,
    );
  }
  const images = batch.images;
  for (let i = 0; i < images.length; i++) {
    const v = images[i] as number;
    if (!(v >= 0 && v <= 1)) {
      throw new RangeError(
        `${name}: pixel ${v} of item ${Math.floor(i / (h * w * c))} must be a number in [0, 1]`,
      );
    }
  }
  for (let i = 0; i < n; i++) {
    const y = batch.labels[i] as number;
    if (dataset.numClasses === 0 ? y !== -1 : y < 0 || y >= dataset.numClasses) {
      throw new RangeError(
        `${name}: label ${y} of item ${i} out of range: expected ${dataset.numClasses === 0 ? '-1 (unlabeled)' : `a class in [0, ${dataset.numClasses})`}`,
      );
    }
  }
  if (dataset.hasMasks) {
    const masks = batch.masks;
    if (!(masks instanceof Int32Array) || masks.length !== n * h * w) {
      throw new Error(
        `${name}: masks must be an Int32Array of ${n}x${h}x${w} = ${n * h * w} values, got ${masks?.length}`,
      );
    }
    for (let i = 0; i < masks.length; i++) {
      const m = masks[i] as number;
      if (m < 0 || m > dataset.numClasses) {
        throw new RangeError(
          `${name}: mask value ${m} of item ${Math.floor(i / (h * w))} must be in [0, ${dataset.numClasses}]`,
        );
      }
    }
  }
}

/**
 * Reads a {@link Dataset} in batches of tensors.
 *
 * Epoch `e` visits the items in the order {@link Loader.epochOrder}(e), a seeded
 * permutation that depends only on `(seed, e)`. {@link Loader.position} and
 * {@link Loader.seek} save and restore where a run is, so a resumed run gets exactly the
 * batches the uninterrupted run would have got. {@link Loader.next} runs forever, moving
 * to the next epoch after `stepsPerEpoch` batches; {@link Loader.epoch} yields the rest
 * of the current epoch.
 *
 * @example
 * ```ts
 * const loader = new Loader(syntheticScenes({ count: 256, size: 32, numClasses: 4, seed: 0 }), { batchSize: 32, seed: 1 });
 * for (const batch of loader.epoch()) { train(batch); disposeBatch(batch); }
 * const saved = loader.position(); // later: loader.seek(saved)
 * ```
 */
export class Loader {
  /** The dataset read. */
  readonly dataset: Dataset;
  /** Images per batch (the last batch of an epoch may be smaller when `dropLast` is false). */
  readonly batchSize: number;
  /** Batches per epoch: `floor(size / batchSize)` with `dropLast`, else `ceil(size / batchSize)`. */
  readonly stepsPerEpoch: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly prefetch: boolean;
  private readonly validate: boolean;
  private epochNumber = 0;
  private batchIndex = 0;
  private orderEpoch = -1;
  private order: Int32Array = new Int32Array(0);
  private ready: ArrayBatch | undefined;
  private timer: ReturnType<typeof setImmediate> | undefined;

  /** @throws when an option is out of range, or no batch fits in the dataset. */
  constructor(dataset: Dataset, options: LoaderOptions) {
    assertInteger(options?.batchSize, 1, 'Loader: batchSize');
    if (!Number.isFinite(options.seed))
      throw new RangeError(`Loader: seed must be a finite number, got ${String(options.seed)}`);
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? true;
    this.prefetch = options.prefetch ?? true;
    this.validate = options.validate ?? true;
    this.stepsPerEpoch = this.dropLast
      ? Math.floor(dataset.size / this.batchSize)
      : Math.ceil(dataset.size / this.batchSize);
    if (this.stepsPerEpoch === 0) {
      throw new RangeError(
        `Loader: ${dataset.name} has ${dataset.size} items, fewer than batchSize ${this.batchSize}` +
          (this.dropLast
            ? ' with dropLast: no full batch (lower batchSize or set dropLast: false)'
            : ''),
      );
    }
  }

  /** The item order of epoch `epoch`: a permutation of `0..size-1` from `(seed, epoch)` (identity without shuffle). */
  epochOrder(epoch: number): Int32Array {
    assertInteger(epoch, 0, 'Loader: epoch');
    if (!this.shuffle) return Int32Array.from({ length: this.dataset.size }, (_, i) => i);
    return new Rng(this.seed).fork(`epoch:${epoch}`).permutation(this.dataset.size);
  }

  /** The position of the next batch {@link Loader.next} returns. */
  position(): LoaderPosition {
    return { epoch: this.epochNumber, index: this.batchIndex };
  }

  /**
   * Moves to `position` (as returned by {@link Loader.position}); the next batch is the one
   * read at that position in any run with the same dataset and options.
   * @throws when `index` is not in `[0, stepsPerEpoch)` or `epoch` is not an integer >= 0.
   */
  seek(position: LoaderPosition): void {
    assertInteger(position?.epoch, 0, 'Loader.seek: position.epoch');
    assertInteger(position.index, 0, 'Loader.seek: position.index');
    if (position.index >= this.stepsPerEpoch) {
      throw new RangeError(
        `Loader.seek: position.index must be below stepsPerEpoch ${this.stepsPerEpoch}, got ${position.index}`,
      );
    }
    this.cancelPrefetch();
    this.epochNumber = position.epoch;
    this.batchIndex = position.index;
  }

  /** The next batch as JS arrays (the caller owns them); advances the position. */
  nextArrays(): ArrayBatch {
    const at = this.position();
    let batch = this.ready;
    this.ready = undefined;
    if (!batch || batch.position.epoch !== at.epoch || batch.position.index !== at.index) {
      this.cancelPrefetch();
      batch = this.assemble(at);
    }
    this.batchIndex++;
    if (this.batchIndex === this.stepsPerEpoch) {
      this.batchIndex = 0;
      this.epochNumber++;
    }
    if (this.prefetch) this.schedule();
    return batch;
  }

  /** The next batch as tensors (the caller disposes them: {@link disposeBatch}); advances the position. */
  next(): Batch {
    const b = this.nextArrays();
    const [h, w, c] = this.dataset.imageShape;
    const n = b.labels.length;
    const out: Batch = {
      images: tf.tensor4d(b.images, [n, h, w, c], 'float32'),
      labels: tf.tensor1d(b.labels, 'int32'),
      indices: b.indices,
      position: b.position,
    };
    if (b.masks) out.masks = tf.tensor3d(b.masks, [n, h, w], 'int32');
    if (b.boxes) out.boxes = b.boxes;
    return out;
  }

  /** Yields the remaining batches of the current epoch (all of them at index 0). */
  *epoch(): Generator<Batch, void, undefined> {
    const epoch = this.epochNumber;
    while (this.epochNumber === epoch) yield this.next();
  }

  /** Cancels a pending prefetch (the loader stays usable). */
  dispose(): void {
    this.cancelPrefetch();
  }

  private cancelPrefetch(): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    this.ready = undefined;
  }

  private schedule(): void {
    this.cancelPrefetch();
    const at = this.position();
    this.timer = setImmediate(() => {
      this.timer = undefined;
      try {
        this.ready = this.assemble(at);
      } catch {
        // left for next(), which assembles the batch again and throws to its caller
      }
    });
    this.timer.unref();
  }

  private assemble(at: LoaderPosition): ArrayBatch {
    if (this.orderEpoch !== at.epoch) {
      this.order = this.epochOrder(at.epoch);
      this.orderEpoch = at.epoch;
    }
    const start = at.index * this.batchSize;
    const indices = this.order.slice(start, Math.min(start + this.batchSize, this.dataset.size));
    const batch = this.dataset.get(indices);
    if (this.validate)
      validateBatch(this.dataset, batch, indices.length, `batch ${at.index} of epoch ${at.epoch}`);
    return { ...batch, indices, position: at };
  }
}
