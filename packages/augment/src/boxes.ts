/**
 * Crop boxes in source coordinates: how they are sampled (torchvision's
 * `RandomResizedCrop.get_params`) and how a view's pixels and region cells map back to
 * the source image.
 *
 * Coordinates are continuous pixel coordinates of the source image: pixel (r, c)
 * covers `[r, r + 1) x [c, c + 1)`, so its centre is at `(r + 0.5, c + 0.5)`, and the
 * whole image is `[0, H] x [0, W]`.
 */
import type { Rng } from '@ediy/core';
import { assertInteger } from '@ediy/core';
import type { CropParams } from './params.js';

/**
 * A crop box in continuous source pixel coordinates (see the module comment): it covers
 * `[y0, y1) x [x0, x1)`, i.e. source rows `y0 .. y1 - 1` and columns `x0 .. x1 - 1`.
 * Sampled boxes have integer corners, `0 <= y0 < y1 <= H` and `0 <= x0 < x1 <= W`.
 *
 * A view of size `S` made from the box samples the source bilinearly at pixel centres:
 * view pixel (u, v) has its centre at source
 * `y = y0 + (u + 0.5) * (y1 - y0) / S` and `x = x0 + (v + 0.5) * (x1 - x0) / S`, or
 * `x = x1 - (v + 0.5) * (x1 - x0) / S` when the view is flipped (torchvision's
 * `resize` with `align_corners=False`). Points that fall outside the outermost pixel
 * centres take the edge pixel's value.
 */
export interface CropBox {
  /** Top edge (inclusive). */
  y0: number;
  /** Left edge (inclusive). */
  x0: number;
  /** Bottom edge (exclusive). */
  y1: number;
  /** Right edge (exclusive). */
  x1: number;
}

/** Python's `round` (half to even), as torchvision's crop sampling uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Samples a random resized crop box of an `height x width` image exactly as torchvision's
 * `RandomResizedCrop.get_params`: up to 10 tries of area `U(scale) * H * W` and aspect
 * ratio `exp(U(log ratio))`, rounded to whole pixels, at a uniform integer offset; if
 * none fits, the central crop with the aspect ratio clamped to `ratio`.
 */
export function sampleCropBox(
  height: number,
  width: number,
  crop: Pick<CropParams, 'scale' | 'ratio'>,
  rng: Rng,
): CropBox {
  assertInteger(height, 1, 'image height');
  assertInteger(width, 1, 'image width');
  const area = height * width;
  const [smin, smax] = crop.scale;
  const [rmin, rmax] = crop.ratio;
  const logLo = Math.log(rmin);
  const logHi = Math.log(rmax);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(smin, smax);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y0 = rng.int(height - h + 1);
      const x0 = rng.int(width - w + 1);
      return { y0, x0, y1: y0 + h, x1: x0 + w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < rmin) {
    h = Math.min(height, Math.max(1, roundHalfEven(w / rmin)));
  } else if (inRatio > rmax) {
    w = Math.min(width, Math.max(1, roundHalfEven(h * rmax)));
  }
  const y0 = Math.floor((height - h) / 2);
  const x0 = Math.floor((width - w) / 2);
  return { y0, x0, y1: y0 + h, x1: x0 + w };
}

/**
 * Checks that `box` is a finite box with `y1 > y0` and `x1 > x0`, inside an
 * `height x width` image when the size is given.
 */
export function assertCropBox(box: CropBox, name: string, height?: number, width?: number): void {
  const vals = box && [box.y0, box.x0, box.y1, box.x1];
  const ok =
    vals !== undefined &&
    vals.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    box.y1 > box.y0 &&
    box.x1 > box.x0 &&
    (height === undefined || (box.y0 >= 0 && box.y1 <= height)) &&
    (width === undefined || (box.x0 >= 0 && box.x1 <= width));
  if (!ok) {
    const inside =
      height !== undefined && width !== undefined ? ` inside [0, ${height}] x [0, ${width}]` : '';
    throw new RangeError(
      `${name} must be a box {y0, x0, y1, x1} with y1 > y0, x1 > x0${inside}, got ${JSON.stringify(box)}`,
    );
  }
}

/**
 * The centres, in source coordinates, of the cells of a `gridH x gridW` grid laid over
 * a view (e.g. a backbone's feature map of that view): cell (a, b), covering view rows
 * `[a, a + 1) * S / gridH` and columns `[b, b + 1) * S / gridW`, has its centre at
 * `y = y0 + (a + 0.5) / gridH * (y1 - y0)` and
 * `x = x0 + (b + 0.5) / gridW * (x1 - x0)`, or `x = x1 - (b + 0.5) / gridW * (x1 - x0)`
 * when the view is flipped. The result does not depend on the view size.
 *
 * @returns a Float32Array of length `2 * gridH * gridW`: for region `n = a * gridW + b`
 *   (row-major, the order of a reshaped [H, W, C] map), `y` at `2n` and `x` at `2n + 1`.
 */
export function regionCentres(
  box: CropBox,
  flipped: boolean,
  gridH: number,
  gridW: number,
): Float32Array {
  assertCropBox(box, 'box');
  assertInteger(gridH, 1, 'gridH');
  assertInteger(gridW, 1, 'gridW');
  if (typeof flipped !== 'boolean')
    throw new TypeError(`flipped must be a boolean, got ${String(flipped)}`);
  const out = new Float32Array(2 * gridH * gridW);
  const bh = box.y1 - box.y0;
  const bw = box.x1 - box.x0;
  for (let a = 0; a < gridH; a++) {
    const y = box.y0 + ((a + 0.5) / gridH) * bh;
    for (let b = 0; b < gridW; b++) {
      const t = ((b + 0.5) / gridW) * bw;
      const n = a * gridW + b;
      out[2 * n] = y;
      out[2 * n + 1] = flipped ? box.x1 - t : box.x0 + t;
    }
  }
  return out;
}
