/**
 * The fused update kernels (`UPDATE_KERNELS`): every variable's LARS step and every
 * pair's EMA update in one call. The same bits as the tfjs-op composition on this engine
 * (written out here as `@ediy/optim` composes it; that package's tests compare with its
 * own code), with one and two threads; bad input named; nothing leaked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { UPDATE_KERNELS } from '@ediy/backend-native';
import { availability, initBoth, randomValues, runOn } from './helpers.js';

const describeNative = describe.skipIf(!availability.available);

// Around the native Sum's block threshold (32768 values) and a few small ones.
const SHAPES: number[][] = [[1], [9], [3, 3, 3, 5], [32767], [32768], [3, 3, 64, 64], [40001]];

interface Hyper {
  learningRate: number;
  momentum: number;
  weightDecay: number;
  eta: number;
  clip: boolean;
}

/** `@ediy/optim`'s larsStep, op for op. */
function composedLars(w: tf.Tensor, g: tf.Tensor, v: tf.Tensor, h: Hyper, excluded: boolean) {
  return tf.tidy(() => {
    let u = g;
    if (!excluded) {
      u = tf.add(g, tf.mul(tf.scalar(h.weightDecay), w));
      const wNorm = tf.sqrt(tf.sum(tf.square(w)));
      const uNorm = tf.sqrt(tf.sum(tf.square(u)));
      const clip = h.clip && h.learningRate > 0;
      let ratio = tf.div(tf.mul(tf.scalar(clip ? h.eta / h.learningRate : h.eta), wNorm), uNorm);
      if (clip) ratio = tf.minimum(ratio, tf.scalar(1));
      const both = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
      u = tf.mul(tf.where(both, ratio, tf.onesLike(ratio)), u);
    }
    const vNext = tf.add(tf.mul(tf.scalar(h.momentum), v), u);
    return [tf.sub(w, tf.mul(tf.scalar(h.learningRate), vNext)), vNext];
  });
}

/**
 * 32768 values whose squares sum in double to a float32 tie (2.25 + 2^-23) in order, and
 * just above it over the native Sum's 64 blocks (the 2^-60 squares of the later blocks
 * are kept there, lost one by one in order): the norm is 1.5 or 1.5 + 2^-23 depending on
 * how the sum is cut.
 */
function tie(): Float32Array {
  const w = new Float32Array(32768);
  w[0] = 1.5;
  w[1] = 2 ** -12;
  w[2] = 2 ** -12;
  return w.fill(2 ** -30, 512);
}

function larsInputs(seed: number, zeroW = -1): tf.NamedTensorMap {
  const inputs: tf.NamedTensorMap = {};
  SHAPES.forEach((shape, i) => {
    const w =
      shape[0] === 32768
        ? tie()
        : randomValues(seed + i, shape).map((x) => (i === zeroW ? 0 : 0.1 * x));
    inputs[`w${i}`] = tf.tensor(w, shape);
    inputs[`g${i}`] = tf.tensor(
      randomValues(seed + 50 + i, shape).map((x) => 1e-3 * x),
      shape,
    );
    inputs[`v${i}`] = tf.tensor(
      randomValues(seed + 90 + i, shape).map((x) => 1e-2 * x),
      shape,
    );
  });
  return inputs;
}

// rank 1 excluded, as LARS's default predicate does, except the tie above
const excluded = SHAPES.map((s) => s.length === 1 && s[0] !== 32768);

function fusedLars(h: Hyper, zeroW = -1): tf.Tensor[] {
  const inputs = larsInputs(3, zeroW);
  const outs = tf.engine().runKernel(UPDATE_KERNELS.lars, inputs, {
    ...h,
    excluded,
  }) as tf.Tensor[];
  tf.dispose(Object.values(inputs));
  return outs;
}

function expectedLars(h: Hyper, zeroW = -1): tf.Tensor[] {
  const inputs = larsInputs(3, zeroW);
  const outs = SHAPES.flatMap((_, i) =>
    composedLars(
      inputs[`w${i}`] as tf.Tensor,
      inputs[`g${i}`] as tf.Tensor,
      inputs[`v${i}`] as tf.Tensor,
      h,
      excluded[i] === true,
    ),
  );
  tf.dispose(Object.values(inputs));
  return outs;
}

function emaInputs(): tf.NamedTensorMap {
  const inputs: tf.NamedTensorMap = {};
  SHAPES.forEach((shape, i) => {
    inputs[`t${i}`] = tf.tensor(randomValues(200 + i, shape), shape);
    inputs[`o${i}`] = tf.tensor(randomValues(300 + i, shape), shape);
  });
  return inputs;
}

