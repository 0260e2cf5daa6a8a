/**
 * The native element-wise, copying and reduction kernels (ReLU and its gradient, Slice,
 * PadV2, Sum and Mean over contiguous axes) and BatchNorm's fused forward kernel (and its
 * ReLU-fused form with the gradient's): equal to the cpu
 * backend on a grid of shapes, the same bits with one and two threads, other dtypes and
 * axes left to wasm, nothing leaked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCH_NORM_KERNELS,
  RELU_GRAD_KERNEL,
  ADD_RELU_KERNEL,
  nativeKernelStats,
  resetNativeKernelStats,
} from '@ediy/backend-native';
import {
  availability,
  expectClose,
  expectSameOnBoth,
  expectSameValues,
  initBoth,
  randomValues,
  runOn,
} from './helpers.js';
import { loadAddon } from '../src/addon.js';

const describeNative = describe.skipIf(!availability.available);

// Small and odd shapes, and maps above the size where the kernels split over threads.
const SHAPES: number[][] = [[7], [3, 5], [2, 5, 7, 3], [1, 9, 9, 1], [4, 16, 16, 40], [64, 1030]];

/** Runs `f` on wasm with `threads` oneDNN threads and gives the outputs' bytes. */
async function bitsWith(threads: number, f: () => tf.Tensor | tf.Tensor[]): Promise<Buffer[]> {
  await initBoth(threads);
  const outs = await runOn('wasm', f);
  return outs.map((o) => Buffer.from(o.buffer));
}

async function expectSameBitsOneAndTwoThreads(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const one = await bitsWith(1, f);
  const two = await bitsWith(2, f);
  expect(one.length).toBe(two.length);
  one.forEach((b, i) => expect(b.equals(two[i] as Buffer), `output ${i}`).toBe(true));
}

describeNative('native ReLU and its gradient', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  for (const shape of SHAPES) {
    it(`equal cpu on [${shape.join(',')}]`, async () => {
      const xv = randomValues(1, shape);
      const dyv = randomValues(2, shape);
      await expectSameOnBoth(
        () => {
          const x = tf.tensor(xv, shape);
          const dy = tf.tensor(dyv, shape);
          const dx = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
          return [tf.relu(x), dx];
        },
        `relu [${shape.join(',')}]`,
      );
      const s = nativeKernelStats().native;
      expect(s.Relu).toBeGreaterThanOrEqual(1);
      expect(s[RELU_GRAD_KERNEL]).toBe(1);
    });
  }

  for (const shape of SHAPES) {
    it(`the residual sum and its ReLU in one kernel equal cpu's Add then Relu on [${shape.join(',')}]`, async () => {
      const av = randomValues(3, shape);
      const bv = randomValues(4, shape);
      await expectSameOnBoth(
        () => {
          const a = tf.tensor(av, shape);
          const b = tf.tensor(bv, shape);
          return tf.getKernel(ADD_RELU_KERNEL, tf.getBackend()) === undefined
            ? tf.relu(tf.add(a, b))
            : (tf.engine().runKernel(ADD_RELU_KERNEL, { a, b }) as tf.Tensor);
        },
        `addRelu [${shape.join(',')}]`,
        0,
      );
      expect(nativeKernelStats().native[ADD_RELU_KERNEL]).toBe(1);
    });
  }

  it('the residual sum and its ReLU in one kernel: inputs of two shapes are named', async () => {
    await tf.setBackend('wasm');
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([3]);
    expect(() => tf.engine().runKernel(ADD_RELU_KERNEL, { a, b })).toThrow(
      `${ADD_RELU_KERNEL}: a and b must be float32 of one shape, got float32 [2,3] and float32 [3]`,
    );
    tf.dispose([a, b]);
  });

  it('propagate NaN as the cpu backend does, and keep 0 and -0 apart', async () => {
    const xv = Float32Array.of(NaN, -0, 0, -1, 2, Infinity, -Infinity);
    const dyv = Float32Array.of(1, 2, 3, 4, 5, -6, 7);
    const f = () => {
      const x = tf.tensor1d(xv);
      return [tf.relu(x), tf.grad((a: tf.Tensor) => tf.relu(a))(x, tf.tensor1d(dyv))];
    };
    const [cpuY, cpuDx] = await runOn('cpu', f);
    const [y, dx] = await runOn('wasm', f);
    expect(Array.from(y as Float32Array)).toEqual(Array.from(cpuY as Float32Array));
    expect(Array.from(dx as Float32Array)).toEqual(Array.from(cpuDx as Float32Array));
  });

  it('give the same bits with one and two threads', async () => {
    const shape = [8, 32, 32, 16];
    const xv = randomValues(3, shape);
    const dyv = randomValues(4, shape);
    await expectSameBitsOneAndTwoThreads(() => {
      const x = tf.tensor(xv, shape);
      return [tf.relu(x), tf.grad((a: tf.Tensor) => tf.relu(a))(x, tf.tensor(dyv, shape))];
    });
    await initBoth(2);
  });

  it('leave int32 to wasm, and the gradient of cpu to tfjs', async () => {
    await expectSameOnBoth(() => tf.relu(tf.tensor1d([-2, 0, 3], 'int32')), 'int32 relu');
    expect(nativeKernelStats().fallback['Relu: dtype int32']).toBe(1);
    const [dx] = await runOn('cpu', () =>
      tf.grad((a: tf.Tensor) => tf.relu(a))(tf.tensor1d([-1, 2]), tf.tensor1d([3, 4])),
    );
    expect(Array.from(dx as Float32Array)).toEqual([0, 4]);
  });
});

