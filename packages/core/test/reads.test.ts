/**
 * Computations that read tensors, run synchronously (`dataSync`) or asynchronously
 * (`await data()`): the same values either way, every yielded tensor disposed, and a
 * failed read stops the computation and runs its cleanup.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  readFloat,
  readFloatAsync,
  readMask,
  readMaskAsync,
  runReads,
  runReadsAsync,
  type TensorReads,
} from '@ediy/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Sums x^2 and then 2 * that, with two reads; `cleaned` records its finally block. */
function* twoReads(x: tf.Tensor, cleaned: string[]): TensorReads<number[]> {
  const kept = tf.clone(x);
  try {
    const [sq] = yield [tf.tidy(() => tf.sum(tf.square(kept)))];
    const [double, raw] = yield [tf.mul(kept, 2), tf.clone(kept)];
    return [sq?.[0] as number, ...Array.from(double as Float32Array), ...Array.from(raw ?? [])];
  } finally {
    kept.dispose();
    cleaned.push('done');
  }
}

describe('runReads and runReadsAsync', () => {
  it('give the same values, read in order, and dispose every yielded tensor', async () => {
    const x = tf.tensor1d([1, -2, 3]);
    const before = tf.memory().numTensors;
    const cleaned: string[] = [];
    const now = runReads(twoReads(x, cleaned));
    expect(tf.memory().numTensors).toBe(before);
    const later = await runReadsAsync(twoReads(x, cleaned));
    expect(tf.memory().numTensors).toBe(before);
    expect(now).toEqual([14, 2, -4, 6, 1, -2, 3]);
    expect(later).toEqual(now);
    expect(cleaned).toEqual(['done', 'done']);
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  it('a failed read disposes the tensors, runs the cleanup and throws its error', async () => {
    const x = tf.tensor1d([1, 2]);
    const before = tf.memory().numTensors;
    const cleaned: string[] = [];
    let reads = 0;
    const fail = (): never => {
      throw new Error('the device was lost');
    };
    const original = tf.Tensor.prototype.dataSync;
    // the second read fails (the first batch's, then the second batch's first tensor)
    vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: tf.Tensor) {
      if (++reads === 2) fail();
      return original.call(this) as never;
    });
    expect(() => runReads(twoReads(x, cleaned))).toThrow('the device was lost');
    expect(tf.memory().numTensors).toBe(before);
    reads = 0;
    vi.restoreAllMocks();
    vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
      return ++reads === 2
        ? Promise.reject(new Error('mapAsync failed'))
        : Promise.resolve(original.call(this) as never);
    });
    await expect(runReadsAsync(twoReads(x, cleaned))).rejects.toThrow('mapAsync failed');
    expect(tf.memory().numTensors).toBe(before);
    expect(cleaned).toEqual(['done', 'done']);
    x.dispose();
  });

  it('an error of the computation itself propagates from both runners', async () => {
    function* bad(): TensorReads<number> {
      yield [tf.scalar(1)];
      throw new RangeError('bad value');
    }
    const before = tf.memory().numTensors;
    expect(() => runReads(bad())).toThrow('bad value');
    await expect(runReadsAsync(bad())).rejects.toThrow('bad value');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('readFloatAsync and readMaskAsync', () => {
  it('read what readFloat and readMask read, and leave the caller its tensor', async () => {
    const t = tf.tensor2d([1.5, 2, -3, 4, 5, 6.25], [2, 3]);
    const m = tf.tensor2d([0, 2, 1, 255], [2, 2], 'int32');
    const before = tf.memory().numTensors;
    const now = readFloat(t, ['N', 'C'], 'features');
    const later = await readFloatAsync(t, ['N', 'C'], 'features');
    expect(later).toEqual(now);
    expect([...later.data]).toEqual([1.5, 2, -3, 4, 5, 6.25]);
    const maskNow = readMask(m, ['H', 'W'], 3, 'mask', {}, 255);
    const maskLater = await readMaskAsync(m, ['H', 'W'], 3, 'mask', {}, 255);
    expect(maskLater).toEqual(maskNow);
    expect([...maskLater.data]).toEqual([0, 2, 1, 255]);
    expect(tf.memory().numTensors).toBe(before);
    expect(t.isDisposed || m.isDisposed).toBe(false);
    tf.dispose([t, m]);
  });

  it('reject with the errors of the synchronous readers', async () => {
    const nan = tf.tensor1d([1, NaN]);
    await expect(readFloatAsync(nan, ['N'], 'feats')).rejects.toThrow(
      'feats must hold finite values, got NaN at flat index 1',
    );
    await expect(readFloatAsync(nan, ['N', 'C'], 'feats')).rejects.toThrow(
      /feats must have rank 2 \[N,C\], got shape \[2\]/,
    );
    const ints = tf.tensor1d([1, 3], 'int32');
    await expect(readFloatAsync(ints, ['N'], 'feats')).rejects.toThrow(
      'feats must have dtype float32, got int32',
    );
    await expect(readMaskAsync(ints, ['N'], 3, 'mask')).rejects.toThrow(
      'mask must hold integer class ids in [0, 2], got 3 at index 1',
    );
    await expect(readMaskAsync(nan, ['N'], 3, 'mask')).rejects.toThrow(
      'mask must have dtype int32, got float32',
    );
    await expect(readFloatAsync(null as never, ['N'], 'feats')).rejects.toThrow(TypeError);
    tf.dispose([nan, ints]);
  });
});