function fusedEma(tau: number): tf.Tensor[] {
  const inputs = emaInputs();
  const outs = tf.engine().runKernel(UPDATE_KERNELS.ema, inputs, {
    tau,
    count: SHAPES.length,
  }) as tf.Tensor[];
  tf.dispose(Object.values(inputs));
  return outs;
}

function expectedEma(tau: number): tf.Tensor[] {
  const inputs = emaInputs();
  const outs = tf.tidy(() =>
    SHAPES.map((_, i) =>
      tf.add(
        tf.mul(tf.scalar(tau), inputs[`t${i}`] as tf.Tensor),
        tf.mul(tf.scalar(1 - tau), inputs[`o${i}`] as tf.Tensor),
      ),
    ),
  );
  tf.dispose(Object.values(inputs));
  return outs;
}

async function expectSameBits(
  threads: number,
  got: () => tf.Tensor[],
  want: () => tf.Tensor[],
): Promise<void> {
  await initBoth(threads);
  const a = await runOn('wasm', got);
  const b = await runOn('wasm', want);
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    const y = b[i] as Float32Array;
    const bad = x.findIndex((v, k) => !Object.is(v, y[k]));
    expect(bad, `output ${i}: ${x[bad]} fused, ${y[bad]} composed at ${bad}`).toBe(-1);
  });
}

const HYPER: Hyper = {
  learningRate: 0.3,
  momentum: 0.9,
  weightDecay: 1.5e-6,
  eta: 1e-3,
  clip: false,
};

describeNative('UPDATE_KERNELS give the bits of the composition', () => {
  for (const threads of [1, 2]) {
    it(`LARS, unclipped, clipped, at lr 0 and with a zero weight (${threads} thread(s))`, async () => {
      for (const h of [
        HYPER,
        { ...HYPER, clip: true, eta: 0.02 },
        { ...HYPER, clip: true, learningRate: 0 },
        { ...HYPER, weightDecay: 0, momentum: 0 },
      ]) {
        await expectSameBits(
          threads,
          () => fusedLars(h, 2),
          () => expectedLars(h, 2),
        );
      }
    });
    it(`the EMA at several tau (${threads} thread(s))`, async () => {
      for (const tau of [0.996, 0.5, 0, 1]) {
        await expectSameBits(
          threads,
          () => fusedEma(tau),
          () => expectedEma(tau),
        );
      }
    });
  }
});

describeNative('UPDATE_KERNELS on bad input', () => {
  beforeAll(async () => {
    await initBoth(2);
    await tf.setBackend('wasm');
  });

  it('name the missing, mistyped or misshapen input and free their outputs', () => {
    const ids = () => tf.engine().backend.numDataIds();
    const w = tf.ones([2, 3]);
    const g = tf.ones([3, 2]);
    const n = tf.ones([2, 3], 'int32');
    const attrs = { ...HYPER, excluded: [false] };
    const start = ids();
    const run =
      (inputs: tf.NamedTensorMap, a: tf.NamedAttrMap = attrs) =>
      () =>
        tf.engine().runKernel(UPDATE_KERNELS.lars, inputs, a);
    expect(run({ w0: w, g0: w })).toThrow(/EdiyLarsUpdate: input 'v0' is missing/);
    expect(run({ w0: w, g0: g, v0: w })).toThrow(/input 'g0' has shape \[3,2\], expected \[2,3\]/);
    expect(run({ w0: w, g0: w, v0: n })).toThrow(/input 'v0' must be float32, got int32/);
    expect(run({ w0: w, g0: w, v0: w }, { ...attrs, learningRate: NaN })).toThrow(
      /attribute learningRate must be a finite number, got NaN/,
    );
    expect(run({ w0: w, g0: w, v0: w, w1: w })).toThrow(/4 inputs for 1 variables/);
    expect(() =>
      tf.engine().runKernel(UPDATE_KERNELS.ema, { t0: w, o0: g }, { tau: 0.5, count: 1 }),
    ).toThrow(/EdiyEmaUpdate: input 'o0' has shape \[3,2\], expected \[2,3\]/);
    expect(() =>
      tf.engine().runKernel(UPDATE_KERNELS.ema, { t0: w, o0: w }, { tau: 0.5, count: 2 }),
    ).toThrow(/2 inputs for 2 pairs/);
    expect(ids()).toBe(start);
    tf.dispose([w, g, n]);
  });

  it('leave only their outputs behind', () => {
    const before = tf.memory().numTensors;
    const outs = fusedLars(HYPER);
    expect(outs).toHaveLength(2 * SHAPES.length);
    expect(tf.memory().numTensors).toBe(before + 2 * SHAPES.length);
    tf.dispose(outs);
    const ema = fusedEma(0.9);
    expect(tf.memory().numTensors).toBe(before + SHAPES.length);
    tf.dispose(ema);
    expect(tf.memory().numTensors).toBe(before);
  });
});