describeNative('native Slice and PadV2', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  const SLICES: Array<[string, number[], number[], number[]]> = [
    ['1-D', [9], [2], [5]],
    ['rows of a matrix', [6, 5], [1, 0], [4, 5]],
    ['columns of a matrix', [6, 5], [0, 1], [6, 3]],
    ['the interior of a padded map', [2, 10, 10, 3], [0, 1, 1, 0], [2, 8, 8, 3]],
    ['a corner, odd sizes', [3, 7, 9, 5], [1, 2, 0, 1], [2, 5, 9, 3]],
    ['to the end (-1)', [4, 6, 6, 8], [2, 0, 3, 0], [-1, -1, -1, -1]],
    [
      'a large map, as a conv gradient through explicit padding',
      [8, 34, 34, 32],
      [0, 1, 1, 0],
      [8, 32, 32, 32],
    ],
    ['whole batches (contiguous)', [8, 6, 6, 4], [3, 0, 0, 0], [2, 6, 6, 4]],
  ];
  for (const [name, shape, begin, size] of SLICES) {
    it(`Slice equals cpu: ${name}`, async () => {
      const xv = randomValues(5, shape);
      await expectSameOnBoth(() => tf.slice(tf.tensor(xv, shape), begin, size), name, 0);
      expect(nativeKernelStats().native.Slice).toBe(1);
    });
  }

  const PADS: Array<[string, number[], Array<[number, number]>, number]> = [
    ['1-D', [5], [[2, 3]], 0],
    [
      'a map by 1 on each side',
      [2, 8, 8, 3],
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      0,
    ],
    [
      'asymmetric, every axis, a value',
      [2, 3, 5, 4],
      [
        [1, 0],
        [0, 2],
        [3, 1],
        [1, 2],
      ],
      -1.5,
    ],
    [
      'a large map',
      [16, 32, 32, 32],
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      0,
    ],
    [
      'nothing',
      [3, 4],
      [
        [0, 0],
        [0, 0],
      ],
      7,
    ],
  ];
  for (const [name, shape, paddings, value] of PADS) {
    it(`PadV2 equals cpu, and its gradient (a Slice): ${name}`, async () => {
      const xv = randomValues(6, shape);
      const padded = shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
      const dyv = randomValues(7, padded);
      await expectSameOnBoth(
        () => {
          const x = tf.tensor(xv, shape);
          const dx = tf.grad((a: tf.Tensor) => tf.pad(a, paddings, value))(
            x,
            tf.tensor(dyv, padded),
          );
          return [tf.pad(x, paddings, value), dx];
        },
        name,
        0,
      );
      const s = nativeKernelStats().native;
      expect(s.PadV2).toBe(2);
      expect(s.Slice).toBe(1);
    });
  }

  it('give the same bits with one and two threads', async () => {
    const shape = [8, 34, 34, 32];
    const xv = randomValues(8, shape);
    await expectSameBitsOneAndTwoThreads(() => {
      const x = tf.tensor(xv, shape);
      return [
        tf.slice(x, [0, 1, 1, 0], [8, 32, 32, 32]),
        tf.pad(
          x,
          [
            [0, 0],
            [1, 2],
            [2, 1],
            [0, 0],
          ],
          3,
        ),
      ];
    });
    await initBoth(2);
  });

  it('leave int32 to wasm', async () => {
    await expectSameOnBoth(
      () => tf.slice(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), [1, 0], [1, 2]),
      'int32 slice',
      0,
    );
    await expectSameOnBoth(() => tf.pad(tf.tensor1d([1, 2], 'int32'), [[1, 1]]), 'int32 pad', 0);
    const f = nativeKernelStats().fallback;
    expect(f['Slice: dtype int32']).toBe(1);
    expect(f['PadV2: dtype int32']).toBe(1);
  });

  it('name a window that does not fit', () => {
    tf.engine().startScope();
    try {
      expect(() => tf.slice(tf.zeros([4, 4]), [3, 0], [2, 4])).toThrow(/slice/i);
    } finally {
      tf.engine().endScope();
    }
  });
});

