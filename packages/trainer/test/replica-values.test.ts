/**
 * The values the replica pool moves between threads: the same values as the tensor, in
 * an array nobody else holds (so its buffer can be transferred), read synchronously or
 * asynchronously, leaving no tensor behind, on the cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { ownedValues, ownedValuesAsync } from '../src/replica-values.js';

describe.each(['cpu', 'wasm'] as const)('ownedValues on %s', (backend) => {
  it('gives the values in an array of its own, synchronously and asynchronously', async () => {
    await initBackend({ prefer: backend });
    const a = tf.tensor2d([1.5, -2, 3, 4.25], [2, 2]);
    const b = tf.range(0, 5, 1, 'float32');
    const before = tf.memory().numTensors;
    const sync = ownedValues(a);
    const [async, second] = await ownedValuesAsync([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(sync)).toEqual([1.5, -2, 3, 4.25]);
    expect(Array.from(async!)).toEqual([1.5, -2, 3, 4.25]);
    expect(Array.from(second!)).toEqual([0, 1, 2, 3, 4]);
    for (const v of [sync, async!, second!]) {
      expect(v).toBeInstanceOf(Float32Array);
      // the whole buffer is this array's: transferring it detaches nothing else
      expect(v.byteOffset).toBe(0);
      expect(v.buffer.byteLength).toBe(v.byteLength);
    }
    sync[0] = 99;
    async![1] = 99;
    expect(Array.from(await a.data())).toEqual([1.5, -2, 3, 4.25]);
    expect(sync).not.toBe(async);
    tf.dispose([a, b]);
  });
});
