import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { expectClose, randomValues, runOn } from './kernels-helpers.js';
import { findTestAdapter } from './webgpu-helpers.js';

const { skip } = await findTestAdapter();

type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];
const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

/** One op of the grid: float inputs of these shapes (and fixed int inputs), its output(s). */
interface OpCase {
  name: string;
  shapes: number[][];
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
  /** Compare the outputs only (ops without a gradient: argMax, topk indices, ...). */
  forwardOnly?: boolean;
  tol?: number;
}

const conv = (
  name: string,
  x: number[],
  w: number[],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'ceil',
): OpCase => ({
  name: `conv2d ${name}`,
  shapes: [x, w],
  f: (a, b) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad, 'NHWC', 1, dimRoundingMode),
});

const depthwise = (
  name: string,
  x: number[],
  w: number[],
  strides: number | [number, number],
  pad: 'same' | 'valid' | number,
  dilation = 1,
): OpCase => ({
  name: `depthwiseConv2d ${name}`,
  shapes: [x, w],
  f: (a, b) =>
    tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad, 'NHWC', dilation),
});

const ids = (values: number[]) => tf.tensor1d(values, 'int32');

// The kernels of a ResNet step and of the E-DIY losses and matchers: forward values and
// the gradients of sum(f(x) * r) for a fixed random r, i.e. every backward kernel too.
const CASES: OpCase[] = [
  conv('3x3 s1 same', [2, 6, 6, 3], [3, 3, 3, 4], 1, 'same'),
  conv('3x3 s1 same, 5x7 input', [2, 5, 7, 2], [3, 3, 2, 3], 1, 'same'),
  conv('3x3 s1 valid', [2, 6, 5, 3], [3, 3, 3, 2], 1, 'valid'),
  conv('3x3 s1 explicit 1 (small-image stem)', [2, 8, 8, 3], [3, 3, 3, 4], 1, explicit(1, 1, 1, 1)),
  conv('3x3 s2 same, even size', [2, 8, 8, 3], [3, 3, 3, 4], 2, 'same'),
  conv('3x3 s2 same, odd size', [2, 7, 9, 3], [3, 3, 3, 4], 2, 'same'),
  conv('3x3 s2 valid, odd size', [2, 9, 8, 2], [3, 3, 2, 3], 2, 'valid'),
  conv('3x3 s2 explicit 1', [2, 8, 7, 3], [3, 3, 3, 4], 2, explicit(1, 1, 1, 1)),
  conv('1x1 s1', [2, 5, 5, 4], [1, 1, 4, 6], 1, 'same'),
  conv('1x1 s2 (downsample shortcut)', [2, 8, 8, 4], [1, 1, 4, 6], 2, 'same'),
  conv('1x1 s2 valid, odd size', [2, 7, 7, 4], [1, 1, 4, 6], 2, 'valid'),
  conv('1x1 s2 explicit pads', [2, 6, 7, 4], [1, 1, 4, 3], 2, explicit(1, 0, 0, 2)),
  conv('7x7 s2 same (ImageNet stem)', [2, 16, 16, 3], [7, 7, 3, 4], 2, 'same'),
  conv('7x7 s2 explicit 3 (ImageNet stem)', [2, 16, 16, 3], [7, 7, 3, 4], 2, explicit(3, 3, 3, 3)),
  conv('3x3 asymmetric explicit pads', [2, 6, 6, 2], [3, 3, 2, 3], 1, explicit(0, 2, 1, 0)),
  conv('3x3 strides [1,2]', [2, 6, 8, 2], [3, 3, 2, 3], [1, 2], 'same'),
  conv('5x5 s3 same', [1, 11, 10, 2], [5, 5, 2, 3], 3, 'same'),
  conv('3x3 s2 numeric pad 1, ceil', [1, 8, 8, 2], [3, 3, 2, 3], 2, 1, 'ceil'),
  conv('3x3 s2 same, 6 channels', [2, 8, 7, 6], [3, 3, 6, 5], 2, 'same'),
  conv('3x3 s1 same, 64 channels', [2, 6, 6, 64], [3, 3, 64, 32], 1, 'same'),
  depthwise('3x3 s1 same', [2, 6, 6, 3], [3, 3, 3, 1], 1, 'same'),
  depthwise('3x3 s1 valid, multiplier 2', [2, 6, 7, 3], [3, 3, 3, 2], 1, 'valid'),
  depthwise('3x3 s2 same, odd size', [2, 7, 9, 2], [3, 3, 2, 1], 2, 'same'),
  // tfjs has no gradient for a dilated depthwise conv (on any backend): forward only
  {
    ...depthwise('3x3 dilation 2 same', [2, 9, 9, 2], [3, 3, 2, 1], 1, 'same', 2),
    forwardOnly: true,
  },
  {
    name: 'fused depthwiseConv2d 1x1 with bias (the fast BatchNorm affine map)',
    shapes: [[1, 1, 96, 5], [1, 1, 5, 1], [5]],
    f: (x, w, b) =>
      tf.fused.depthwiseConv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        strides: 1,
        pad: 'valid',
        bias: b as tf.Tensor1D,
      }),
  },
  {
    // (its gradient is quadratic in the rows on webgpu: kept small)
    name: 'avgPool over all rows (the fast BatchNorm channel means)',
    shapes: [[1, 512, 1, 8]],
    f: (x) => tf.avgPool(x as tf.Tensor4D, [512, 1], 1, 'valid'),
  },
  {
    name: 'avgPool 3x3 s2 same',
    shapes: [[2, 7, 7, 3]],
    f: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same'),
  },
  {
    name: 'maxPool 3x3 s2 same (ImageNet stem)',
    shapes: [[2, 8, 8, 3]],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'),
  },
  {
    name: 'matMul',
    shapes: [
      [5, 7],
      [7, 3],
    ],
    f: (a, b) => tf.matMul(a, b),
  },
  {
    name: 'matMul transposeA',
    shapes: [
      [7, 5],
      [7, 3],
    ],
    f: (a, b) => tf.matMul(a, b, true),
  },
  {
    name: 'matMul transposeB',
    shapes: [
      [5, 7],
      [3, 7],
    ],
    f: (a, b) => tf.matMul(a, b, false, true),
  },
  {
    name: 'matMul batched, both transposed',
    shapes: [
      [2, 6, 4],
      [2, 3, 6],
    ],
    f: (a, b) => tf.matMul(a, b, true, true),
  },
  {
    name: 'gather rows with repeats (UnsortedSegmentSum gradient)',
    shapes: [[10, 4]],
    f: (t) => tf.gather(t, ids([3, 0, 3, 9, 1, 3, 0])),
  },
  {
    name: 'gatherND (tfjs has no gradient for it)',
    shapes: [[3, 4, 5]],
    forwardOnly: true,
    f: (t) => tf.gatherND(t, tf.tensor2d([0, 1, 2, 3, 0, 1], [3, 2], 'int32')),
  },
  { name: 'tile [2,3,4] by [2,1,3]', shapes: [[2, 3, 4]], f: (x) => tf.tile(x, [2, 1, 3]) },
  {
    name: 'moments over N,H,W and batchNorm',
    shapes: [[4, 5, 5, 6], [6], [6]],
    f: (x, g, b) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(
        x as tf.Tensor4D,
        mean,
        variance,
        b as tf.Tensor1D,
        g as tf.Tensor1D,
        1e-5,
      );
    },
  },
  {
    name: 'softmax cross-entropy',
    shapes: [[6, 5]],
    f: (l) => tf.losses.softmaxCrossEntropy(tf.oneHot(ids([0, 4, 2, 2, 1, 3]), 5), l),
  },
  {
    name: 'logSoftmax, logSumExp',
    shapes: [[4, 9]],
    f: (x) => [tf.logSoftmax(x), tf.logSumExp(x, 1)],
  },
  {
    name: 'unit vectors: x / sqrt(sum(x^2))',
    shapes: [[6, 8]],
    f: (x) => tf.div(x, tf.sqrt(tf.sum(tf.square(x), -1, true))),
  },
  {
    name: 'elementwise: relu, rsqrt, maximum, minimum, clipByValue',
    shapes: [
      [3, 7],
      [3, 7],
    ],
    f: (a, b) => [
      tf.relu(a),
      tf.rsqrt(tf.add(tf.square(a), 1)),
      tf.maximum(a, b),
      tf.minimum(a, b),
      tf.clipByValue(a, -0.5, 0.5),
    ],
  },
  {
    name: 'comparisons and where (forward)',
    shapes: [
      [3, 7],
      [3, 7],
    ],
    forwardOnly: true,
    f: (a, b) => [
      tf.where(tf.greater(a, b), a, tf.neg(b)),
      tf.cast(tf.logicalNot(tf.greaterEqual(a, 0)), 'float32'),
      tf.cast(tf.isFinite(tf.div(a, b)), 'float32'),
    ],
  },
  {
    name: 'mean, sum, max, min over axes',
    shapes: [[3, 4, 5]],
    f: (x) => [tf.mean(x, [1, 2]), tf.sum(x, 0), tf.max(x, -1), tf.min(x, 1)],
  },
  {
    name: 'concat, split, slice, stack, transpose, mirrorPad, expandDims',
    shapes: [
      [2, 3, 4],
      [2, 3, 4],
    ],
    f: (a, b) => {
      const [s0, s1] = tf.split(tf.concat([a, b], 2), [3, 5], 2) as [tf.Tensor, tf.Tensor];
      return [
        s0,
        tf.slice(s1, [0, 1, 1], [2, 2, 3]),
        tf.stack([a, b], 1),
        tf.transpose(a, [2, 0, 1]),
        tf.mirrorPad(
          a as tf.Tensor3D,
          [
            [0, 0],
            [1, 1],
            [2, 1],
          ],
          'reflect',
        ),
        tf.expandDims(b, 1),
      ];
    },
  },
  {
    name: 'argMax, argMin, topk, equal (no gradient)',
    shapes: [[5, 9]],
    forwardOnly: true,
    f: (x) => {
      const { values, indices } = tf.topk(x, 3);
      return [
        tf.argMax(x, 1),
        tf.argMin(x, 0),
        values,
        indices,
        tf.cast(tf.equal(x, tf.max(x, 1, true)), 'float32'),
      ];
    },
  },
];

