import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchItem, readFloat, readLabels, readMask } from '@ediy/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('readFloat', () => {
  it('reads a tensor and a host array alike, binding named dimensions', () => {
    const values = [1, 2, 3, 4, 5, 6];
    const t = tf.tensor2d(values, [2, 3]);
    const before = tf.memory().numTensors;
    const fromTensor = readFloat(t, ['N', 'C'], 'features');
    expect(tf.memory().numTensors).toBe(before); // reads without allocating tensors
    t.dispose();
    const host = { data: Float32Array.from(values), shape: [2, 3] };
    const fromHost = readFloat(host, ['N', 3], 'features');
    expect([...fromTensor.data]).toEqual(values);
    expect(fromTensor.dims).toEqual({ N: 2, C: 3 });
    expect(fromHost.data).toBe(host.data); // no copy of a host array
    expect(fromHost.shape).toEqual([2, 3]);
  });

  it('names the value and what was expected on bad input', () => {
    expect(() =>
      readFloat({ data: new Float32Array(5), shape: [2, 3] }, ['N', 'C'], 'feats'),
    ).toThrow('feats.data has 5 values but shape [2,3] needs 6');
    expect(() =>
      readFloat({ data: Float32Array.of(1, NaN), shape: [1, 2] }, ['N', 'C'], 'feats'),
    ).toThrow('feats must hold finite values, got NaN at flat index 1');
    expect(() =>
      readFloat({ data: new Float32Array(6), shape: [2, 3] }, ['N', 4], 'feats'),
    ).toThrow(/feats must have shape \[N,4\]/);
    const ints = tf.tensor1d([1, 2], 'int32');
    expect(() => readFloat(ints, ['N'], 'feats')).toThrow(
      'feats must have dtype float32, got int32',
    );
    ints.dispose();
    expect(() => readFloat(null as never, ['N'], 'feats')).toThrow(TypeError);
  });
});

describe('readMask and readLabels', () => {
  it('accepts class ids in range and the ignore label, and rejects others', () => {
    const mask = { data: Int32Array.of(0, 2, 255, 1), shape: [2, 2] };
    expect(readMask(mask, ['H', 'W'], 3, 'mask', {}, 255).dims).toEqual({ H: 2, W: 2 });
    expect(() => readMask(mask, ['H', 'W'], 3, 'mask')).toThrow(
      'mask must hold integer class ids in [0, 2], got 255 at index 2',
    );
    expect([...readLabels([0, 1, 1], 3, 2, 'labels')]).toEqual([0, 1, 1]);
    expect(() => readLabels([0, 1], 3, 2, 'labels')).toThrow(
      'labels must have one label per feature row (3), got 2',
    );
    expect(() => readLabels([0, 2], 2, 2, 'labels')).toThrow(/got 2 at index 1/);
  });
});

describe('batchItem', () => {
  it('views one item of a batch without copying', () => {
    const batch = { data: Float32Array.from({ length: 12 }, (_, i) => i), shape: [3, 2, 2] };
    const item = batchItem(batch, 1);
    expect(item.shape).toEqual([2, 2]);
    expect([...item.data]).toEqual([4, 5, 6, 7]);
    item.data[0] = -1;
    expect(batch.data[4]).toBe(-1);
    expect(() => batchItem(batch, 3)).toThrow(
      'batchItem index must be an integer in [0, 2], got 3',
    );
  });
});
