import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { gatherRegions, mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

describe('matchers on wasm', () => {
  it('give the hand-computed teacher matches, ties included', () => {
    // Same map as the cpu test: expected D = [2,0,0,2]; identical regions -> [1,0,0,0].
    const t = tf.tensor4d([1, 0, 0, 1, -1, 0, 1, 1], [1, 2, 2, 2]);
    const d = mostDissimilarWithin(t);
    expect(d.arraySync()).toEqual([[2, 0, 0, 2]]);
    const same = tf.ones([1, 2, 2, 2]) as tf.Tensor4D;
    const ds = mostDissimilarWithin(same);
    expect(ds.arraySync()).toEqual([[1, 0, 0, 0]]);
    const s = mostSimilarAcross(t, same);
    expect(s.shape).toEqual([1, 4]);
    tf.dispose([t, d, same, ds, s]);
  });

  it('gather and differentiate gatherRegions (no UnsortedSegmentSum needed)', () => {
    // indices [2,2,0]: row 0 picked once, row 1 never, row 2 twice -> grad of sum = [1, 0, 2] per channel
    const f = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ]);
    const idx = tf.tensor2d([[2, 2, 0]], [1, 3], 'int32');
    const before = tf.memory().numTensors;
    const out = gatherRegions(f, idx);
    expect(out.arraySync()).toEqual([
      [
        [5, 6],
        [5, 6],
        [1, 2],
      ],
    ]);
    out.dispose();
    const g = tf.grad((x: tf.Tensor) => tf.sum(gatherRegions(x as tf.Tensor3D, idx)))(f);
    expect(g.arraySync()).toEqual([
      [
        [1, 1],
        [0, 0],
        [2, 2],
      ],
    ]);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([f, idx, g]);
  });
});
