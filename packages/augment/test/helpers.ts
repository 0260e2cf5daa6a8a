import * as tf from '@tensorflow/tfjs-core';
import type { ViewParams } from '@ediy/augment';

/** The backends every tensor test runs on. */
export const BACKENDS = ['wasm', 'cpu'] as const;

/**
 * An image whose pixel (r, c) holds its own centre: channel 0 = (r + 0.5) / H,
 * channel 1 = (c + 0.5) / W, channel 2 = a per-image constant (i + 1) / (B + 1).
 */
export function coordinateImages(B: number, H: number, W: number): tf.Tensor4D {
  const data = new Float32Array(B * H * W * 3);
  for (let i = 0; i < B; i++) {
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const o = ((i * H + r) * W + c) * 3;
        data[o] = (r + 0.5) / H;
        data[o + 1] = (c + 0.5) / W;
        data[o + 2] = (i + 1) / (B + 1);
      }
    }
  }
  return tf.tensor4d(data, [B, H, W, 3]);
}

/** A view that only crops (and flips with `flipProb`): no colour ops, no normalisation. */
export function geometryOnly(size: number, flipProb = 0.5): ViewParams {
  return {
    crop: { size, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
    flipProb,
    colorJitter: { prob: 0, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleProb: 0,
    blur: { prob: 0, sigma: [0.1, 2], kernelFraction: 0.1 },
    solarizeProb: 0,
    normalize: null,
  };
}

/** Reads a tensor as a flat number array. */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Max absolute difference of two equal-length arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
