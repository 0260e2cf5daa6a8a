import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import type { CropBox } from '@ediy/augment';
import { augmentBatch, cropResizeFlip, regionCentres } from '@ediy/augment';
import { BACKENDS, coordinateImages, geometryOnly, values } from './helpers.js';

/** Where view pixel (u, v) samples the source, clamped to the outermost pixel centres. */
function expectedCentre(
  box: CropBox,
  flipped: boolean,
  S: number,
  u: number,
  v: number,
  H: number,
  W: number,
) {
  const y = box.y0 + ((u + 0.5) * (box.y1 - box.y0)) / S;
  const t = ((v + 0.5) * (box.x1 - box.x0)) / S;
  const x = flipped ? box.x1 - t : box.x0 + t;
  const clamp = (z: number, n: number) => Math.min(Math.max(z, 0.5), n - 0.5);
  return [clamp(y, H), clamp(x, W)] as const;
}

/** Largest error between the view's coordinate channels and the documented sample points. */
function boxError(
  view: number[],
  i: number,
  box: CropBox,
  flipped: boolean,
  S: number,
  H: number,
  W: number,
): number {
  let err = 0;
  for (let u = 0; u < S; u++) {
    for (let v = 0; v < S; v++) {
      const [y, x] = expectedCentre(box, flipped, S, u, v, H, W);
      const o = ((i * S + u) * S + v) * 3;
      err = Math.max(
        err,
        Math.abs((view[o] as number) * H - y),
        Math.abs((view[o + 1] as number) * W - x),
      );
    }
  }
  return err;
}

describe.each(BACKENDS)('crop geometry on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend });
  });

  it('samples each box exactly at the documented points, with and without flip', () => {
    const H = 7;
    const W = 9;
    const img = coordinateImages(1, H, W);
    const box = { y0: 1, x0: 2, y1: 6, x1: 5 };
    for (const flipped of [false, true]) {
      for (const S of [1, 3, 4, 13]) {
        const out = cropResizeFlip(img, [box], [flipped], S);
        expect(out.shape).toEqual([1, S, S, 3]);
        expect(boxError(values(out), 0, box, flipped, S, H, W)).toBeLessThan(1e-5);
        out.dispose();
      }
    }
    img.dispose();
  });

  it('returns the image itself for the full box at its own size, and its mirror when flipped', () => {
    const H = 6;
    const W = 6;
    const data = Float32Array.from({ length: 2 * H * W * 3 }, (_, i) => ((i * 7) % 13) / 12);
    const img = tf.tensor4d(data, [2, H, W, 3]);
    const full = { y0: 0, x0: 0, y1: H, x1: W };
    const out = cropResizeFlip(img, [full, full], [false, true], W);
    const v = values(out);
    const mirrored = values(tf.reverse(img, 2));
    for (let k = 0; k < H * W * 3; k++) {
      expect(v[k]).toBeCloseTo(data[k] as number, 5);
      expect(v[H * W * 3 + k]).toBeCloseTo(mirrored[H * W * 3 + k] as number, 5);
    }
    tf.dispose([img, out]);
  });

  it('repeats edge pixels when upsampling a box at the image border', () => {
    const img = coordinateImages(1, 4, 4);
    // a 2x2 box in the corner resized to 8x8: the first sample lies at 0.125, left of the 0.5 centre
    const out = cropResizeFlip(img, [{ y0: 0, x0: 0, y1: 2, x1: 2 }], [false], 8);
    const v = values(out);
    expect(v[0]).toBeCloseTo(0.5 / 4, 6);
    expect(v[1]).toBeCloseTo(0.5 / 4, 6);
    // sample 3 is at 0.875 -> 0.875 / 4, inside: interpolated, not clamped
    expect(v[3 * 3]).toBeCloseTo(0.5 / 4, 6);
    expect(v[3 * 3 + 1]).toBeCloseTo(0.875 / 4, 6);
    tf.dispose([img, out]);
  });

  it('records boxes and flips that match the pixels of every view', () => {
    const B = 6;
    const H = 12;
    const W = 10;
    const S = 5;
    const img = coordinateImages(B, H, W);
    const view = augmentBatch(img, geometryOnly(S), new Rng(3));
    const v = values(view.images);
    expect(view.flipped.some((f) => f)).toBe(true);
    expect(view.flipped.some((f) => !f)).toBe(true);
    for (let i = 0; i < B; i++) {
      expect(
        boxError(v, i, view.boxes[i] as CropBox, view.flipped[i] as boolean, S, H, W),
      ).toBeLessThan(1e-5);
      // the third channel identifies the source image: views stay in batch order
      expect(v[i * S * S * 3 + 2]).toBeCloseTo((i + 1) / (B + 1), 6);
    }
    tf.dispose([img, view.images]);
  });

  it('regionCentres gives the mean source position of each grid cell of the view', () => {
    const B = 4;
    const H = 20;
    const W = 24;
    const S = 8;
    const img = coordinateImages(B, H, W);
    // scale >= 0.5 keeps every sample point inside the pixel centres for a 20x24 source: no clamping
    const params = {
      ...geometryOnly(S),
      crop: { size: S, scale: [0.5, 1] as const, ratio: [3 / 4, 4 / 3] as const },
    };
    const view = augmentBatch(img, params, new Rng(8));
    const cells = tf.avgPool(view.images, 4, 4, 'valid'); // 2x2 grid
    const v = values(cells);
    for (let i = 0; i < B; i++) {
      const c = regionCentres(view.boxes[i] as CropBox, view.flipped[i] as boolean, 2, 2);
      for (let n = 0; n < 4; n++) {
        expect((v[(i * 4 + n) * 3] as number) * H).toBeCloseTo(c[2 * n] as number, 3);
        expect((v[(i * 4 + n) * 3 + 1] as number) * W).toBeCloseTo(c[2 * n + 1] as number, 3);
      }
    }
    tf.dispose([img, view.images, cells]);
  });

  it('rejects boxes outside the image and mismatched lists', () => {
    const img = coordinateImages(2, 4, 4);
    const ok = { y0: 0, x0: 0, y1: 4, x1: 4 };
    expect(() =>
      cropResizeFlip(img, [ok, { y0: 0, x0: 0, y1: 5, x1: 4 }], [false, false], 2),
    ).toThrow(/boxes\[1\] must be a box .* inside \[0, 4\] x \[0, 4\]/);
    expect(() => cropResizeFlip(img, [ok], [false, false], 2)).toThrow(
      'boxes must have one CropBox per image (2), got 1',
    );
    expect(() => cropResizeFlip(img, [ok, ok], [false], 2)).toThrow(
      'flipped must have one boolean per image (2), got 1',
    );
    expect(() => cropResizeFlip(img, [ok, ok], [false, false], 0)).toThrow(
      'crop size must be an integer >= 1, got 0',
    );
    img.dispose();
  });
});
