import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCH_NORM_KERNELS,
  enableNativeEngine,
  nativeKernelStats,
  resetNativeKernelStats,
} from '@ediy/backend-native';
import {
  availability,
  expectClose,
  expectSameOnBoth,
  initBoth,
  randomValues,
  runOn,
} from './helpers.js';

type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: Pad;
  dilation?: number;
}

const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

// Strides 1/2, explicit and 'same'/'valid' padding, 1x1 and 7x7, batch 1, channels 1/3/odd.
const CONVS: ConvCase[] = [
  {
    name: '3x3 s1 same, 3 channels',
    x: [2, 8, 8, 3],
    filter: [3, 3, 3, 5],
    strides: 1,
    pad: 'same',
  },
  {
    name: '3x3 s1 same, batch 1, odd',
    x: [1, 5, 7, 7],
    filter: [3, 3, 7, 3],
    strides: 1,
    pad: 'same',
  },
  {
    name: '3x3 s1 valid, 1 channel',
    x: [2, 6, 5, 1],
    filter: [3, 3, 1, 2],
    strides: 1,
    pad: 'valid',
  },
  { name: '3x3 s2 same, even', x: [2, 8, 8, 4], filter: [3, 3, 4, 6], strides: 2, pad: 'same' },
  { name: '3x3 s2 same, odd', x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  {
    name: '3x3 s2 valid, odd',
    x: [2, 9, 8, 5],
    filter: [3, 3, 5, 3],
    strides: 2,
    pad: 'valid',
  },
  { name: '1x1 s1', x: [2, 4, 4, 6], filter: [1, 1, 6, 9], strides: 1, pad: 'valid' },
  {
    name: '1x1 s2 (shortcut)',
    x: [2, 8, 8, 4],
    filter: [1, 1, 4, 8],
    strides: 2,
    pad: 'same',
  },
  {
    name: '7x7 s2 explicit 3 (ImageNet stem)',
    x: [1, 16, 16, 3],
    filter: [7, 7, 3, 8],
    strides: 2,
    pad: explicit(3, 3, 3, 3),
  },
  {
    name: '3x3 s1 explicit asymmetric',
    x: [2, 6, 6, 3],
    filter: [3, 3, 3, 4],
    strides: 1,
    pad: explicit(0, 2, 2, 1),
  },
  { name: '3x3 s1 numeric pad 1', x: [2, 6, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: 1 },
  { name: '5x5 s2 same', x: [2, 11, 10, 3], filter: [5, 5, 3, 2], strides: 2, pad: 'same' },
  // The last rows/columns are never read (a negative end padding for oneDNN): the
  // convolution runs on the rows read, the input gradient is zero on the others.
  {
    name: '3x3 s2 valid over an explicitly padded even map (the strided ResNet conv)',
    x: [2, 10, 10, 4],
    filter: [3, 3, 4, 6],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '1x1 s2, batch 1, odd channels, unread rows only',
    x: [1, 8, 7, 5],
    filter: [1, 1, 5, 3],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '1x1 s3, wider map (two unread columns)',
    x: [2, 6, 11, 3],
    filter: [1, 1, 3, 4],
    strides: 3,
    pad: 'valid',
  },
  {
    name: '1x1 s2 shortcut of layer2 (ResNet-18 at width 32)',
    x: [4, 32, 32, 32],
    filter: [1, 1, 32, 64],
    strides: 2,
    pad: 'valid',
  },
];

const DILATED: ConvCase[] = [
  {
    name: '3x3 dilation 2 same',
    x: [2, 10, 10, 3],
    filter: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    dilation: 2,
  },
  {
    name: '3x3 dilation 3 valid',
    x: [1, 12, 11, 2],
    filter: [3, 3, 2, 3],
    strides: 1,
    pad: 'valid',
    dilation: 3,
  },
];

const describeNative = describe.skipIf(!availability.available);

describeNative.each(['nhwc', 'blocked'] as const)(
  'native convolutions (%s activations) equal the cpu backend',
  (layout) => {
    beforeAll(async () => initBoth(2, layout));
    afterAll(async () => initBoth(2, 'nhwc'));
    beforeEach(() => resetNativeKernelStats());

    it(`report the ${layout} layout`, () => {
      expect(enableNativeEngine({ layout }).layout).toBe(layout);
    });

    for (const c of CONVS) {
      it(`forward, input and filter gradients: ${c.name}`, async () => {
        const xv = randomValues(1, c.x);
        const wv = randomValues(2, c.filter);
        const f = () => {
          const x = tf.tensor4d(xv, c.x);
          const w = tf.tensor4d(wv, c.filter);
          const conv = (a: tf.Tensor, b: tf.Tensor) =>
            tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same');
          const y = conv(x, w);
          // A weighted sum, so the upstream gradient is not constant.
          const r = tf.tensor(randomValues(3, y.shape), y.shape);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), r)))([
            x,
            w,
          ]);
          return [y, dx as tf.Tensor, dw as tf.Tensor];
        };
        await expectSameOnBoth(f, c.name);
        const s = nativeKernelStats();
        expect(s.native.Conv2D, 'forward ran natively').toBeGreaterThanOrEqual(1);
        expect(s.native.Conv2DBackpropInput, 'dx ran natively').toBe(1);
        expect(s.native.Conv2DBackpropFilter, 'dw ran natively').toBe(1);
      });
    }

    for (const c of DILATED) {
      it(`forward: ${c.name}`, async () => {
        const xv = randomValues(4, c.x);
        const wv = randomValues(5, c.filter);
        await expectSameOnBoth(
          () =>
            tf.conv2d(
              tf.tensor4d(xv, c.x),
              tf.tensor4d(wv, c.filter),
              c.strides,
              c.pad as 'same',
              'NHWC',
              c.dilation,
            ),
          c.name,
        );
        expect(nativeKernelStats().native.Conv2D).toBe(1);
      });
    }

    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const) {
      it(`fused conv with bias and ${activation}, and its gradients`, async () => {
        const xs: [number, number, number, number] = [2, 7, 7, 5];
        const ws: [number, number, number, number] = [3, 3, 5, 6];
        const xv = randomValues(6, xs);
        const wv = randomValues(7, ws);
        const bv = randomValues(8, [6]);
        const f = () => {
          const x = tf.tensor4d(xv, xs);
          const w = tf.tensor4d(wv, ws);
          const b = tf.tensor1d(bv);
          const conv = (a: tf.Tensor, k: tf.Tensor, bias: tf.Tensor) =>
            tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: k as tf.Tensor4D,
              strides: 2,
              pad: 'same',
              bias,
              activation,
              leakyreluAlpha: 0.1,
            });
          const grads =
            activation === 'linear' || activation === 'relu'
              ? tf.grads((a: tf.Tensor, k: tf.Tensor, bias: tf.Tensor) =>
                  tf.sum(tf.square(conv(a, k, bias))),
                )([x, w, b])
              : [];
          return [conv(x, w, b), ...grads];
        };
        await expectSameOnBoth(f, `fused ${activation}`);
        expect(nativeKernelStats().native.FusedConv2D).toBeGreaterThanOrEqual(1);
      });
    }

    it('PReLU is passed to the replaced wasm kernel and still right', async () => {
      const xv = randomValues(9, [1, 5, 5, 2]);
      const wv = randomValues(10, [3, 3, 2, 3]);
      await expectSameOnBoth(
        () =>
          tf.fused.conv2d({
            x: tf.tensor4d(xv, [1, 5, 5, 2]),
            filter: tf.tensor4d(wv, [3, 3, 2, 3]),
            strides: 1,
            pad: 'same',
            activation: 'prelu',
            preluActivationWeights: tf.fill([3], 0.25),
          }),
        'prelu',
      );
      const s = nativeKernelStats();
      expect(s.native.FusedConv2D).toBeUndefined();
      expect(s.fallback['FusedConv2D: activation prelu']).toBe(1);
    });

    it('is deterministic for a given thread count (filter gradient reduces over the batch)', async () => {
      const xs: [number, number, number, number] = [16, 16, 16, 32];
      const xv = randomValues(11, xs);
      const dyv = randomValues(12, [16, 16, 16, 32]);
      const once = () =>
        runOn('wasm', () =>
          tf.grad((w: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.conv2d(tf.tensor4d(xv, xs), w as tf.Tensor4D, 1, 'same'),
                tf.tensor(dyv, xs),
              ),
            ),
          )(tf.zeros([3, 3, 32, 32])),
        );
      const [a] = await once();
      const [b] = await once();
      expect(
        Buffer.from((a as Float32Array).buffer).equals(Buffer.from((b as Float32Array).buffer)),
      ).toBe(true);
    });

    it('rejects a dy of the wrong shape, naming both shapes', async () => {
      await tf.setBackend('wasm');
      const dy = tf.zeros([1, 4, 4, 3]);
      const w = tf.zeros([3, 3, 2, 3]) as tf.Tensor4D;
      expect(() => tf.conv2dTranspose(dy as tf.Tensor4D, w, [1, 9, 9, 2], 1, 'same')).toThrow(
        /dy has shape \[1,4,4,3\], expected \[1,9,9,3\]/,
      );
      tf.dispose([dy, w]);
    });
  },
);

