import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { gaussianBlur, gaussianKernel1d } from '@ediy/augment';
import { BACKENDS, maxDiff, values } from './helpers.js';

/** Direct 2-D reference: separable Gaussian with reflect padding, one image, one channel. */
function refBlur(img: number[][], sigma: number, r: number): number[][] {
  const k = Array.from({ length: 2 * r + 1 }, (_, t) => Math.exp(-0.5 * ((t - r) / sigma) ** 2));
  const s = k.reduce((a, b) => a + b, 0);
  const H = img.length;
  const W = img[0]!.length;
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const out: number[][] = [];
  for (let y = 0; y < H; y++) {
    const row: number[] = [];
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let a = -r; a <= r; a++) {
        for (let b = -r; b <= r; b++)
          acc += ((k[a + r]! * k[b + r]!) / (s * s)) * img[refl(y + a, H)]![refl(x + b, W)]!;
      }
      row.push(acc);
    }
    out.push(row);
  }
  return out;
}

describe('gaussianKernel1d', () => {
  it('is the normalised Gaussian (hand values)', () => {
    const e = Math.exp(-0.5);
    expect(
      maxDiff(gaussianKernel1d(1, 1), [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)]),
    ).toBeLessThan(1e-7);
    const k = gaussianKernel1d(2, 5);
    expect(k.length).toBe(11);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(k[0]).toBeCloseTo(k[10] as number, 7);
    expect(Array.from(gaussianKernel1d(0.7, 0))).toEqual([1]);
  });

  it('rejects sigma <= 0 and bad radii', () => {
    expect(() => gaussianKernel1d(0, 1)).toThrow('blur sigma must be a finite number > 0, got 0');
    expect(() => gaussianKernel1d(1, -1)).toThrow('blur radius must be an integer >= 0, got -1');
  });
});

describe.each(BACKENDS)('gaussianBlur on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend });
  });
  beforeEach(() => tf.engine().startScope());
  afterEach(() => tf.engine().endScope());

  it('matches a direct 2-D reference with reflect padding, each image with its own sigma', () => {
    const B = 3;
    const H = 6;
    const W = 5;
    const data = Float32Array.from({ length: B * H * W * 3 }, (_, i) => ((i * 29) % 31) / 30);
    const x = tf.tensor4d(data, [B, H, W, 3]);
    const sigmas = [0.3, 1, 2];
    const y = values(gaussianBlur(x, sigmas, 2));
    for (let i = 0; i < B; i++) {
      for (let c = 0; c < 3; c++) {
        const plane = Array.from({ length: H }, (_, r) =>
          Array.from({ length: W }, (_, q) => data[((i * H + r) * W + q) * 3 + c]!),
        );
        const ref = refBlur(plane, sigmas[i]!, 2);
        const got = Array.from({ length: H }, (_, r) =>
          Array.from({ length: W }, (_, q) => y[((i * H + r) * W + q) * 3 + c]!),
        );
        expect(maxDiff(got.flat(), ref.flat())).toBeLessThan(1e-5);
      }
    }
  });

  it('preserves a constant image', () => {
    const x = tf.fill([2, 8, 8, 3], 0.37) as tf.Tensor4D;
    const y = values(gaussianBlur(x, [0.5, 2], 3));
    expect(maxDiff(y, new Array(y.length).fill(0.37))).toBeLessThan(1e-6);
  });

  it('smooths more with a larger sigma and copies with radius 0', () => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 9 * 9 * 3 }, (_, i) => Math.floor(i / 3) % 2),
      [2, 9, 9, 3],
    );
    const y = gaussianBlur(x, [0.3, 2], 2);
    const variances = values(tf.moments(y, [1, 2, 3]).variance);
    expect(variances[1]).toBeLessThan((variances[0] as number) * 0.5);
    expect(values(gaussianBlur(x, [1, 1], 0))).toEqual(values(x));
  });

  it('rejects a radius too large for reflect padding and a wrong sigma count', () => {
    const x = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    expect(() => gaussianBlur(x, [1, 1], 4)).toThrow(
      'blur radius must be below the image height and width (4x4) for reflect padding, got 4',
    );
    expect(() => gaussianBlur(x, [1], 1)).toThrow(
      'blur sigmas must have one number per image (2), got 1',
    );
  });
});
