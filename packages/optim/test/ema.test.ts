import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { emaUpdate } from '@ediy/optim';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('emaUpdate', () => {
  it('matches a value worked out by hand, in place', () => {
    const target = tf.variable(tf.tensor1d([1, 2]), false, 'ema_hand/target');
    const online = tf.variable(tf.tensor1d([3, 6]), true, 'ema_hand/online');
    emaUpdate([target], [online], 0.75);
    // 0.75*[1, 2] + 0.25*[3, 6] = [0.75 + 0.75, 1.5 + 1.5] = [1.5, 3]
    expect(Array.from(target.dataSync())).toEqual([1.5, 3]);
    expect(Array.from(online.dataSync())).toEqual([3, 6]);
    emaUpdate([target], [online], 0);
    expect(Array.from(target.dataSync())).toEqual([3, 6]);
    tf.dispose([target, online]);
  });

  it('writes through read()/write() variables such as tfjs-layers weights', () => {
    const store: tf.Variable = tf.variable(tf.tensor2d([[4, 8]]), false, 'ema_layer/store');
    const layerLike = {
      name: 'ema_layer/kernel',
      shape: [1, 2],
      read: () => store,
      write: (v: tf.Tensor) => store.assign(v as tf.Tensor2D),
    };
    const online = tf.variable(tf.tensor2d([[0, 0]]), true, 'ema_layer/online');
    emaUpdate([layerLike], [online], 0.5); // 0.5*[4, 8] + 0.5*[0, 0] = [2, 4]
    expect(Array.from(store.dataSync())).toEqual([2, 4]);
    tf.dispose([store, online]);
  });

  it('does not leak over 50 updates', () => {
    const target = tf.variable(tf.ones([3, 3]), false, 'ema_leak/target');
    const online = tf.variable(tf.zeros([3, 3]), true, 'ema_leak/online');
    emaUpdate([target], [online], 0.9);
    const after1 = tf.memory().numTensors;
    for (let i = 1; i < 50; i++) emaUpdate([target], [online], 0.9);
    expect(tf.memory().numTensors).toBe(after1);
    expect(target.dataSync()[0]).toBeCloseTo(0.9 ** 50, 5);
    tf.dispose([target, online]);
  });

  it('rejects mismatched lists and shapes, naming the variables, before writing', () => {
    const a = tf.variable(tf.ones([2, 3]), false, 'ema_bad/target_a');
    const b = tf.variable(tf.ones([2]), false, 'ema_bad/target_b');
    const oa = tf.variable(tf.zeros([2, 3]), true, 'ema_bad/online_a');
    const ob = tf.variable(tf.zeros([3, 2]), true, 'ema_bad/online_b');
    expect(() => emaUpdate([a, b], [oa], 0.5)).toThrow(/2 target variables but 1 online variables/);
    expect(() => emaUpdate([a, b], [oa, ob], 0.5)).toThrow(
      /target 'ema_bad\/target_b' has shape \[2\] but online 'ema_bad\/online_b' has shape \[3,2\] \(pair 1\)/,
    );
    expect(Array.from(a.dataSync())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => emaUpdate([a], [oa], 1.5)).toThrow(
      /emaUpdate tau must be a number in \[0, 1\], got 1.5/,
    );
    tf.dispose([a, b, oa, ob]);
  });
});