describeNative('native Sum and Mean', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  const SUMS: Array<[number[], number[], boolean]> = [
    [[5, 3], [0], false],
    [[2, 5, 7, 3], [0, 1, 2], false],
    [[2, 5, 7, 3], [0, 1], true],
    [[64, 4, 4, 1024], [0, 1, 2], false],
    [[300, 17], [0], true],
    [[1, 1, 1, 6], [0, 1, 2], false],
  ];
  for (const [shape, axes, keepDims] of SUMS) {
    it(`equals cpu: [${shape.join(',')}] over [${axes.join(',')}]${keepDims ? ', keepDims' : ''}`, async () => {
      const xv = randomValues(9, shape);
      await expectSameOnBoth(() => tf.sum(tf.tensor(xv, shape), axes, keepDims), 'sum');
      expect(nativeKernelStats().native.Sum).toBe(1);
    });
  }

  it('is the bias gradient of a fused convolution', async () => {
    const xv = randomValues(10, [4, 6, 6, 3]);
    const wv = randomValues(11, [1, 1, 3, 5]);
    await expectSameOnBoth(
      () =>
        tf.grad((b: tf.Tensor) =>
          tf.sum(
            tf.square(
              tf.fused.conv2d({
                x: tf.tensor4d(xv, [4, 6, 6, 3]),
                filter: tf.tensor4d(wv, [1, 1, 3, 5]),
                strides: 1,
                pad: 'valid',
                bias: b,
              }),
            ),
          ),
        )(tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5])),
      'bias gradient',
    );
    expect(nativeKernelStats().native.Sum).toBeGreaterThanOrEqual(1);
  });

  it('gives the same bits with one and two threads', async () => {
    const shape = [64, 8, 8, 96];
    const xv = randomValues(12, shape);
    await expectSameBitsOneAndTwoThreads(() => tf.sum(tf.tensor(xv, shape), [0, 1, 2]));
    await initBoth(2);
  });

  // Trailing, middle and all axes: sums in double in the cpu backend's order. The
  // second flag: exactly the cpu backend's values (a whole reduction of a long row with
  // few rows is summed in fixed blocks, within rounding of it).
  const OTHER: Array<[number[], number[], boolean, boolean]> = [
    [[3, 4, 5], [1], false, true],
    [[3, 4, 5], [2], true, true],
    [[3, 4, 5], [0, 1, 2], false, true],
    [[64, 16, 128], [2], false, true],
    [[64, 4, 4, 256], [1, 2], false, true],
    [[64, 4, 4, 1030], [1, 2], true, true],
    [[2, 5, 7, 3], [1, 2, 3], false, true],
    [[3, 3, 256, 256], [0, 1, 2, 3], false, false],
    [[2, 70000], [1], true, false],
    [[9, 70000], [1], false, true],
    [[7], [0], false, true],
  ];
  for (const [shape, axes, keepDims, exact] of OTHER) {
    it(`Sum and Mean equal cpu: [${shape.join(',')}] over [${axes.join(',')}]${keepDims ? ', keepDims' : ''}`, async () => {
      const xv = randomValues(14, shape).map((v) => v + 0.25);
      const f = () => {
        const x = tf.tensor(xv, shape);
        return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
      };
      const [wantSum, wantMean] = await runOn('cpu', f);
      const [sum, mean] = await runOn('wasm', f);
      if (exact) expectSameValues(sum!, wantSum!, 'sum');
      expectClose(sum!, wantSum!, 1e-6, 'sum');
      expectClose(mean!, wantMean!, 1e-6, 'mean');
      const s = nativeKernelStats().native;
      expect(s.Sum).toBe(1);
      expect(s.Mean).toBe(1);
    });
  }

  it('gives the same bits with one and two threads over other axes', async () => {
    const cases: Array<[number[], number[]]> = [
      [[64, 16, 128], [2]],
      [
        [64, 8, 8, 96],
        [1, 2],
      ],
      [
        [3, 3, 256, 256],
        [0, 1, 2, 3],
      ],
      [[2, 70000], [1]],
    ];
    for (const [shape, axes] of cases) {
      const xv = randomValues(15, shape);
      await expectSameBitsOneAndTwoThreads(() => {
        const x = tf.tensor(xv, shape);
        return [tf.sum(x, axes), tf.mean(x, axes)];
      });
    }
    await initBoth(2);
  });

  it('leaves axes that are not contiguous and int32 to wasm', async () => {
    const xv = randomValues(13, [3, 4, 5]);
    await expectSameOnBoth(() => tf.sum(tf.tensor(xv, [3, 4, 5]), [0, 2]), 'axes 0 and 2');
    await expectSameOnBoth(() => tf.mean(tf.tensor(xv, [3, 4, 5]), [0, 2]), 'mean, axes 0 and 2');
    await expectSameOnBoth(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0), 'int32', 0);
    const f = nativeKernelStats().fallback;
    expect(f['Sum: axes']).toBe(1);
    expect(f['Mean: axes']).toBe(1);
    expect(f['Sum: dtype int32']).toBe(1);
  });
});

