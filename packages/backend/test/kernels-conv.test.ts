import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';
import { axisPhases } from '../src/kernels/conv2d-backprop-input.js';
import { expectClose, initBoth, randomValues, runOn } from './kernels-helpers.js';

type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

// Every conv a ResNet-18/34/50 uses, on tiny tensors, plus odd sizes and asymmetric pads.
const CASES: ConvCase[] = [
  { name: '3x3 s1 same', x: [2, 6, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  {
    name: '3x3 s1 same, 5x7 input',
    x: [2, 5, 7, 2],
    filter: [3, 3, 2, 3],
    strides: 1,
    pad: 'same',
  },
  { name: '3x3 s1 valid', x: [2, 6, 5, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'valid' },
  {
    name: '3x3 s1 explicit 1 (small-image stem)',
    x: [2, 8, 8, 3],
    filter: [3, 3, 3, 4],
    strides: 1,
    pad: explicit(1, 1, 1, 1),
  },
  {
    name: '3x3 s2 same, even size',
    x: [2, 8, 8, 3],
    filter: [3, 3, 3, 4],
    strides: 2,
    pad: 'same',
  },
  { name: '3x3 s2 same, odd size', x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  {
    name: '3x3 s2 valid, odd size',
    x: [2, 9, 8, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '3x3 s2 explicit 1',
    x: [2, 8, 7, 3],
    filter: [3, 3, 3, 4],
    strides: 2,
    pad: explicit(1, 1, 1, 1),
  },
  { name: '1x1 s1', x: [2, 5, 5, 4], filter: [1, 1, 4, 6], strides: 1, pad: 'same' },
  { name: '1x1 s1 valid', x: [2, 5, 5, 4], filter: [1, 1, 4, 6], strides: 1, pad: 'valid' },
  {
    name: '1x1 s2 (downsample shortcut)',
    x: [2, 8, 8, 4],
    filter: [1, 1, 4, 6],
    strides: 2,
    pad: 'same',
  },
  {
    name: '1x1 s2 valid, odd size',
    x: [2, 7, 7, 4],
    filter: [1, 1, 4, 6],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '1x1 s2 explicit pads',
    x: [2, 6, 7, 4],
    filter: [1, 1, 4, 3],
    strides: 2,
    pad: explicit(1, 0, 0, 2),
  },
  {
    name: '7x7 s2 same (ImageNet stem)',
    x: [2, 16, 16, 3],
    filter: [7, 7, 3, 4],
    strides: 2,
    pad: 'same',
  },
  {
    name: '7x7 s2 explicit 3 (ImageNet stem)',
    x: [2, 16, 16, 3],
    filter: [7, 7, 3, 4],
    strides: 2,
    pad: explicit(3, 3, 3, 3),
  },
  {
    name: '7x7 s2 explicit 3, odd size',
    x: [1, 13, 15, 3],
    filter: [7, 7, 3, 2],
    strides: 2,
    pad: explicit(3, 3, 3, 3),
  },
  {
    name: '3x3 asymmetric explicit pads',
    x: [2, 6, 6, 2],
    filter: [3, 3, 2, 3],
    strides: 1,
    pad: explicit(0, 2, 1, 0),
  },
  {
    name: '3x3 s2 asymmetric explicit pads',
    x: [2, 9, 8, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: explicit(2, 0, 0, 1),
  },
  {
    name: '3x3 strides [1,2]',
    x: [2, 6, 8, 2],
    filter: [3, 3, 2, 3],
    strides: [1, 2],
    pad: 'same',
  },
  {
    name: '3x3 strides [2,1] valid',
    x: [2, 9, 6, 2],
    filter: [3, 3, 2, 3],
    strides: [2, 1],
    pad: 'valid',
  },
  { name: '5x5 s3 same', x: [1, 11, 10, 2], filter: [5, 5, 2, 3], strides: 3, pad: 'same' },
  { name: '2x2 s2 valid', x: [2, 8, 8, 3], filter: [2, 2, 3, 4], strides: 2, pad: 'valid' },
  {
    name: '3x3 s2 numeric pad 1, ceil',
    x: [1, 8, 8, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: 1,
    dimRoundingMode: 'ceil',
  },
  // wider inputs: the filter gradient takes its transposed-conv path (kh*kw*Cin > 32)
  {
    name: '3x3 s1 same, 6 channels',
    x: [2, 6, 7, 6],
    filter: [3, 3, 6, 5],
    strides: 1,
    pad: 'same',
  },
  {
    name: '3x3 s2 same, 6 channels',
    x: [2, 8, 7, 6],
    filter: [3, 3, 6, 5],
    strides: 2,
    pad: 'same',
  },
  {
    name: '3x3 s2 valid, unused last row, 5 channels',
    x: [2, 10, 10, 5],
    filter: [3, 3, 5, 4],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '3x3 s2 explicit 1, 5 channels',
    x: [2, 7, 8, 5],
    filter: [3, 3, 5, 4],
    strides: 2,
    pad: explicit(1, 1, 1, 1),
  },
  {
    name: '3x3 s1 explicit pad wider than kernel',
    x: [1, 4, 4, 2],
    filter: [3, 3, 2, 2],
    strides: 1,
    pad: explicit(3, 0, 0, 3),
  },
];

function outShape(c: ConvCase): number[] {
  const x = tf.zeros(c.x);
  const w = tf.zeros(c.filter);
  const y = tf.conv2d(
    x as tf.Tensor4D,
    w as tf.Tensor4D,
    c.strides,
    c.pad,
    'NHWC',
    1,
    c.dimRoundingMode,
  );
  const shape = y.shape;
  tf.dispose([x, w, y]);
  return shape;
}

describe('Conv2D gradient kernels on wasm equal cpu', () => {
  beforeAll(initBoth);

  for (const c of CASES) {
    it(c.name, async () => {
      const rng = new Rng(c.name.length * 7919);
      await tf.setBackend('cpu');
      const dyShape = outShape(c);
      const xv = randomValues(rng, c.x);
      const wv = randomValues(rng, c.filter);
      const dyv = randomValues(rng, dyShape);
      const attrs = {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        ...(c.dimRoundingMode ? { dimRoundingMode: c.dimRoundingMode } : {}),
      };
      const grads = () => {
        const x = tf.tensor(xv, c.x);
        const w = tf.tensor(wv, c.filter);
        const dy = tf.tensor(dyv, dyShape);
        const dx = tf
          .engine()
          .runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x });
        const dw = tf
          .engine()
          .runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.filter });
        return [dx as tf.Tensor, dw as tf.Tensor];
      };
      const [wantDx, wantDw] = await runOn('cpu', grads);
      const [gotDx, gotDw] = await runOn('wasm', grads);
      expectClose(gotDx as Float32Array, wantDx as Float32Array, 1e-4, 'dx');
      expectClose(gotDw as Float32Array, wantDw as Float32Array, 1e-4, 'dw');
    });
  }
});

describe('Conv2D gradient kernels on hand-computed values', () => {
  beforeAll(async () => {
    await initBoth();
    await tf.setBackend('wasm');
  });

  it('1-D valid conv: dW[k] = sum_o x[o+k] dy[o], dx[i] = sum_k dy[i-k] w[k]', () => {
    // x = [1,2,3,4], w = [1,10], y[o] = x[o] + 10 x[o+1]; dy = [1, 0.5, 0.25]
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 4, 1]);
    const dy = tf.tensor4d([1, 0.5, 0.25], [1, 1, 3, 1]);
    const w = tf.tensor4d([1, 10], [1, 2, 1, 1]);
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
    const dw = tf
      .engine()
      .runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        { ...attrs, filterShape: [1, 2, 1, 1] },
      ) as tf.Tensor;
    const dx = tf
      .engine()
      .runKernel(
        'Conv2DBackpropInput',
        { dy, filter: w },
        { ...attrs, inputShape: [1, 1, 4, 1] },
      ) as tf.Tensor;
    // dW[0] = 1*1 + 2*0.5 + 3*0.25 = 2.75; dW[1] = 2*1 + 3*0.5 + 4*0.25 = 4.5
    expect(Array.from(dw.dataSync())).toEqual([2.75, 4.5]);
    // dx = [1, 10 + 0.5, 5 + 0.25, 2.5]
    expect(Array.from(dx.dataSync())).toEqual([1, 10.5, 5.25, 2.5]);
    tf.dispose([x, dy, w, dw, dx]);
  });

  it('stride 2: dx is zero where no output position reads the input', () => {
    // 1x1 filter of value 3, stride 2 over 5 columns reads columns 0, 2, 4.
    const dy = tf.tensor4d([1, 2, 4], [1, 1, 3, 1]);
    const w = tf.tensor4d([3], [1, 1, 1, 1]);
    const dx = tf
      .engine()
      .runKernel(
        'Conv2DBackpropInput',
        { dy, filter: w },
        { strides: 2, pad: 'valid', dataFormat: 'NHWC', inputShape: [1, 1, 5, 1] },
      ) as tf.Tensor;
    expect(Array.from(dx.dataSync())).toEqual([3, 0, 6, 0, 12]);
    tf.dispose([dy, w, dx]);
  });
});

describe('axisPhases (sub-pixel split of a strided transposed conv)', () => {
  it('splits 3 taps at stride 2 into phases of 2 and 1 taps, by hand', () => {
    // size 8, 3-tap filter, stride 2, pad 0 -> 4 outputs; o*2 + k = i.
    // even i = 2m: taps k=0 (o=m) and k=2 (o=m-1): flipped sub-filter [w2, w0] from dy[m-1]
    // odd i = 2m+1: tap k=1 (o=m)
    expect(axisPhases(8, 4, 3, 2, 0)).toEqual([
      { taps: 2, start: 0, before: 1, after: 0 },
      { taps: 1, start: 1, before: 0, after: 0 },
    ]);
  });

  it('gives a phase no taps where a 1x1 stride-2 filter never reaches', () => {
    expect(axisPhases(5, 3, 1, 2, 0).map((p) => p.taps)).toEqual([1, 0]);
  });

  it('is the plain flipped-filter conv at stride 1', () => {
    // padding k-1-pad before, size+pad-outSize after
    expect(axisPhases(6, 6, 3, 1, 1)).toEqual([{ taps: 3, start: 0, before: 1, after: 1 }]);
  });
});
