/**
 * The dataset contract every ediy source implements: a fixed number of images of one
 * shape, read in batches of indices as plain JS typed arrays. Tensors are made by the
 * {@link Loader}, never by a dataset.
 */

/**
 * One object of a scene: its class and its box in pixel coordinates of the image.
 * `x0`/`y0` are inclusive, `x1`/`y1` exclusive, so the box holds `(x1-x0)*(y1-y0)` pixels.
 */
export interface ObjectBox {
  /** Class id in `[0, numClasses)`; the mask value of its pixels is `classId + 1`. */
  classId: number;
  /** First column of the box (inclusive). */
  x0: number;
  /** First row of the box (inclusive). */
  y0: number;
  /** Last column of the box (exclusive). */
  x1: number;
  /** Last row of the box (exclusive). */
  y1: number;
  /** Number of visible pixels of the object (its pixels not covered by a later object). */
  area: number;
}

/**
 * A batch read from a {@link Dataset}, as JS typed arrays, for `n` indices.
 *
 * - `images`: `n*H*W*C` floats in [0, 1], NHWC order.
 * - `labels`: `n` image labels in `[0, numClasses)`, or `-1` where the dataset is unlabeled
 *   (`numClasses === 0`).
 * - `masks`: present when the dataset `hasMasks`: `n*H*W` per-pixel classes, where `0` is
 *   background and `k + 1` is class `k`.
 * - `boxes`: present for scene datasets: the objects of each image.
 */
export interface DatasetBatch {
  /** Pixel values in [0, 1], NHWC, length `n*H*W*C`. */
  images: Float32Array;
  /** One label per image; `-1` when unlabeled. */
  labels: Int32Array;
  /** Per-pixel class (0 = background, k+1 = class k), length `n*H*W`; only when `hasMasks`. */
  masks?: Int32Array;
  /** The objects of each image (outer length `n`); scene datasets only. */
  boxes?: ObjectBox[][];
}

/** Image shape `[H, W, C]`. */
export type ImageShape = readonly [number, number, number];

/**
 * A random-access image dataset. Implementations keep their data in JS typed arrays (or
 * generate it on demand) and return fresh arrays from {@link Dataset.get}, which the
 * caller owns.
 */
export interface Dataset {
  /** A short name, used in error messages and logs (e.g. the file it came from). */
  readonly name: string;
  /** Number of images; valid indices are `0..size-1`. */
  readonly size: number;
  /** `[H, W, C]` of every image. */
  readonly imageShape: ImageShape;
  /** Number of label classes; `0` for an unlabeled dataset (labels are then `-1`). */
  readonly numClasses: number;
  /** Whether {@link Dataset.get} returns per-pixel `masks`. */
  readonly hasMasks: boolean;
  /** Optional human-readable class names, `numClasses` long. */
  readonly classNames?: readonly string[];
  /**
   * Reads the images at `indices` (in that order; repeats allowed).
   * @throws when an index is not an integer in `[0, size)`.
   */
  get(indices: ArrayLike<number>): DatasetBatch;
}
