import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import type { ImageDraw, ViewParams } from '@ediy/augment';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyAugmentations,
  augmentBatch,
  blurRadius,
  BYOL_VIEWS,
  byolViewParams,
  byolViews,
  cropResizeFlip,
  drawAugmentations,
  gaussianBlur,
  grayscale,
  IMAGENET_NORMALIZE,
  normalizeImages,
  solarize,
} from '@ediy/augment';
import { BACKENDS, maxDiff, values } from './helpers.js';

/** A view where every op fires about half the time, at a size with a 5-tap blur. */
function busyView(size: number): ViewParams {
  return {
    crop: { size, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
    flipProb: 0.5,
    colorJitter: { prob: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleProb: 0.3,
    blur: { prob: 0.5, sigma: [0.1, 2], kernelFraction: 0.5 },
    solarizeProb: 0.5,
    normalize: IMAGENET_NORMALIZE,
  };
}

function randomImages(B: number, H: number, W: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([B, H, W, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** The same view computed one image at a time with the exported ops, in the documented order. */
function referenceView(images: tf.Tensor4D, draws: ImageDraw[], params: ViewParams): tf.Tensor4D {
  const fns = {
    brightness: adjustBrightness,
    contrast: adjustContrast,
    saturation: adjustSaturation,
    hue: adjustHue,
  };
  return tf.tidy(() => {
    const outs = draws.map((d, i) => {
      const one = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      let x = cropResizeFlip(one, [d.box], [d.flipped], params.crop.size);
      if (d.jitter.applied) for (const op of d.jitter.order) x = fns[op](x, [d.jitter[op]]);
      if (d.grayscale) x = grayscale(x);
      if (d.blurSigma !== null) x = gaussianBlur(x, [d.blurSigma], blurRadius(params));
      if (d.solarize) x = solarize(x);
      return params.normalize ? normalizeImages(x, params.normalize) : x;
    });
    return tf.concat(outs, 0) as tf.Tensor4D;
  });
}

describe('view params', () => {
  it('BYOL_VIEWS differ only in blur.prob and solarizeProb, as the BYOL paper', () => {
    const [a, b] = BYOL_VIEWS;
    expect(a.blur.prob).toBe(1);
    expect(b.blur.prob).toBe(0.1);
    expect(a.solarizeProb).toBe(0);
    expect(b.solarizeProb).toBe(0.2);
    expect({ ...b, blur: { ...b.blur, prob: 1 }, solarizeProb: 0 }).toEqual(a);
    expect(a.crop).toEqual({ size: 224, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });
    expect(a.colorJitter).toEqual({
      prob: 0.8,
      brightness: 0.4,
      contrast: 0.4,
      saturation: 0.2,
      hue: 0.1,
    });
    expect(a.grayscaleProb).toBe(0.2);
    expect(a.flipProb).toBe(0.5);
    expect(blurRadius(a)).toBe(11); // a 23-tap kernel at 224 px
    expect(Object.isFrozen(a.crop)).toBe(true);
  });

  it('byolViewParams makes the preset at another size, optionally scaling sigma', () => {
    const [a, b] = byolViewParams(64);
    expect(a.crop.size).toBe(64);
    expect(b.crop.size).toBe(64);
    expect(a.blur.sigma).toEqual([0.1, 2]);
    expect(blurRadius(a)).toBe(3);
    const [s] = byolViewParams(112, { scaleBlurSigma: true });
    expect(s.blur.sigma).toEqual([0.05, 1]);
    expect(() => byolViewParams(0)).toThrow('view size must be an integer >= 1, got 0');
  });

  it('rejects bad params with errors naming the field, value and expectation', () => {
    const base = BYOL_VIEWS[0];
    const rng = new Rng(0);
    const draw = (p: ViewParams) => drawAugmentations(1, 8, 8, p, rng);
    expect(() => draw({ ...base, crop: { ...base.crop, scale: [0, 1] } })).toThrow(
      'view.crop.scale must be a pair [lo, hi] with 0 < lo <= hi <= 1, got [0,1]',
    );
    expect(() => draw({ ...base, crop: { ...base.crop, scale: [0.5, 1.2] } })).toThrow(
      /view.crop.scale .* got \[0.5,1.2\]/,
    );
    expect(() => draw({ ...base, crop: { ...base.crop, scale: [0.8, 0.5] } })).toThrow(/lo <= hi/);
    expect(() => draw({ ...base, crop: { ...base.crop, ratio: [-1, 1] } })).toThrow(
      /view.crop.ratio .* got \[-1,1\]/,
    );
    expect(() => draw({ ...base, crop: { ...base.crop, size: 2.5 } })).toThrow(
      'view.crop.size must be an integer >= 1, got 2.5',
    );
    expect(() => draw({ ...base, flipProb: 1.5 })).toThrow(
      'view.flipProb must be a number in [0, 1], got 1.5',
    );
    expect(() => draw({ ...base, solarizeProb: -0.1 })).toThrow(
      'view.solarizeProb must be a number in [0, 1], got -0.1',
    );
    expect(() => draw({ ...base, grayscaleProb: Number.NaN })).toThrow(
      'view.grayscaleProb must be a number in [0, 1], got NaN',
    );
    expect(() => draw({ ...base, blur: { ...base.blur, prob: 2 } })).toThrow(
      'view.blur.prob must be a number in [0, 1], got 2',
    );
    expect(() => draw({ ...base, blur: { ...base.blur, sigma: [0, 2] } })).toThrow(
      /view.blur.sigma .* 0 < lo/,
    );
    expect(() => draw({ ...base, blur: { ...base.blur, kernelFraction: 1 } })).toThrow(
      'view.blur.kernelFraction must be a number in [0, 1), got 1',
    );
    expect(() => draw({ ...base, colorJitter: { ...base.colorJitter, prob: 1.01 } })).toThrow(
      'view.colorJitter.prob must be a number in [0, 1], got 1.01',
    );
    expect(() => draw({ ...base, colorJitter: { ...base.colorJitter, hue: 0.6 } })).toThrow(
      'view.colorJitter.hue must be a number in [0, 0.5], got 0.6',
    );
    expect(() => draw({ ...base, colorJitter: { ...base.colorJitter, brightness: -1 } })).toThrow(
      /view.colorJitter.brightness must be a number in \[0, Infinity\], got -1/,
    );
    expect(() => draw({ ...base, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow(
      'view.normalize.std must be three finite numbers (R, G, B) > 0, got [1,0,1]',
    );
  });
});

describe('drawAugmentations', () => {
  it('draws every factor in its range and each op at its probability', () => {
    const params = busyView(16);
    const n = 4000;
    const draws = drawAugmentations(n, 32, 32, params, new Rng(21));
    const freq = (f: (d: ImageDraw) => boolean) => draws.filter(f).length / n;
    for (const d of draws) {
      expect(d.jitter.brightness).toBeGreaterThanOrEqual(0.6);
      expect(d.jitter.brightness).toBeLessThan(1.4);
      expect(d.jitter.contrast).toBeGreaterThanOrEqual(0.6);
      expect(d.jitter.contrast).toBeLessThan(1.4);
      expect(d.jitter.saturation).toBeGreaterThanOrEqual(0.8);
      expect(d.jitter.saturation).toBeLessThan(1.2);
      expect(Math.abs(d.jitter.hue)).toBeLessThanOrEqual(0.1);
      expect([...d.jitter.order].sort()).toEqual(['brightness', 'contrast', 'hue', 'saturation']);
      if (d.blurSigma !== null) {
        expect(d.blurSigma).toBeGreaterThanOrEqual(0.1);
        expect(d.blurSigma).toBeLessThan(2);
      }
    }
    expect(freq((d) => d.flipped)).toBeCloseTo(0.5, 1);
    expect(freq((d) => d.jitter.applied)).toBeCloseTo(0.8, 1);
    expect(freq((d) => d.grayscale)).toBeCloseTo(0.3, 1);
    expect(freq((d) => d.blurSigma !== null)).toBeCloseTo(0.5, 1);
    expect(freq((d) => d.solarize)).toBeCloseTo(0.5, 1);
    // all 24 orders occur, roughly uniformly
    const orders = new Map<string, number>();
    for (const d of draws)
      orders.set(d.jitter.order.join(), (orders.get(d.jitter.order.join()) ?? 0) + 1);
    expect(orders.size).toBe(24);
    for (const c of orders.values()) expect(c / n).toBeCloseTo(1 / 24, 1);
    const mean = (k: 'brightness' | 'hue') => draws.reduce((s, d) => s + d.jitter[k], 0) / n;
    expect(mean('brightness')).toBeCloseTo(1, 1);
    expect(mean('hue')).toBeCloseTo(0, 1);
  });

  it('is deterministic in the stream and differs between seeds', () => {
    const p = busyView(16);
    expect(drawAugmentations(8, 20, 20, p, new Rng(4))).toEqual(
      drawAugmentations(8, 20, 20, p, new Rng(4)),
    );
    expect(drawAugmentations(8, 20, 20, p, new Rng(4))).not.toEqual(
      drawAugmentations(8, 20, 20, p, new Rng(5)),
    );
  });

  it('keeps the crop boxes when only a probability changes', () => {
    const p = busyView(16);
    const q = { ...p, solarizeProb: 0.9, blur: { ...p.blur, prob: 0.1 } };
    const a = drawAugmentations(8, 20, 20, p, new Rng(4)).map((d) => d.box);
    const b = drawAugmentations(8, 20, 20, q, new Rng(4)).map((d) => d.box);
    expect(a).toEqual(b);
  });
});

describe.each(BACKENDS)('augmentBatch on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend });
  });
  beforeEach(() => tf.engine().startScope());
  afterEach(() => tf.engine().endScope());

  it('equals the ops applied one image at a time in the documented order', () => {
    const params = busyView(10);
    const images = randomImages(12, 14, 12, 1);
    const draws = drawAugmentations(12, 14, 12, params, new Rng(2));
    // the draws exercise every branch
    expect(draws.some((d) => d.jitter.applied) && draws.some((d) => !d.jitter.applied)).toBe(true);
    expect(
      draws.some((d) => d.blurSigma !== null) &&
        draws.some((d) => d.solarize) &&
        draws.some((d) => d.grayscale),
    ).toBe(true);
    const view = applyAugmentations(images, draws, params);
    const ref = referenceView(images, draws, params);
    expect(view.images.shape).toEqual([12, 10, 10, 3]);
    expect(maxDiff(values(view.images), values(ref))).toBeLessThan(1e-4);
    expect(view.boxes).toEqual(draws.map((d) => d.box));
    expect(view.flipped).toEqual(draws.map((d) => d.flipped));
  });

  it('gives the same views for the same seed and different views for another', () => {
    const images = randomImages(4, 12, 12, 3);
    const p = busyView(8);
    const a = augmentBatch(images, p, new Rng(7));
    const b = augmentBatch(images, p, new Rng(7));
    const c = augmentBatch(images, p, new Rng(8));
    expect(values(a.images)).toEqual(values(b.images));
    expect(a.boxes).toEqual(b.boxes);
    expect(maxDiff(values(a.images), values(c.images))).toBeGreaterThan(0.05);
  });

  it('keeps values in [0, 1] before normalisation, and normalises with (x - mean) / std', () => {
    const images = randomImages(6, 12, 12, 4);
    const raw = { ...busyView(8), normalize: null };
    const a = values(augmentBatch(images, raw, new Rng(1)).images);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
    const n = values(augmentBatch(images, busyView(8), new Rng(1)).images);
    const { mean, std } = IMAGENET_NORMALIZE;
    expect(
      maxDiff(
        n,
        a.map((v, i) => (v - mean[i % 3]!) / std[i % 3]!),
      ),
    ).toBeLessThan(1e-5);
  });

  it('grayscale p 1 gives equal channels; solarize p 1 leaves nothing above 0.5', () => {
    const images = randomImages(4, 10, 10, 5);
    const base = {
      ...busyView(6),
      normalize: null,
      blur: { prob: 0, sigma: [1, 1] as const, kernelFraction: 0.5 },
    };
    const g = values(
      augmentBatch(images, { ...base, grayscaleProb: 1, solarizeProb: 0 }, new Rng(1)).images,
    );
    for (let i = 0; i < g.length; i += 3) {
      expect(g[i]).toBe(g[i + 1]);
      expect(g[i]).toBe(g[i + 2]);
    }
    const s = values(
      augmentBatch(images, { ...base, grayscaleProb: 0, solarizeProb: 1 }, new Rng(1)).images,
    );
    expect(Math.max(...s)).toBeLessThanOrEqual(0.5);
    const blurred = augmentBatch(
      tf.fill([2, 10, 10, 3], 0.3) as tf.Tensor4D,
      {
        ...base,
        colorJitter: { ...base.colorJitter, prob: 0 },
        grayscaleProb: 0,
        solarizeProb: 0,
        blur: { prob: 1, sigma: [0.1, 2], kernelFraction: 0.5 },
      },
      new Rng(1),
    );
    expect(maxDiff(values(blurred.images), new Array(2 * 6 * 6 * 3).fill(0.3))).toBeLessThan(1e-6);
  });

  it('rejects wrong ranks, channels, values outside [0, 1] and NaN, naming the problem', () => {
    const p = busyView(8);
    const rng = new Rng(0);
    expect(() => augmentBatch(tf.zeros([8, 8, 3]) as unknown as tf.Tensor4D, p, rng)).toThrow(
      'images must have rank 4 [B,H,W,3], got shape [8,8,3]',
    );
    expect(() => augmentBatch(tf.zeros([2, 8, 8, 4]) as tf.Tensor4D, p, rng)).toThrow(
      /dimension 3 is 4, expected 3/,
    );
    expect(() => augmentBatch(tf.fill([1, 8, 8, 3], 255) as tf.Tensor4D, p, rng)).toThrow(
      'images must have values in [0, 1], got values in [255, 255]',
    );
    const nan = tf.tensor4d([Number.NaN, ...new Array(47).fill(0.5)], [1, 4, 4, 3]);
    expect(() => augmentBatch(nan, p, rng)).toThrow(
      'images must contain finite values in [0, 1], found NaN or Infinity',
    );
    const images = randomImages(2, 8, 8, 1);
    expect(() => applyAugmentations(images, drawAugmentations(3, 8, 8, p, rng), p)).toThrow(
      'draws must have one ImageDraw per image (2), got 3',
    );
    const draws = drawAugmentations(2, 8, 8, p, rng);
    const badOrder = draws.map((d) => ({
      ...d,
      jitter: { ...d.jitter, order: ['hue', 'hue', 'contrast', 'brightness'] as const },
    }));
    expect(() => applyAugmentations(images, badOrder, p)).toThrow(
      'draws[0].jitter.order must be a permutation of brightness, contrast, saturation, hue, got ["hue","hue","contrast","brightness"]',
    );
    expect(() => augmentBatch(tf.zeros([0, 8, 8, 3]) as tf.Tensor4D, p, rng)).toThrow(
      'images must have at least one image of at least 1x1 pixels, got shape [0,8,8,3]',
    );
    expect(() =>
      augmentBatch(
        images,
        { ...p, blur: { ...p.blur, kernelFraction: 0.1 }, crop: { ...p.crop, size: 0 } },
        rng,
      ),
    ).toThrow('view.crop.size must be an integer >= 1, got 0');
  });

  it('byolViews gives two views drawn in turn from the stream, asymmetric as BYOL', () => {
    const images = randomImages(4, 16, 16, 6);
    const views = byolViewParams(8);
    const [a, b] = byolViews(images, new Rng(3), views);
    expect(a.images.shape).toEqual([4, 8, 8, 3]);
    expect(b.images.shape).toEqual([4, 8, 8, 3]);
    expect(a.boxes).not.toEqual(b.boxes);
    const rng = new Rng(3);
    const a2 = augmentBatch(images, views[0], rng);
    const b2 = augmentBatch(images, views[1], rng);
    expect(values(a.images)).toEqual(values(a2.images));
    expect(values(b.images)).toEqual(values(b2.images));
    expect(() => byolViews(images, new Rng(3), [views[0]] as never)).toThrow(
      'views must be a pair of ViewParams, got 1 views',
    );
  });
});

describe.each(BACKENDS)('memory on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend });
  });

  it('leaves only the returned views allocated, step after step', () => {
    const images = randomImages(4, 16, 16, 9);
    const rng = new Rng(1);
    const views = byolViewParams(8);
    const step = () => {
      const [a, b] = byolViews(images, rng, views);
      tf.dispose([a.images, b.images]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    const [a, b] = byolViews(images, rng, views);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([a.images, b.images, images]);
    // a failed call frees what it allocated
    const n = tf.memory().numTensors;
    const bad = tf.fill([1, 8, 8, 3], 2) as tf.Tensor4D;
    expect(() => byolViews(bad, rng, views)).toThrow(/values in \[0, 1\]/);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(n);
  });
});