describeNative('native depthwise convolutions equal the cpu backend', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  const CASES: Array<{
    name: string;
    x: [number, number, number, number];
    f: [number, number, number, number];
    s: number;
    pad: 'same' | 'valid';
  }> = [
    { name: '3x3 s1 same, multiplier 2', x: [2, 7, 7, 3], f: [3, 3, 3, 2], s: 1, pad: 'same' },
    { name: '3x3 s2 valid, multiplier 1', x: [2, 9, 9, 5], f: [3, 3, 5, 1], s: 2, pad: 'valid' },
    { name: '5x5 s2 same, batch 1', x: [1, 10, 10, 4], f: [5, 5, 4, 3], s: 2, pad: 'same' },
  ];
  for (const c of CASES) {
    it(`forward and gradients: ${c.name}`, async () => {
      const xv = randomValues(13, c.x);
      const wv = randomValues(14, c.f);
      await expectSameOnBoth(() => {
        const x = tf.tensor4d(xv, c.x);
        const w = tf.tensor4d(wv, c.f);
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv(a, b))))([
          x,
          w,
        ]);
        return [conv(x, w), dx as tf.Tensor, dw as tf.Tensor];
      }, c.name);
      const s = nativeKernelStats();
      expect(s.native.DepthwiseConv2dNative).toBeGreaterThanOrEqual(1);
      expect(s.native.DepthwiseConv2dNativeBackpropInput).toBe(1);
      expect(s.native.DepthwiseConv2dNativeBackpropFilter).toBe(1);
    });
  }

  it('a 1x1 per-channel affine (the fast BatchNorm) runs as one pass and propagates NaN', async () => {
    const xv = randomValues(15, [1, 1, 50, 6]);
    xv[7] = Number.NaN;
    const sv = randomValues(16, [1, 1, 6, 1]);
    const bv = randomValues(17, [6]);
    const f = () =>
      tf.fused.depthwiseConv2d({
        x: tf.tensor4d(xv, [1, 1, 50, 6]),
        filter: tf.tensor4d(sv, [1, 1, 6, 1]),
        strides: 1,
        pad: 'valid',
        bias: tf.tensor1d(bv),
      });
    const [got] = await runOn('wasm', f);
    expect(Number.isNaN((got as Float32Array)[7])).toBe(true);
    xv[7] = 0.5;
    await expectSameOnBoth(f, 'affine');
    expect(nativeKernelStats().native.FusedDepthwiseConv2D).toBe(2);
  });

  it.each([
    ['with a shift', true],
    ['without one', false],
  ])(
    'the affine map with a ReLU activation (an inference BatchNorm and its ReLU), %s, in one pass',
    async (_, withBias) => {
      const xv = randomValues(20, [1, 1, 40, 5]);
      const sv = randomValues(21, [1, 1, 5, 1]);
      const bv = randomValues(22, [5]);
      const f = () =>
        tf.fused.depthwiseConv2d({
          x: tf.tensor4d(xv, [1, 1, 40, 5]),
          filter: tf.tensor4d(sv, [1, 1, 5, 1]),
          strides: 1,
          pad: 'valid',
          ...(withBias ? { bias: tf.tensor1d(bv) } : {}),
          activation: 'relu',
        });
      const [got] = await runOn('wasm', f);
      const values = Array.from(got as Float32Array);
      // The ReLU acted (some zeros) and left the rest (some positives).
      expect(values.filter((v) => v === 0).length).toBeGreaterThan(0);
      expect(values.filter((v) => v > 0).length).toBeGreaterThan(0);
      resetNativeKernelStats();
      await expectSameOnBoth(f, 'affine + relu');
      expect(nativeKernelStats().native.FusedDepthwiseConv2D).toBe(1);
      expect(nativeKernelStats().native.Relu ?? 0).toBe(0);
    },
  );
});

