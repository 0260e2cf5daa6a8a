/**
 * The hue rotation in one kernel call (`HUE_KERNEL`, used by `@ediy/augment`'s
 * `adjustHue`): the same bits as that function's composition of tfjs ops on the cpu
 * backend and on this engine, with one and two threads; one kernel call where the
 * composition makes dozens; bad input named; nothing leaked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustHue } from '@ediy/augment';
import {
  HUE_KERNEL,
  enableNativeEngine,
  nativeKernelStats,
  replacedKernel,
  resetNativeKernelStats,
} from '@ediy/backend-native';
import { availability, initBoth, runOn } from './helpers.js';

const describeNative = describe.skipIf(!availability.available);

/** A seeded [B,H,W,3] batch in [0, 1] with grays, pure primaries, ties and zeros in it. */
function batch(seed: number, shape: [number, number, number, number]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  // special pixels at the start: gray, black, white, red, green, blue, two-way ties
  const special = [
    [0.5, 0.5, 0.5],
    [0, 0, 0],
    [1, 1, 1],
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [0.7, 0.7, 0.1],
    [0.2, 0.9, 0.9],
    [0.6, 0.3, 0.6],
    [1 / 3, 2 / 3, 0],
  ];
  special.forEach((p, i) => {
    if (3 * i + 2 < n) out.set(p, 3 * i);
  });
  return out;
}

/** Shifts in [-0.5, 0.5] with the ends and 0 among them. */
function shifts(seed: number, B: number): number[] {
  const fixed = [0, 0.5, -0.5, 1e-7, -0.25];
  let s = seed >>> 0;
  return Array.from({ length: B }, (_, i) => {
    s = (Math.imul(s, 22695477) + 1) >>> 0;
    return fixed[i] ?? s / 2 ** 32 - 0.5;
  });
}

const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 3],
  [3, 5, 7, 3],
  [6, 32, 32, 3], // 6,144 pixels: above the parallel threshold
  [64, 32, 32, 3],
];

/** adjustHue on `backend`; on wasm with `fused` false, the kernel unregistered for the call. */
async function hueOn(
  backend: string,
  x: Float32Array,
  shape: [number, number, number, number],
  d: number[],
  fused = true,
): Promise<Float32Array> {
  const kernel = tf.getKernel(HUE_KERNEL, 'wasm');
  if (!fused && kernel !== undefined) tf.unregisterKernel(HUE_KERNEL, 'wasm');
  try {
    const [out] = await runOn(backend, () => adjustHue(tf.tensor4d(x, shape), d));
    return out as Float32Array;
  } finally {
    if (!fused && kernel !== undefined) tf.registerKernel(kernel);
  }
}

function expectSameBits(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const bad = ua.findIndex((v, i) => v !== ub[i]);
  expect(bad, `${what}: first differing value at ${bad}: ${a[bad]} vs ${b[bad]}`).toBe(-1);
}

describeNative('the hue rotation kernel', () => {
  beforeAll(async () => {
    await initBoth(2);
  });
  afterAll(() => {
    enableNativeEngine({ threads: 2 });
  });

  it('is registered for wasm, and replaces no wasm kernel', () => {
    expect(tf.getKernel(HUE_KERNEL, 'wasm')).toBeDefined();
    expect(replacedKernel(HUE_KERNEL)).toBeUndefined();
  });

  for (const threads of [1, 2]) {
    it(`gives adjustHue's composition's bits (cpu, and this engine's ops), ${threads} thread(s)`, async () => {
      enableNativeEngine({ threads });
      for (const [i, shape] of SHAPES.entries()) {
        const x = batch(11 + i, shape);
        const d = shifts(7 + i, shape[0]);
        const fused = await hueOn('wasm', x, shape, d);
        const what = `[${shape.join(',')}]`;
        expectSameBits(fused, await hueOn('cpu', x, shape, d), `${what} vs cpu`);
        expectSameBits(fused, await hueOn('wasm', x, shape, d, false), `${what} vs wasm ops`);
      }
    });
  }

  it('gives the same bits with one thread and two', async () => {
    const shape: [number, number, number, number] = [64, 32, 32, 3];
    const x = batch(5, shape);
    const d = shifts(9, 64);
    enableNativeEngine({ threads: 1 });
    const one = await hueOn('wasm', x, shape, d);
    enableNativeEngine({ threads: 2 });
    expectSameBits(await hueOn('wasm', x, shape, d), one, 'two threads vs one');
  });

  it('rotates: a shift of 1/3 turns red into green, a shift of 0 keeps the image', async () => {
    const rgb = [1, 0, 0, 0.2, 0.4, 0.6];
    const out = await hueOn('wasm', new Float32Array(rgb), [2, 1, 1, 3], [1 / 3, 0]);
    const want = [0, 1, 0, 0.2, 0.4, 0.6];
    out.forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 6));
  });

  it('is one kernel call for adjustHue, where the composition makes dozens', async () => {
    await tf.setBackend('wasm');
    const x = batch(3, [4, 8, 8, 3]);
    const run = () => tf.tidy(() => adjustHue(tf.tensor4d(x, [4, 8, 8, 3]), [0.1, 0.2, 0.3, 0.4]));
    // tf.profile returns the same object each time: keep what it says before the next one
    const kernels = async () => [...(await tf.profile(() => run())).kernels.map((k) => k.name)];
    resetNativeKernelStats();
    const fused = await kernels();
    expect(nativeKernelStats().native[HUE_KERNEL]).toBe(1);
    const kernel = tf.getKernel(HUE_KERNEL, 'wasm');
    if (kernel === undefined) throw new Error('HUE_KERNEL is not registered');
    tf.unregisterKernel(HUE_KERNEL, 'wasm');
    try {
      const composed = await kernels();
      expect(fused).toContain(HUE_KERNEL);
      expect(fused.length).toBeLessThanOrEqual(3);
      expect(composed.length).toBeGreaterThan(40);
    } finally {
      tf.registerKernel(kernel);
    }
  });

  it('names bad input', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const run = (images: tf.Tensor, s: tf.Tensor) =>
        tf.engine().runKernel(HUE_KERNEL, { images, shifts: s });
      expect(() => run(tf.zeros([2, 4, 4, 3]), tf.zeros([3]))).toThrow(
        /input 'shifts' has shape \[3\], expected \[2\]/,
      );
      expect(() => run(tf.zeros([2, 4, 4, 4]), tf.zeros([2]))).toThrow(
        /images must be \[B,H,W,3\], got \[2,4,4,4\]/,
      );
      expect(() => run(tf.zeros([2, 4, 4, 3], 'int32'), tf.zeros([2]))).toThrow(
        /input 'images' must be float32, got int32/,
      );
    });
  });

  it('leaks no tensor', async () => {
    await tf.setBackend('wasm');
    const x = batch(1, [2, 4, 4, 3]);
    const before = tf.memory().numTensors;
    const images = tf.tensor4d(x, [2, 4, 4, 3]);
    adjustHue(images, [0.1, -0.2]).dispose();
    images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
