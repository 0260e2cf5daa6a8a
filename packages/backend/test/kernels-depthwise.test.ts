import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';
import { expectClose, initBoth, randomValues, runOn } from './kernels-helpers.js';

type Pad =
  'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface DepthwiseCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: Pad;
}

const CASES: DepthwiseCase[] = [
  {
    name: '3x3 s1 same',
    x: [2, 6, 6, 3],
    filter: [3, 3, 3, 1],
    strides: 1,
    dilations: 1,
    pad: 'same',
  },
  {
    name: '3x3 s1 valid, multiplier 2',
    x: [2, 6, 7, 3],
    filter: [3, 3, 3, 2],
    strides: 1,
    dilations: 1,
    pad: 'valid',
  },
  {
    name: '3x3 s2 same, odd size',
    x: [2, 7, 9, 2],
    filter: [3, 3, 2, 1],
    strides: 2,
    dilations: 1,
    pad: 'same',
  },
  {
    name: '3x3 s2 valid, multiplier 3',
    x: [1, 8, 8, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    dilations: 1,
    pad: 'valid',
  },
  {
    name: '5x5 s2 explicit pads',
    x: [2, 9, 8, 2],
    filter: [5, 5, 2, 1],
    strides: 2,
    dilations: 1,
    pad: [
      [0, 0],
      [2, 1],
      [1, 2],
      [0, 0],
    ],
  },
  {
    name: '3x3 strides [1,2]',
    x: [2, 6, 8, 2],
    filter: [3, 3, 2, 2],
    strides: [1, 2],
    dilations: 1,
    pad: 'same',
  },
  {
    name: '3x3 dilation 2 same',
    x: [2, 9, 9, 2],
    filter: [3, 3, 2, 1],
    strides: 1,
    dilations: 2,
    pad: 'same',
  },
  {
    name: '3x3 dilation [1,2] valid, multiplier 2',
    x: [1, 8, 9, 3],
    filter: [3, 3, 3, 2],
    strides: 1,
    dilations: [1, 2],
    pad: 'valid',
  },
  {
    name: '2x2 dilation 3 explicit',
    x: [1, 7, 7, 2],
    filter: [2, 2, 2, 1],
    strides: 1,
    dilations: 3,
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
];

const pair = (v: number | [number, number]): [number, number] =>
  typeof v === 'number' ? [v, v] : v;

/**
 * A filter dilated by `d` equals the undilated filter of size (k-1)*d+1 with zeros
 * between taps. tfjs's cpu depthwise gradient kernels ignore dilations, so the cpu
 * reference runs undilated with this filter.
 */
function dilateFilter(
  values: Float32Array,
  shape: number[],
  [dh, dw]: [number, number],
): [Float32Array, number[]] {
  const [kh, kw, c, m] = shape as [number, number, number, number];
  const [eh, ew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const out = new Float32Array(eh * ew * c * m);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < c * m; k++)
        out[(i * dh * ew + j * dw) * c * m + k] = values[(i * kw + j) * c * m + k] as number;
  return [out, [eh, ew, c, m]];
}

/** The taps of an undilated filter gradient that a dilated filter has. */
function undilateGradient(
  values: Float32Array,
  shape: number[],
  [dh, dw]: [number, number],
  kh: number,
  kw: number,
): Float32Array {
  const [, ew, c, m] = shape as [number, number, number, number];
  const out = new Float32Array(kh * kw * c * m);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < c * m; k++)
        out[(i * kw + j) * c * m + k] = values[(i * dh * ew + j * dw) * c * m + k] as number;
  return out;
}

describe('DepthwiseConv2dNative gradient kernels on wasm equal cpu', () => {
  beforeAll(initBoth);

  for (const c of CASES) {
    it(c.name, async () => {
      const rng = new Rng(c.name.length * 104729);
      await tf.setBackend('cpu');
      const probe = tf.depthwiseConv2d(
        tf.zeros(c.x) as tf.Tensor4D,
        tf.zeros(c.filter) as tf.Tensor4D,
        c.strides,
        c.pad,
        'NHWC',
        c.dilations,
      );
      const dyShape = probe.shape;
      probe.dispose();
      const xv = randomValues(rng, c.x);
      const wv = randomValues(rng, c.filter);
      const dyv = randomValues(rng, dyShape);
      const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilations };
      const grads =
        (filterValues: Float32Array, filterShape: number[], dilations: number | [number, number]) =>
        () => {
          const x = tf.tensor(xv, c.x);
          const w = tf.tensor(filterValues, filterShape);
          const dy = tf.tensor(dyv, dyShape);
          const a = { ...attrs, dilations };
          const dx = tf
            .engine()
            .runKernel(
              'DepthwiseConv2dNativeBackpropInput',
              { dy, filter: w },
              { ...a, inputShape: c.x },
            );
          const dw = tf
            .engine()
            .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...a, filterShape });
          return [dx as tf.Tensor, dw as tf.Tensor];
        };
      const dil = pair(c.dilations);
      const [dilated, dilatedShape] = dilateFilter(wv, c.filter, dil);
      const [wantDx, wantDwDilated] = await runOn('cpu', grads(dilated, dilatedShape, 1));
      const wantDw = undilateGradient(
        wantDwDilated as Float32Array,
        dilatedShape,
        dil,
        c.filter[0],
        c.filter[1],
      );
      const [gotDx, gotDw] = await runOn('wasm', grads(wv, c.filter, c.dilations));
      expectClose(gotDx as Float32Array, wantDx as Float32Array, 1e-4, 'dx');
      expectClose(gotDw as Float32Array, wantDw, 1e-4, 'dw');
    });
  }

  it('tf.grad of a depthwise conv runs on wasm', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const w = tf.tensor4d([1, 1, 1, 1], [2, 2, 1, 1]);
    // y = sum of x (one 2x2 valid window), so d(sum y)/dw = x
    const dw = tf.grad((f: tf.Tensor) =>
      tf.sum(tf.depthwiseConv2d(x, f as tf.Tensor4D, 1, 'valid')),
    )(w);
    expect(Array.from(dw.dataSync())).toEqual([1, 2, 3, 4]);
    tf.dispose([x, w, dw]);
  });
});
