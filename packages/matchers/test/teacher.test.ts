import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { mostDissimilarWithin, mostSimilarAcross, pairwiseCosine } from '@ediy/matchers';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** A [B,H,W,C] map from B images of H*W region vectors listed row-major. */
function map(images: number[][][], h: number, w: number): tf.Tensor4D {
  const c = images[0]?.[0]?.length ?? 0;
  return tf.tensor4d(images.flat(2), [images.length, h, w, c]);
}

describe('mostDissimilarWithin (Eq. 4)', () => {
  it('picks the argmin cosine over the other regions, computed by hand', () => {
    // Image 0, regions r0..r3 (2x2 grid, n = h*2 + w):
    //   r0=(1,0) r1=(0,1) r2=(-1,0) r3=(1,1)
    //   cos(r0,r1)=0  cos(r0,r2)=-1  cos(r0,r3)=1/sqrt2=.707
    //   cos(r1,r2)=0  cos(r1,r3)=.707  cos(r2,r3)=-.707
    //   D(0)=argmin{r1:0, r2:-1, r3:.707}=2     D(1)=argmin{r0:0, r2:0, r3:.707}=0 (tie: lowest)
    //   D(2)=argmin{r0:-1, r1:0, r3:-.707}=0    D(3)=argmin{r0:.707, r1:.707, r2:-.707}=2
    // Image 1 (lengths differ, so cosine and dot product would disagree on r2):
    //   r0=(2,0) r1=(0,3) r2=(1,1) r3=(0,-0.5)
    //   cos(r0,r1)=0  cos(r0,r2)=.707  cos(r0,r3)=0
    //   cos(r1,r2)=.707  cos(r1,r3)=-1  cos(r2,r3)=-.707
    //   D(0)=argmin{r1:0, r2:.707, r3:0}=1 (tie: lowest)  D(1)=argmin{r0:0, r2:.707, r3:-1}=3
    //   D(2)=argmin{r0:.707, r1:.707, r3:-.707}=3          D(3)=argmin{r0:0, r1:-1, r2:-.707}=1
    const t = map(
      [
        [
          [1, 0],
          [0, 1],
          [-1, 0],
          [1, 1],
        ],
        [
          [2, 0],
          [0, 3],
          [1, 1],
          [0, -0.5],
        ],
      ],
      2,
      2,
    );
    const d = mostDissimilarWithin(t);
    expect(d.dtype).toBe('int32');
    expect(d.shape).toEqual([2, 4]);
    expect(d.arraySync()).toEqual([
      [2, 0, 0, 2],
      [1, 3, 3, 1],
    ]);
    tf.dispose([t, d]);
  });

  it('never picks the region itself, even when all regions are identical (degenerate case)', () => {
    // All cosines are 1; with the diagonal masked, region 0 gets region 1 and the others region 0.
    const t = tf.ones([1, 2, 3, 4]) as tf.Tensor4D;
    const d = mostDissimilarWithin(t);
    expect(d.arraySync()).toEqual([[1, 0, 0, 0, 0, 0]]);
    // Zero vectors have cosine 0 with everything: still never the region itself.
    const z = tf.zeros([1, 1, 3, 2]) as tf.Tensor4D;
    const dz = mostDissimilarWithin(z);
    expect(dz.arraySync()).toEqual([[1, 0, 0]]);
    tf.dispose([t, d, z, dz]);
  });

  it('never picks the region itself on random maps', () => {
    const t = tf.randomNormal([3, 3, 3, 5], 0, 1, 'float32', 7) as tf.Tensor4D;
    const d = mostDissimilarWithin(t).arraySync();
    d.forEach((row) => row.forEach((z, j) => expect(z).not.toBe(j)));
    t.dispose();
  });

  it('rejects a single region, bad ranks and NaN', () => {
    expect(() => mostDissimilarWithin(tf.ones([1, 1, 1, 2]) as tf.Tensor4D)).toThrow(
      /at least 2 regions/,
    );
    expect(() => mostDissimilarWithin(tf.ones([2, 4, 2]) as unknown as tf.Tensor4D)).toThrow(
      /teacherMap must have rank 4/,
    );
    const nan = tf.tensor4d([1, 0, NaN, 1], [1, 1, 2, 2]);
    expect(() => mostDissimilarWithin(nan)).toThrow(/teacherMap must hold only finite numbers/);
  });

  it('does not leak tensors', () => {
    const t = tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const d = mostDissimilarWithin(t);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([t, d]);
  });
});

describe('mostSimilarAcross (Eq. 6 across views)', () => {
  it('picks the argmax cosine over the other view, computed by hand', () => {
    // View A: 1x2 grid a0=(1,0) a1=(0,1); view B: 3x1 grid b0=(0,2) b1=(1,0.1) b2=(-1,0).
    //   cos(a0, b) = (0, 1/sqrt(1.01)=.995, -1)  -> S(0)=1
    //   cos(a1, b) = (1, .1/sqrt(1.01)=.0995, 0) -> S(1)=0
    const a = map(
      [
        [
          [1, 0],
          [0, 1],
        ],
      ],
      1,
      2,
    );
    const b = map(
      [
        [
          [0, 2],
          [1, 0.1],
          [-1, 0],
        ],
      ],
      3,
      1,
    );
    const s = mostSimilarAcross(a, b);
    expect(s.dtype).toBe('int32');
    expect(s.arraySync()).toEqual([[1, 0]]);
    // The other direction: cos(b0,a)=(0,1)->1, cos(b1,a)=(.995,.0995)->0, cos(b2,a)=(-1,0)->1
    const s2 = mostSimilarAcross(b, a);
    expect(s2.arraySync()).toEqual([[1, 0, 1]]);
    tf.dispose([a, b, s, s2]);
  });

  it('rejects mismatched batch or channels with the names of both maps', () => {
    const a = tf.ones([2, 2, 2, 3]) as tf.Tensor4D;
    expect(() => mostSimilarAcross(a, tf.ones([3, 2, 2, 3]) as tf.Tensor4D)).toThrow(
      /teacherMapB has B=3.*teacherMapA/,
    );
    expect(() => mostSimilarAcross(a, tf.ones([2, 2, 2, 4]) as tf.Tensor4D)).toThrow(
      /teacherMapB has C=4/,
    );
    a.dispose();
  });
});

describe('pairwiseCosine', () => {
  it('computes cosines by hand and treats zero vectors as cosine 0', () => {
    // a0=(3,4) |a0|=5; b0=(4,3): cos = (12+12)/25 = .96; b1=(0,0): 0
    const a = tf.tensor3d([[[3, 4]]]);
    const b = tf.tensor3d([
      [
        [4, 3],
        [0, 0],
      ],
    ]);
    const s = pairwiseCosine(a, b);
    const v = s.arraySync()[0]?.[0] ?? [];
    expect(v[0]).toBeCloseTo(0.96, 6);
    expect(v[1]).toBe(0);
    tf.dispose([a, b, s]);
  });
});
