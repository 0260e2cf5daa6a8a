/**
 * Types shared by the matchers.
 */

/**
 * A crop of a source image, in source pixel coordinates (continuous, not rounded):
 * rows `y0..y1`, columns `x0..x1`, with `y1 > y0` and `x1 > x0`. The view is this crop
 * resized to the network input, so its feature grid tiles the box evenly.
 *
 * Structurally identical to the crop boxes the augmentation pipeline records.
 */
export interface CropBox {
  /** Top edge, in source pixels. */
  y0: number;
  /** Left edge, in source pixels. */
  x0: number;
  /** Bottom edge, in source pixels (exclusive). */
  y1: number;
  /** Right edge, in source pixels (exclusive). */
  x1: number;
}

/** The size `[H, W]` of a feature grid; it has `N = H * W` regions, numbered `n = h * W + w`. */
export type Grid = readonly [number, number];

/** Which of the two views: 0 for x1 (the dagger view), 1 for x2. */
export type ViewIndex = 0 | 1;