describeNative('native matrix products equal the cpu backend', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`2-D, transposeA=${ta}, transposeB=${tb}, and the gradients`, async () => {
      const as: [number, number] = ta ? [7, 5] : [5, 7];
      const bs: [number, number] = tb ? [3, 7] : [7, 3];
      const av = randomValues(18, as);
      const bv = randomValues(19, bs);
      await expectSameOnBoth(() => {
        const a = tf.tensor2d(av, as);
        const b = tf.tensor2d(bv, bs);
        const mm = (x: tf.Tensor, y: tf.Tensor) =>
          tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(mm(x, y))))([
          a,
          b,
        ]);
        return [mm(a, b), da as tf.Tensor, db as tf.Tensor];
      }, `matmul ${ta} ${tb}`);
      expect(nativeKernelStats().native.BatchMatMul).toBeGreaterThanOrEqual(3);
    });
  }

  it('batched, and a batch of 1 broadcast against 4', async () => {
    const av = randomValues(20, [2, 3, 5]);
    const bv = randomValues(21, [2, 5, 4]);
    const cv = randomValues(22, [1, 3, 5]);
    const dv = randomValues(23, [4, 5, 6]);
    await expectSameOnBoth(
      () => [
        tf.matMul(tf.tensor3d(av, [2, 3, 5]), tf.tensor3d(bv, [2, 5, 4])),
        tf.matMul(tf.tensor3d(cv, [1, 3, 5]), tf.tensor3d(dv, [4, 5, 6])),
      ],
      'batched',
    );
    expect(nativeKernelStats().native.BatchMatMul).toBe(2);
  });

  it('fused with a bias and relu (a dense layer)', async () => {
    const av = randomValues(24, [6, 10]);
    const bv = randomValues(25, [10, 4]);
    const cv = randomValues(26, [4]);
    await expectSameOnBoth(
      () =>
        tf.fused.matMul({
          a: tf.tensor2d(av, [6, 10]),
          b: tf.tensor2d(bv, [10, 4]),
          bias: tf.tensor1d(cv),
          activation: 'relu',
        }),
      'dense',
    );
    expect(nativeKernelStats().native._FusedMatMul).toBe(1);
  });

  it('names both shapes when the inner dimensions differ', async () => {
    await tf.setBackend('wasm');
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([4, 5]);
    expect(() => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)).toThrow(/inner/);
    tf.dispose([a, b]);
  });
});