/** BatchNorm's training forward pass in double precision on the host. */
function bnForwardReference(
  x: Float32Array,
  c: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
) {
  const n = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c]! += x[i]! / n;
  for (let i = 0; i < x.length; i++) variance[i % c]! += (x[i]! - mean[i % c]!) ** 2 / n;
  const inv = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const y = Float32Array.from(
    x,
    (v, i) => (v - mean[i % c]!) * inv[i % c]! * gamma[i % c]! + beta[i % c]!,
  );
  return { y, mean, variance, inv };
}

function runForward(xv: Float32Array, shape: number[], gamma: Float32Array, beta: Float32Array) {
  return runOn(
    'wasm',
    () =>
      tf
        .engine()
        .runKernel(
          BATCH_NORM_KERNELS.forward,
          { x: tf.tensor(xv, shape), gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta) },
          { epsilon: 1e-5 },
        ) as unknown as tf.Tensor[],
  );
}

describeNative('native BatchNorm forward (statistics and normalisation in one call)', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  it.each([
    ['a [B,H,W,C] map with a large offset mean', [4, 9, 7, 13], 1000],
    ['a [B,D] batch', [64, 10], 0],
    ['one row per block and more', [3, 50, 1, 3], -3],
    ['a large map', [16, 16, 16, 32], 0.5],
    ['one channel', [5, 1], 2],
  ])('equals a double-precision reference on %s', async (_, shape, shift) => {
    const c = shape[shape.length - 1] as number;
    const xv = randomValues(50, shape).map((v) => v * 2 + shift);
    const gamma = randomValues(51, [c]).map((v) => 1 + 0.3 * v);
    const beta = randomValues(52, [c]);
    const ref = bnForwardReference(xv, c, gamma, beta, 1e-5);
    const [y, mean, variance, inv] = await runForward(xv, shape, gamma, beta);
    expectClose(y!, ref.y, 1e-5, 'y');
    expectClose(mean!, Float32Array.from(ref.mean), 1e-6, 'mean');
    expectClose(variance!, Float32Array.from(ref.variance), 1e-5, 'variance');
    expectClose(inv!, Float32Array.from(ref.inv), 1e-5, 'invStd');
    expect(nativeKernelStats().native[BATCH_NORM_KERNELS.forward]).toBe(1);
  });

  it('gives a constant channel zero variance and y = beta', async () => {
    const [y, , variance] = await runForward(
      new Float32Array(12).fill(3.25),
      [6, 2],
      Float32Array.of(2, 2),
      Float32Array.of(0.5, -1),
    );
    expect(Array.from(variance!)).toEqual([0, 0]);
    expect(Array.from(y!)).toEqual(Array.from({ length: 12 }, (_, i) => (i % 2 ? -1 : 0.5)));
  });

  it('gives the same bits with one and two threads', async () => {
    const shape = [16, 16, 16, 24];
    const xv = randomValues(53, shape);
    const gamma = new Float32Array(24).fill(1.5);
    const beta = new Float32Array(24).fill(-0.25);
    await initBoth(1);
    const one = await runForward(xv, shape, gamma, beta);
    await initBoth(2);
    const two = await runForward(xv, shape, gamma, beta);
    one.forEach((v, i) =>
      expect(Buffer.from(v.buffer).equals(Buffer.from(two[i]!.buffer))).toBe(true),
    );
  });

  it.each([1, 2])(
    'updates the moving statistics in the same call, the bits of tfjs ops on cpu (%i threads)',
    async (threads) => {
      await initBoth(threads);
      const shape = [16, 8, 8, 40];
      const xv = randomValues(54, shape).map((v) => v * 3 + 1);
      const gamma = randomValues(55, [40]).map((v) => 1 + 0.3 * v);
      const beta = randomValues(56, [40]);
      const movingMean = randomValues(57, [40]);
      const movingVariance = randomValues(58, [40]).map((v) => 1 + v * v);
      const momentum = 0.99;
      const outs = await runOn(
        'wasm',
        () =>
          tf.engine().runKernel(
            BATCH_NORM_KERNELS.forward,
            {
              x: tf.tensor(xv, shape),
              gamma: tf.tensor1d(gamma),
              beta: tf.tensor1d(beta),
              movingMean: tf.tensor1d(movingMean),
              movingVariance: tf.tensor1d(movingVariance),
            },
            { epsilon: 1e-5, momentum },
          ) as unknown as tf.Tensor[],
      );
      expect(outs).toHaveLength(6);
      const plain = await runForward(xv, shape, gamma, beta);
      plain.forEach((v, i) => expect(Array.from(outs[i]!)).toEqual(Array.from(v)));
      // tfjs-layers' update from the kernel's batch statistics, op by op on cpu.
      const expected = await runOn('cpu', () =>
        [movingMean, movingVariance].map((old, i) =>
          tf.sub(
            tf.tensor1d(old),
            tf.mul(tf.sub(tf.tensor1d(old), tf.tensor1d(outs[1 + i]!)), 1 - momentum),
          ),
        ),
      );
      expect(Array.from(outs[4]!)).toEqual(Array.from(expected[0]!));
      expect(Array.from(outs[5]!)).toEqual(Array.from(expected[1]!));
      expect(Array.from(outs[4]!)).not.toEqual(Array.from(movingMean));
    },
  );

  it('names bad moving statistics', async () => {
    await initBoth(2);
    tf.engine().startScope();
    try {
      const run = (inputs: Record<string, tf.Tensor>, momentum: unknown) =>
        tf
          .engine()
          .runKernel(
            BATCH_NORM_KERNELS.forward,
            { x: tf.zeros([2, 4]), gamma: tf.ones([4]), beta: tf.zeros([4]), ...inputs },
            { epsilon: 1e-3, momentum } as unknown as tf.NamedAttrMap,
          );
      expect(() => run({ movingMean: tf.zeros([4]) }, 0.9)).toThrow(
        'give both movingMean and movingVariance, or neither',
      );
      expect(() => run({ movingMean: tf.zeros([4]), movingVariance: tf.ones([3]) }, 0.9)).toThrow(
        "movingVariance must have 4 values (x's channels), got shape [3]",
      );
      expect(() => run({ movingMean: tf.zeros([4]), movingVariance: tf.ones([4]) }, 'x')).toThrow(
        'momentum must be a finite number, got x',
      );
    } finally {
      tf.engine().endScope();
    }
  });

  it('names the bad input', () => {
    tf.engine().startScope();
    try {
      const run = (x: tf.Tensor, g: tf.Tensor, eps: unknown) =>
        tf.engine().runKernel(BATCH_NORM_KERNELS.forward, { x, gamma: g, beta: g }, {
          epsilon: eps,
        } as unknown as tf.NamedAttrMap);
      expect(() => run(tf.zeros([2, 4]), tf.zeros([3]), 1e-3)).toThrow(
        "gamma must have 4 values (x's channels), got shape [3]",
      );
      expect(() => run(tf.zeros([2, 4]), tf.zeros([4]), -1)).toThrow(
        'epsilon must be a number >= 0, got -1',
      );
      expect(() => run(tf.zeros([4]), tf.zeros([4]), 1e-3)).toThrow(
        'x must have rank >= 2 (channels last), got shape [4]',
      );
    } finally {
      tf.engine().endScope();
    }
  });
});

