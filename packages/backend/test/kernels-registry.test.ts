import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  registerWasmTrainingKernels,
  replacedWasmKernel,
  Rng,
  WASM_TRAINING_KERNELS,
} from '@ediy/backend';
import { expectClose, initBoth, randomValues } from './kernels-helpers.js';

describe('wasm training kernel registration', () => {
  beforeAll(async () => {
    await initBoth();
    await tf.setBackend('wasm');
  });
  afterEach(() => vi.restoreAllMocks());

  it('registers every training kernel for wasm, once, without warnings', () => {
    const warn = vi.spyOn(console, 'warn');
    expect(WASM_TRAINING_KERNELS).toEqual([
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'UnsortedSegmentSum',
      'Tile',
    ]);
    for (const name of WASM_TRAINING_KERNELS)
      expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps the built-in Conv2DBackpropInput it replaced, which agrees with the new one', () => {
    const builtin = replacedWasmKernel('Conv2DBackpropInput');
    expect(builtin).toBeDefined();
    expect(builtin).not.toBe(tf.getKernel('Conv2DBackpropInput', 'wasm'));
    expect(replacedWasmKernel('Tile')).toBeDefined();
    expect(replacedWasmKernel('Conv2DBackpropFilter')).toBeUndefined();
    const backend = tf.backend();
    builtin?.setupFunc?.(backend);
    const rng = new Rng(3);
    const dy = tf.tensor4d(randomValues(rng, [2, 4, 4, 5]), [2, 4, 4, 5]);
    const w = tf.tensor4d(randomValues(rng, [3, 3, 3, 5]), [3, 3, 3, 5]);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 8, 8, 3] };
    const ours = tf
      .engine()
      .runKernel('Conv2DBackpropInput', { dy, filter: w }, attrs) as tf.Tensor;
    const info = builtin?.kernelFunc({
      inputs: { dy, filter: w },
      backend,
      attrs,
    }) as tf.TensorInfo;
    const theirs = Float32Array.from(backend.readSync(info.dataId) as Float32Array);
    backend.disposeData(info.dataId);
    expectClose(Float32Array.from(ours.dataSync()), theirs, 1e-5, 'built-in vs new');
    tf.dispose([dy, w, ours]);
  });

  it('rejects NCHW and a dy of the wrong shape with clear errors', () => {
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    const w = tf.zeros([3, 3, 2, 3]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW' };
    expect(() =>
      tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 2, 3] }),
    ).toThrow("Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' only, got 'NCHW'");
    expect(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: w },
          { ...attrs, inputShape: [1, 4, 4, 2] },
        ),
    ).toThrow("Conv2DBackpropInput on wasm supports dataFormat 'NHWC' only, got 'NCHW'");
    expect(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] },
        ),
    ).toThrow('Conv2DBackpropFilter: dy must have shape [1,2,2,3], got [1,4,4,3]');
    tf.dispose([x, dy, w]);
  });

  it('frees every intermediate: no wasm buffers are left behind', () => {
    const rng = new Rng(4);
    const x = tf.tensor4d(randomValues(rng, [2, 7, 7, 3]), [2, 7, 7, 3]);
    const w = tf.tensor4d(randomValues(rng, [3, 3, 3, 4]), [3, 3, 3, 4]);
    const dw = tf.tensor4d(randomValues(rng, [3, 3, 3, 2]), [3, 3, 3, 2]);
    const dy = tf.tensor4d(randomValues(rng, [2, 4, 4, 4]), [2, 4, 4, 4]);
    const dyDepthwise = tf.tensor4d(randomValues(rng, [2, 4, 4, 6]), [2, 4, 4, 6]);
    const ids = tf.tensor1d([0, 1], 'int32');
    const a = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const runs: Array<() => tf.Tensor> = [
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { ...a, inputShape: x.shape },
          ) as tf.Tensor,
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { ...a, filterShape: w.shape },
          ) as tf.Tensor,
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy: dyDepthwise, filter: dw },
            { ...a, dilations: 1, inputShape: x.shape },
          ) as tf.Tensor,
      () =>
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x, dy: dyDepthwise },
            { ...a, dilations: 1, filterShape: dw.shape },
          ) as tf.Tensor,
      () => tf.unsortedSegmentSum(x, ids, 3),
    ];
    for (const run of runs) {
      const before = tf.engine().backend.numDataIds();
      const tensors = tf.memory().numTensors;
      const out = run();
      expect(tf.engine().backend.numDataIds()).toBe(before + 1);
      out.dispose();
      expect(tf.engine().backend.numDataIds()).toBe(before);
      expect(tf.memory().numTensors).toBe(tensors);
    }
    tf.dispose([x, w, dw, dy, dyDepthwise, ids]);
  });

  it('frees the XNNPACK operators of its temporary filters: the wasm heap does not grow', () => {
    const rng = new Rng(8);
    const x = tf.tensor4d(randomValues(rng, [4, 16, 16, 16]), [4, 16, 16, 16]);
    const w = tf.tensor4d(randomValues(rng, [3, 3, 16, 32]), [3, 3, 16, 32]);
    const dy = tf.tensor4d(randomValues(rng, [4, 8, 8, 32]), [4, 8, 8, 32]);
    const a = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const heap = () =>
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const step = () => {
      const dx = tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: w },
          { ...a, inputShape: x.shape },
        ) as tf.Tensor;
      const dw = tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x, dy }, { ...a, filterShape: w.shape }) as tf.Tensor;
      tf.dispose([dx, dw]);
    };
    for (let i = 0; i < 5; i++) step();
    const before = heap();
    // each step packs ~50 kB of new filters into XNNPACK operators; kept, they would grow the heap
    for (let i = 0; i < 200; i++) step();
    expect(heap()).toBe(before);
    tf.dispose([x, w, dy]);
  });
});