describeNative('native whole-map average pooling', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  it('equals cpu as the channel means of the fast BatchNorm ([1, N, 1, C], window N)', async () => {
    const n = 1000;
    const xv = randomValues(27, [1, n, 1, 8]);
    await expectSameOnBoth(
      () => tf.avgPool(tf.tensor4d(xv, [1, n, 1, 8]), [n, 1], 1, 'valid'),
      'means',
    );
    expect(nativeKernelStats().native.AvgPool).toBe(1);
  });

  it('equals cpu per image for a batch, and leaves a windowed pooling to wasm', async () => {
    const xv = randomValues(28, [3, 4, 4, 5]);
    await expectSameOnBoth(
      () => [
        tf.avgPool(tf.tensor4d(xv, [3, 4, 4, 5]), 4, 1, 'valid'),
        tf.avgPool(tf.tensor4d(xv, [3, 4, 4, 5]), 2, 2, 'valid'),
      ],
      'pools',
    );
    const s = nativeKernelStats();
    expect(s.native.AvgPool).toBe(1);
    expect(s.fallback['AvgPool: not a whole-map pooling']).toBe(1);
  });

  it('propagates NaN (wasm turns it into -Infinity)', async () => {
    const xv = randomValues(29, [1, 10, 1, 2]);
    xv[4] = Number.NaN;
    const [got] = await runOn('wasm', () =>
      tf.avgPool(tf.tensor4d(xv, [1, 10, 1, 2]), [10, 1], 1, 'valid'),
    );
    expect(Number.isNaN((got as Float32Array)[0])).toBe(true);
    expect(Number.isFinite((got as Float32Array)[1])).toBe(true);
  });
});