describeNative(
  'native BatchNorm with the ReLU after it (forward and gradient in the same calls)',
  () => {
    beforeAll(async () => initBoth(2));
    beforeEach(() => resetNativeKernelStats());

    const shape = [8, 9, 7, 40];
    const c = 40;
    const xv = randomValues(70, shape).map((v) => v * 2 - 0.3);
    // NaN in the input: NaN through the ReLU and its gradient, as the two kernels give it.
    xv[5] = Number.NaN;
    const gamma = randomValues(71, [c]).map((v) => 1 + 0.3 * v);
    const beta = randomValues(72, [c]);
    const dyv = randomValues(73, shape);

    /** [y, mean, variance, invStd, dx, sumDy, sumDyXhat], fused (relu) or as BatchNorm, Relu, their gradients. */
    function both(fused: boolean) {
      return runOn('wasm', () => {
        const x = tf.tensor(xv, shape);
        const g = tf.tensor1d(gamma);
        const b = tf.tensor1d(beta);
        const dy = tf.tensor(dyv, shape);
        const [pre, mean, variance, invStd] = tf.engine().runKernel(
          BATCH_NORM_KERNELS.forward,
          { x, gamma: g, beta: b },
          {
            epsilon: 1e-5,
            relu: fused,
          },
        ) as unknown as tf.Tensor[];
        const y = fused ? (pre as tf.Tensor) : tf.relu(pre as tf.Tensor);
        const bnDy = fused
          ? dy
          : (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x: pre as tf.Tensor }) as tf.Tensor);
        const grads = tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
          dy: bnDy,
          x,
          mean: mean as tf.Tensor,
          invStd: invStd as tf.Tensor,
          gamma: g,
          ...(fused ? { y } : {}),
        }) as unknown as tf.Tensor[];
        return [y, mean, variance, invStd, ...grads] as tf.Tensor[];
      });
    }

    it('has the bits of BatchNorm, Relu and their two gradient kernels in sequence', async () => {
      const fused = await both(true);
      expect(nativeKernelStats().native[BATCH_NORM_KERNELS.forward]).toBe(1);
      expect(nativeKernelStats().native.Relu).toBeUndefined();
      const plain = await both(false);
      expect(nativeKernelStats().native.Relu).toBe(1);
      expect(nativeKernelStats().native[RELU_GRAD_KERNEL]).toBe(1);
      expect(fused).toHaveLength(7);
      const y = fused[0] as Float32Array;
      // The ReLU did something: zeros where the normalised input was negative, NaN kept.
      expect(y.some((v) => v === 0)).toBe(true);
      expect(y.some((v) => v > 0)).toBe(true);
      expect(Number.isNaN(y[5])).toBe(true);
      fused.forEach((v, i) =>
        expect(
          Buffer.from(v.buffer).equals(Buffer.from((plain[i] as Float32Array).buffer)),
          `output ${i}`,
        ).toBe(true),
      );
    });

    it('masks the gradient by the ReLU: it differs from the BatchNorm gradient of dy itself', async () => {
      const fused = await both(true);
      const unmasked = await runOn('wasm', () => {
        const x = tf.tensor(xv, shape);
        const [, mean, , invStd] = tf.engine().runKernel(
          BATCH_NORM_KERNELS.forward,
          { x, gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta) },
          {
            epsilon: 1e-5,
          },
        ) as unknown as tf.Tensor[];
        return tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
          dy: tf.tensor(dyv, shape),
          x,
          mean: mean as tf.Tensor,
          invStd: invStd as tf.Tensor,
          gamma: tf.tensor1d(gamma),
        }) as unknown as tf.Tensor[];
      });
      expect(Array.from(fused[5] as Float32Array)).not.toEqual(
        Array.from(unmasked[1] as Float32Array),
      );
    });

    it('gives the same bits with one and two threads', async () => {
      await initBoth(1);
      const one = await both(true);
      await initBoth(2);
      const two = await both(true);
      one.forEach((v, i) =>
        expect(
          Buffer.from(v.buffer).equals(Buffer.from((two[i] as Float32Array).buffer)),
          `output ${i}`,
        ).toBe(true),
      );
    });

    it('names a bad relu attribute and a y of the wrong shape', () => {
      tf.engine().startScope();
      try {
        expect(() =>
          tf
            .engine()
            .runKernel(
              BATCH_NORM_KERNELS.forward,
              { x: tf.zeros([2, 4]), gamma: tf.ones([4]), beta: tf.zeros([4]) },
              { epsilon: 1e-3, relu: 1 } as unknown as tf.NamedAttrMap,
            ),
        ).toThrow('relu must be a boolean, got 1');
        expect(() =>
          tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
            dy: tf.zeros([2, 4]),
            x: tf.zeros([2, 4]),
            mean: tf.zeros([4]),
            invStd: tf.ones([4]),
            gamma: tf.ones([4]),
            y: tf.zeros([4, 2]),
          }),
        ).toThrow("y (the ReLU's output) must have x's shape [2,4], got [4,2]");
      } finally {
        tf.engine().endScope();
      }
    });
  },
);

