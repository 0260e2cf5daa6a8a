import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  grayscale,
  hsvToRgb,
  rgbToGrayscale,
  rgbToHsv,
  solarize,
} from '@ediy/augment';
import { BACKENDS, maxDiff, values } from './helpers.js';

/** Python's colorsys.rgb_to_hsv / hsv_to_rgb, an independent reference of the HSV maps. */
function refRgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) return [0, 0, maxc];
  const s = (maxc - minc) / maxc;
  const rc = (maxc - r) / (maxc - minc);
  const gc = (maxc - g) / (maxc - minc);
  const bc = (maxc - b) / (maxc - minc);
  let h = r === maxc ? bc - gc : g === maxc ? 2 + rc - bc : 4 + gc - rc;
  h = (((h / 6) % 1) + 1) % 1;
  return [h, s, maxc];
}

function refHsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (((i % 6) + 6) % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

const px = (...rgb: number[]) => tf.tensor4d(rgb, [rgb.length / 3, 1, 1, 3]);

describe.each(BACKENDS)('colour ops on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend });
  });
  beforeEach(() => tf.engine().startScope());
  afterEach(() => tf.engine().endScope());

  it('grayscale uses ITU-R 601 luma and gives equal channels', () => {
    const x = px(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.2, 0.4, 0.6);
    const luma = values(rgbToGrayscale(x));
    expect(
      maxDiff(luma, [0.299, 0.587, 0.114, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6]),
    ).toBeLessThan(1e-6);
    const g = values(grayscale(x));
    for (let i = 0; i < 4; i++) {
      expect(g[3 * i]).toBe(g[3 * i + 1]);
      expect(g[3 * i]).toBe(g[3 * i + 2]);
      expect(g[3 * i]).toBeCloseTo(luma[i] as number, 6);
    }
  });

  it('brightness multiplies by each image factor and clamps to [0, 1]', () => {
    const x = px(0.5, 0.2, 0.9, 0.5, 0.2, 0.9);
    const y = values(adjustBrightness(x, [1.4, 0.6]));
    expect(maxDiff(y, [0.7, 0.28, 1, 0.3, 0.12, 0.54])).toBeLessThan(1e-6);
  });

  it('contrast blends each image with its mean luma (hand values)', () => {
    // image of 2 pixels: (0.2, 0.2, 0.2) and (0.6, 0.6, 0.6): mean luma 0.4 (weights sum to 1)
    const x = tf.tensor4d([0.2, 0.2, 0.2, 0.6, 0.6, 0.6], [1, 1, 2, 3]);
    const y = values(adjustContrast(x, [1.5]));
    // 1.5 * 0.2 - 0.5 * 0.4 = 0.1 ; 1.5 * 0.6 - 0.5 * 0.4 = 0.7
    expect(maxDiff(y, [0.1, 0.1, 0.1, 0.7, 0.7, 0.7])).toBeLessThan(1e-6);
    const flat = values(adjustContrast(x, [0]));
    expect(maxDiff(flat, [0.4, 0.4, 0.4, 0.4, 0.4, 0.4])).toBeLessThan(1e-6);
  });

  it('saturation blends each pixel with its luma', () => {
    const x = px(0.8, 0.4, 0.2);
    const l = 0.299 * 0.8 + 0.587 * 0.4 + 0.114 * 0.2;
    const y = values(adjustSaturation(x, [1.2]));
    expect(
      maxDiff(y, [1.2 * 0.8 - 0.2 * l, 1.2 * 0.4 - 0.2 * l, 1.2 * 0.2 - 0.2 * l]),
    ).toBeLessThan(1e-6);
    const g = values(adjustSaturation(x, [0]));
    expect(maxDiff(g, [l, l, l])).toBeLessThan(1e-6);
  });

  it('solarize inverts only values >= 0.5', () => {
    const x = px(0.1, 0.49, 0.5, 0.75, 1, 0);
    expect(maxDiff(values(solarize(x)), [0.1, 0.49, 0.5, 0.25, 0, 0])).toBeLessThan(1e-6);
    expect(maxDiff(values(solarize(x, 0.7)), [0.1, 0.49, 0.5, 0.25, 0, 0])).toBeLessThan(1e-6);
    expect(maxDiff(values(solarize(x, 0.8)), [0.1, 0.49, 0.5, 0.75, 0, 0])).toBeLessThan(1e-6);
  });

  it('HSV conversions agree with colorsys and invert each other', () => {
    const n = 64;
    const data = Float32Array.from({ length: n * 3 }, (_, i) => ((i * 37) % 101) / 100);
    data.set([0.3, 0.3, 0.3, 1, 0, 0, 0, 1, 1, 0.5, 0.5, 0], 0); // gray, red, cyan, yellow
    const x = tf.tensor4d(data, [n, 1, 1, 3]);
    const hsv = values(rgbToHsv(x));
    const ref = Array.from({ length: n }, (_, i) =>
      refRgbToHsv(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!),
    ).flat();
    expect(maxDiff(hsv, ref)).toBeLessThan(1e-5);
    expect(hsv.slice(0, 12).map((v) => Math.round(v * 1e5) / 1e5)).toEqual(
      [0, 0, 0.3, 0, 1, 1, 0.5, 1, 1, 1 / 6, 1, 0.5].map((v) => Math.round(v * 1e5) / 1e5),
    );
    expect(maxDiff(values(hsvToRgb(rgbToHsv(x))), data)).toBeLessThan(1e-5);
    const hsvT = tf.tensor4d(Float32Array.from(ref), [n, 1, 1, 3]);
    const back = Array.from({ length: n }, (_, i) =>
      refHsvToRgb(ref[3 * i]!, ref[3 * i + 1]!, ref[3 * i + 2]!),
    ).flat();
    expect(maxDiff(values(hsvToRgb(hsvT)), back)).toBeLessThan(1e-5);
  });

  it('hue rotates by each image shift, modulo one turn', () => {
    // red + 1/3 turn = green; red - 1/3 turn = blue; shifts per image
    const x = px(1, 0, 0, 1, 0, 0, 0.5, 0.25, 0.25);
    const y = values(adjustHue(x, [1 / 3, -1 / 3, 0.5]));
    // (0.5, 0.25, 0.25): h 0, s 0.5, v 0.5 -> h 0.5: (0.25, 0.5, 0.5)
    expect(maxDiff(y, [0, 1, 0, 0, 0, 1, 0.25, 0.5, 0.5])).toBeLessThan(1e-5);
    // keeps value (max) and saturation of every pixel
    const data = Float32Array.from({ length: 30 }, (_, i) => ((i * 53) % 97) / 96);
    const z = tf.tensor4d(data, [10, 1, 1, 3]);
    const shifts = Array.from({ length: 10 }, (_, i) => -0.1 + 0.02 * i);
    const rot = values(rgbToHsv(adjustHue(z, shifts)));
    const orig = values(rgbToHsv(z));
    for (let i = 0; i < 10; i++) {
      expect(rot[3 * i + 1]).toBeCloseTo(orig[3 * i + 1] as number, 4);
      expect(rot[3 * i + 2]).toBeCloseTo(orig[3 * i + 2] as number, 5);
      const dh =
        (((((rot[3 * i] as number) - (orig[3 * i] as number) - shifts[i]!) % 1) + 1.5) % 1) - 0.5;
      if ((orig[3 * i + 1] as number) > 0) expect(Math.abs(dh)).toBeLessThan(1e-4);
    }
  });

  it('rejects wrong ranks, channels, dtypes and factor counts, naming the value', () => {
    const x = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    expect(() => adjustBrightness(x, [1])).toThrow(
      'brightness factors must have one number per image (2), got 1',
    );
    expect(() => adjustContrast(x, [1, Number.NaN])).toThrow(
      'contrast factors[1] must be a finite number, got NaN',
    );
    expect(() => rgbToGrayscale(tf.zeros([2, 4, 4, 1]) as tf.Tensor4D)).toThrow(
      /images must have shape \[B,H,W,3\], got \[2,4,4,1\]/,
    );
    expect(() => solarize(tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D)).toThrow(
      /images must have rank 4/,
    );
    expect(() => grayscale(tf.zeros([1, 2, 2, 3], 'int32') as tf.Tensor4D)).toThrow(
      'images must have dtype float32 (values in [0, 1]), got int32',
    );
    expect(() => solarize(x, 2)).toThrow('solarize threshold must be a number in [0, 1], got 2');
  });
});