/** BatchNorm's statistics and gradient in double precision on the host, as the kernels define them. */
function bnReference(
  x: Float32Array,
  dy: Float32Array,
  c: number,
  gamma: Float32Array,
  eps: number,
) {
  const n = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c]! += x[i]! / n;
  for (let i = 0; i < x.length; i++) variance[i % c]! += (x[i]! - mean[i % c]!) ** 2 / n;
  const inv = Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const sumDy = new Float64Array(c);
  const sumDyXhat = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    const ch = i % c;
    sumDy[ch]! += dy[i]!;
    sumDyXhat[ch]! += dy[i]! * (x[i]! - mean[ch]!) * inv[ch]!;
  }
  const dx = Float32Array.from(x, (v, i) => {
    const ch = i % c;
    const xhat = (v - mean[ch]!) * inv[ch]!;
    return gamma[ch]! * inv[ch]! * (dy[i]! - sumDy[ch]! / n - (xhat * sumDyXhat[ch]!) / n);
  });
  return { mean, variance, inv: Float32Array.from(inv), sumDy, sumDyXhat, dx };
}

function runBatchNormKernels(
  xv: Float32Array,
  dyv: Float32Array,
  shape: number[],
  gamma: Float32Array,
  inv: Float32Array,
) {
  const c = shape[shape.length - 1] as number;
  return runOn('wasm', () => {
    const x = tf.tensor(xv, shape);
    const [mean, variance] = tf
      .engine()
      .runKernel(BATCH_NORM_KERNELS.moments, { x }) as unknown as tf.Tensor[];
    const grads = tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
      dy: tf.tensor(dyv, shape),
      x,
      mean: mean as tf.Tensor,
      invStd: tf.tensor1d(inv),
      gamma: tf.tensor1d(gamma),
    }) as unknown as tf.Tensor[];
    expect(grads[1]!.shape).toEqual([c]);
    return [mean as tf.Tensor, variance as tf.Tensor, ...grads];
  });
}

describeNative('native BatchNorm statistics and gradient', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  it('match values computed by hand (N = 3, one channel)', async () => {
    // x = [0, 1, 5]: mean 2, biased variance 14/3; dy = [1, 0, 0], gamma 2, eps 0.
    const inv = 1 / Math.sqrt(14 / 3);
    const xhat = [-2 * inv, -1 * inv, 3 * inv];
    const [mean, variance, dx, sumDy, sumDyXhat] = await runBatchNormKernels(
      Float32Array.of(0, 1, 5),
      Float32Array.of(1, 0, 0),
      [3, 1],
      Float32Array.of(2),
      Float32Array.of(inv),
    );
    expect(mean![0]).toBeCloseTo(2, 6);
    expect(variance![0]).toBeCloseTo(14 / 3, 5);
    expect(sumDy![0]).toBeCloseTo(1, 6);
    expect(sumDyXhat![0]).toBeCloseTo(xhat[0]!, 6);
    const want = [1, 0, 0].map((d, i) => 2 * inv * (d - 1 / 3 - (xhat[i]! * xhat[0]!) / 3));
    Array.from(dx!).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    expect(nativeKernelStats().native).toMatchObject({
      [BATCH_NORM_KERNELS.moments]: 1,
      [BATCH_NORM_KERNELS.gradient]: 1,
    });
  });

  it.each([
    ['a [B,H,W,C] map with an offset mean', [4, 9, 7, 13], 40],
    ['a [B,D] batch', [64, 10], 0],
    ['more rows than sum blocks', [3, 50, 1, 3], -3],
  ])('equal a double-precision reference on %s', async (_, shape, shift) => {
    const c = shape[shape.length - 1] as number;
    const xv = randomValues(40, shape).map((v) => v * 2 + shift);
    const dyv = randomValues(41, shape);
    const gamma = randomValues(42, [c]).map((v) => 1 + 0.3 * v);
    const ref = bnReference(xv, dyv, c, gamma, 1e-5);
    const [mean, variance, dx, sumDy, sumDyXhat] = await runBatchNormKernels(
      xv,
      dyv,
      shape,
      gamma,
      ref.inv,
    );
    expectClose(mean!, Float32Array.from(ref.mean), 1e-6, 'mean');
    expectClose(variance!, Float32Array.from(ref.variance), 1e-5, 'variance');
    expectClose(sumDy!, Float32Array.from(ref.sumDy), 1e-5, 'sumDy');
    expectClose(sumDyXhat!, Float32Array.from(ref.sumDyXhat), 1e-5, 'sumDyXhat');
    expectClose(dx!, ref.dx, 1e-5, 'dx');
  });

  it('give the same bits with one and with two threads', async () => {
    const shape = [8, 16, 16, 24];
    const xv = randomValues(43, shape);
    const dyv = randomValues(44, shape);
    const gamma = new Float32Array(24).fill(1.5);
    const inv = new Float32Array(24).fill(0.9);
    const two = await runBatchNormKernels(xv, dyv, shape, gamma, inv);
    await initBoth(1);
    const one = await runBatchNormKernels(xv, dyv, shape, gamma, inv);
    await initBoth(2);
    one.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(two[i]!)));
  });

  it('name the bad input', () => {
    tf.engine().startScope();
    try {
      expect(() =>
        tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
          dy: tf.zeros([2, 3]),
          x: tf.zeros([2, 4]),
          mean: tf.zeros([4]),
          invStd: tf.zeros([4]),
          gamma: tf.zeros([4]),
        }),
      ).toThrow("dy must have x's shape [2,4], got [2,3]");
      expect(() =>
        tf.engine().runKernel(BATCH_NORM_KERNELS.gradient, {
          dy: tf.zeros([2, 4]),
          x: tf.zeros([2, 4]),
          mean: tf.zeros([3]),
          invStd: tf.zeros([4]),
          gamma: tf.zeros([4]),
        }),
      ).toThrow("mean must have 4 values (x's channels), got shape [3]");
      expect(() => tf.engine().runKernel(BATCH_NORM_KERNELS.moments, { x: tf.zeros([4]) })).toThrow(
        'x must have rank >= 2 (channels last), got shape [4]',
      );
    } finally {
      tf.engine().endScope();
    }
  });
});