describeNative('work sharing (the kernels under a sleeping OpenMP wait policy)', () => {
  it('gives the bits of the OpenMP split, for every kernel it covers', async () => {
    const { addon } = loadAddon();
    await initBoth(2);
    const shape = [16, 16, 16, 40];
    const xv = randomValues(80, shape).map((v) => v * 2 - 0.3);
    const dyv = randomValues(81, shape);
    const gamma = randomValues(82, [40]).map((v) => 1 + 0.3 * v);
    const body = (): tf.Tensor[] => {
      const x = tf.tensor(xv, shape);
      const dy = tf.tensor(dyv, shape);
      const g = tf.tensor1d(gamma);
      const [y, mean, , invStd] = tf.engine().runKernel(
        BATCH_NORM_KERNELS.forward,
        { x, gamma: g, beta: g },
        {
          epsilon: 1e-5,
          relu: true,
        },
      ) as unknown as tf.Tensor[];
      const grads = tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
        dy,
        x,
        mean: mean as tf.Tensor,
        invStd: invStd as tf.Tensor,
        gamma: g,
        y: y as tf.Tensor,
      }) as unknown as tf.Tensor[];
      const reluGrad = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
      return [
        y as tf.Tensor,
        ...grads,
        reluGrad,
        tf.add(x, dy),
        tf.mul(x, g),
        tf.sum(x, [0, 1, 2]),
        tf.pad(
          x,
          [
            [0, 0],
            [1, 1],
            [2, 0],
            [0, 0],
          ],
          0.5,
        ),
        tf.slice(x, [1, 2, 0, 3], [8, 10, 16, 30]),
      ];
    };
    const run = () => runOn('wasm', body);
    try {
      addon!.setWorkSharing(true);
      expect(addon!.info().workSharing).toBe(true);
      const shared = await run();
      addon!.setWorkSharing(false);
      const split = await run();
      expect(shared).toHaveLength(split.length);
      shared.forEach((v, i) =>
        expect(
          Buffer.from(v.buffer).equals(Buffer.from((split[i] as Float32Array).buffer)),
          `output ${i}`,
        ).toBe(true),
      );
      await expectSameBitsOneAndTwoThreads(body);
    } finally {
      addon!.setWorkSharing(true);
    }
  });
});

describeNative('the element-wise kernels leak nothing', () => {
  beforeAll(async () => initBoth(2));

  it('keeps the tensor count and the wasm bytes flat over repeated training steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(60, [2, 6, 6, 3]), [2, 6, 6, 3]);
    const w = tf.variable(tf.tensor4d(randomValues(61, [3, 3, 3, 4]), [3, 3, 3, 4]));
    const b = tf.variable(tf.zeros([4]));
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const p = tf.pad(x, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]);
          const y = tf.relu(
            tf.fused.conv2d({ x: p, filter: w, strides: 1, pad: 'valid', bias: b }),
          );
          return tf.sum(tf.square(tf.slice(y, [0, 1, 1, 0], [2, 4, 4, 4])));
        });
        w.assign(tf.sub(w, tf.mul(grads[w.name] as tf.Tensor, 1e-3)));
        b.assign(tf.sub(b, tf.mul(grads[b.name] as tf.Tensor, 1e-3)));
      });
    step();
    const before = tf.memory();
    for (let i = 0; i < 10; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, w, b]);
  });
});
