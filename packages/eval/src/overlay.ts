/**
 * Heat-map rendering: a jet-like colormap blended over an image, as RGBA bytes.
 */
import { assertInRange, type FloatInput, readFloat } from '@ediy/core';

/**
 * The jet-like colour of t in [0,1] (clamped): dark blue, blue, cyan, yellow, red,
 * dark red. r = clamp(1.5 - |4t - 3|), g = clamp(1.5 - |4t - 2|), b = clamp(1.5 - |4t - 1|).
 * @returns [r, g, b] in [0, 1].
 */
export function jet(t: number): [number, number, number] {
  const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1);
  const ch = (c: number): number => Math.min(Math.max(1.5 - Math.abs(4 * x - c), 0), 1);
  return [ch(3), ch(2), ch(1)];
}

/** Options of {@link overlayHeatmap}. */
export interface OverlayOptions {
  /** Weight of the heat colour: out = (1 - alpha) * image + alpha * jet(heat). Default 0.5. */
  alpha?: number;
  /**
   * Pixel values that map to black and white: `[lo, hi]` (default [0, 1]), or `auto`
   * for the image's own min and max (e.g. for mean/std-normalised inputs).
   */
  range?: readonly [number, number] | 'auto';
}

/**
 * Blends `heat` [H,W] (values in [0,1], clamped) over `image` [H,W,C] (C = 1 or 3)
 * with a jet colormap.
 * @returns RGBA bytes, H*W*4, row-major, alpha 255.
 */
export function overlayHeatmap(
  image: FloatInput,
  heat: FloatInput,
  options: OverlayOptions = {},
): Uint8Array {
  const alpha = options.alpha ?? 0.5;
  assertInRange(alpha, 0, 1, 'alpha');
  const img = readFloat(image, ['H', 'W', 'C'], 'image');
  const C = img.dims.C as number;
  if (C !== 1 && C !== 3) throw new Error(`image must have 1 or 3 channels [H,W,C], got C=${C}`);
  const H = img.dims.H as number;
  const W = img.dims.W as number;
  const hm = readFloat(heat, [H, W], 'heat');
  let lo = 0;
  let hi = 1;
  if (options.range === 'auto') {
    lo = Infinity;
    hi = -Infinity;
    for (const v of img.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  } else if (options.range !== undefined) {
    [lo, hi] = options.range;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) {
      throw new RangeError(`range must be [lo, hi] with finite lo < hi, got [${lo}, ${hi}]`);
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const out = new Uint8Array(H * W * 4);
  for (let p = 0; p < H * W; p++) {
    const colour = jet(hm.data[p] as number);
    for (let c = 0; c < 3; c++) {
      const raw = img.data[p * C + (C === 3 ? c : 0)] as number;
      const v = Math.min(Math.max((raw - lo) / span, 0), 1);
      out[p * 4 + c] = Math.round(255 * ((1 - alpha) * v + alpha * colour[c as 0 | 1 | 2]));
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}