function inputs(c: OpCase): Float32Array[] {
  const rng = new Rng(c.name.length * 7919 + c.shapes.flat().reduce((p, d) => p + d, 0));
  return c.shapes.map((s) => randomValues(rng, s));
}

/** The outputs of `c` and, unless forward-only, the gradients of sum(out * r) for each input. */
function program(c: OpCase, values: Float32Array[]): () => tf.Tensor[] {
  return () => {
    const xs = values.map((v, i) => tf.tensor(v, c.shapes[i]));
    const outs = ([] as tf.Tensor[]).concat(c.f(...xs));
    if (c.forwardOnly) return outs;
    const rng = new Rng(99);
    const weights = outs.map((o) => tf.tensor(randomValues(rng, o.shape), o.shape));
    const grads = tf.grads((...ys: tf.Tensor[]) =>
      tf.addN(
        ([] as tf.Tensor[])
          .concat(c.f(...ys))
          .map((o, i) => tf.sum(tf.mul(o, weights[i] as tf.Tensor))),
      ),
    )(xs);
    return [...outs, ...grads];
  };
}

describe.skipIf(skip !== undefined)('the kernel grid on webgpu equals cpu', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
    await initBackend({ prefer: 'webgpu' });
    // small tensors would otherwise be computed by webgpu's cpu hand-off, not its shaders
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  });
  afterAll(() => {
    tf.env().set('WEBGPU_CPU_FORWARD', true);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const values = inputs(c);
      const want = await runOn('cpu', program(c, values));
      const got = await runOn('webgpu', program(c, values));
      want.forEach((w, i) =>
        expectClose(got[i] as Float32Array, w, c.tol ?? 1e-4, `${c.name} output ${i}`),
      );
    });
  }
});