describeNative('Identity as a view', () => {
  beforeAll(async () => initBoth(2));

  it('shares the data, and the input stays valid after the copy is disposed (and back)', async () => {
    await tf.setBackend('wasm');
    resetNativeKernelStats();
    const ids = () => tf.engine().backend.numDataIds();
    const before = ids();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x); // tf.clone runs the Identity kernel
    expect(nativeKernelStats().native.Identity).toBe(1);
    expect(ids() - before).toBe(1); // one wasm buffer for both
    y.dispose();
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3]);
    const z = tf.clone(x);
    x.dispose();
    expect(Array.from(z.dataSync())).toEqual([1, 2, 3]);
    z.dispose();
    expect(ids()).toBe(before);
  });
});

describeNative('Cast to the same dtype as a view', () => {
  beforeAll(async () => initBoth(2));

  it('shares the data; casts to another dtype go to wasm with their values', async () => {
    await tf.setBackend('wasm');
    resetNativeKernelStats();
    const ids = () => tf.engine().backend.numDataIds();
    const before = ids();
    const x = tf.tensor1d([1.5, -2, 3]);
    const y = tf.cast(x, 'float32');
    expect(nativeKernelStats().native.Cast).toBe(1);
    expect(ids() - before).toBe(1); // one wasm buffer for both
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
    const i = tf.cast(y, 'int32');
    const f = tf.cast(i, 'float32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    expect(Array.from(f.dataSync())).toEqual([1, -2, 3]);
    expect(nativeKernelStats().fallback).toEqual({
      'Cast: float32 to int32': 1,
      'Cast: int32 to float32': 1,
    });
    // the gradient of a clone is a float32 cast of dy: a view as well
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.clone(t)))(y);
    expect(Array.from(dx.dataSync())).toEqual([1, 1, 1]);
    tf.dispose([y, i, f, dx]);
    expect(ids()).toBe(before);
  });
});

describeNative('native kernels leak nothing', () => {
  beforeAll(async () => initBoth(2));

  it('keeps the tensor count and the wasm bytes flat over repeated training steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(30, [2, 8, 8, 3]), [2, 8, 8, 3]);
    const w = tf.variable(tf.tensor4d(randomValues(31, [3, 3, 3, 4]), [3, 3, 3, 4]));
    const d = tf.variable(tf.tensor2d(randomValues(32, [64, 2]), [64, 2]));
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const y = tf.relu(tf.conv2d(x, w, 2, 'same'));
          return tf.sum(tf.matMul(tf.reshape(y, [2, 64]), d));
        });
        w.assign(tf.sub(w, tf.mul(grads[w.name] as tf.Tensor, 1e-3)));
        d.assign(tf.sub(d, tf.mul(grads[d.name] as tf.Tensor, 1e-3)));
      });
    step();
    const before = tf.memory();
    for (let i = 0; i < 20; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, w, d]);
  });
});
