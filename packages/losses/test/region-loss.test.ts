import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { mostDissimilarWithin, mostSimilarAcross, otherImage } from '@ediy/matchers';
import {
  createRegionLossInputs,
  isRegionLossName,
  rDemInstanceLoss,
  rDemLoss,
  regionLoss,
  regionLossNames,
  registerRegionLoss,
  rIemLoss,
  type RegionLoss,
  type RegionLossInputs,
} from '@ediy/losses';

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    /** Test loss: mean of the first view's local projection, scaled. */
    'mean-local': RegionLoss<{ scale: number }>;
    /** Test loss returning a vector. */
    'not-scalar': RegionLoss;
  }
}

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

function inputs(seed: number): RegionLossInputs {
  const n = (shape: number[], s: number) => tf.randomNormal(shape, 0, 1, 'float32', seed * 10 + s);
  return createRegionLossInputs({
    local: [n([2, 2, 2, 4], 1) as tf.Tensor4D, n([2, 2, 2, 4], 2) as tf.Tensor4D],
    localPred: [n([2, 2, 2, 4], 3) as tf.Tensor4D, n([2, 2, 2, 4], 4) as tf.Tensor4D],
    targetLocal: [n([2, 2, 2, 4], 5) as tf.Tensor4D, n([2, 2, 2, 4], 6) as tf.Tensor4D],
    onlineGlobal: [n([2, 4], 7) as tf.Tensor2D, n([2, 4], 8) as tf.Tensor2D],
    targetGlobal: [n([2, 4], 9) as tf.Tensor2D, n([2, 4], 10) as tf.Tensor2D],
    teacher: [n([2, 2, 2, 3], 11) as tf.Tensor4D, n([2, 2, 2, 3], 12) as tf.Tensor4D],
    rng: new Rng(seed),
  });
}

function value(t: tf.Scalar): number {
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
}

describe('region loss registry', () => {
  it('registers the built-ins and the dense-contrastive example', () => {
    expect(regionLossNames()).toEqual(
      expect.arrayContaining(['r-dem', 'r-iem', 'r-dem-ins', 'dense-contrastive']),
    );
  });

  it("'r-dem' with the teacher matcher equals rDemLoss on Eq. 4 partners", () => {
    const x = inputs(1);
    const direct = tf.tidy(() =>
      rDemLoss(x.local, [mostDissimilarWithin(x.teacher[0]), mostDissimilarWithin(x.teacher[1])]),
    );
    expect(value(regionLoss('r-dem', x, { matcher: 'teacher' }))).toBeCloseTo(value(direct), 6);
    const twice = tf.tidy(() =>
      rDemLoss(x.local, [mostDissimilarWithin(x.teacher[0]), mostDissimilarWithin(x.teacher[1])], {
        reading: 'first-view-twice',
      }),
    );
    expect(
      value(regionLoss('r-dem', x, { matcher: 'teacher', reading: 'first-view-twice' })),
    ).toBeCloseTo(value(twice), 6);
  });

  it("'r-iem' with the teacher matcher equals rIemLoss on Eq. 6 matches of localPred vs targetLocal", () => {
    const x = inputs(2);
    const direct = tf.tidy(() =>
      rIemLoss(x.localPred, x.targetLocal, [
        mostSimilarAcross(x.teacher[0], x.teacher[1]),
        mostSimilarAcross(x.teacher[1], x.teacher[0]),
      ]),
    );
    expect(value(regionLoss('r-iem', x, { matcher: 'teacher' }))).toBeCloseTo(value(direct), 6);
  });

  it("'r-iem' with pairing 'same-view' pulls each region to its own target (Eq. 6-7 as printed)", () => {
    // p = t in both views gives cos = 1 everywhere: 2 - 1 - 1 = 0; across views it is not 0
    const x = inputs(8);
    const same = { ...x, localPred: x.targetLocal };
    expect(
      value(regionLoss('r-iem', same, { matcher: 'teacher', pairing: 'same-view' })),
    ).toBeCloseTo(0, 5);
    expect(value(regionLoss('r-iem', same, { matcher: 'teacher' }))).toBeGreaterThan(0.1);
    // @ts-expect-error not a pairing
    expect(() => regionLoss('r-iem', x, { matcher: 'teacher', pairing: 'both' })).toThrow(
      /pairing must be 'across' or 'same-view', got "both"/,
    );
  });

  it("'r-dem-ins' draws the other image from the inputs' stream; its negative is the global projection by default", () => {
    const x = inputs(3);
    const viaGlobal = value(
      tf.tidy(() =>
        rDemInstanceLoss(x.local, otherImage(2, new Rng(3)), {
          negative: 'global',
          global: x.onlineGlobal,
        }),
      ),
    );
    expect(value(regionLoss('r-dem-ins', x, {}))).toBeCloseTo(viaGlobal, 6);
    const y = inputs(3);
    const pooled = value(tf.tidy(() => rDemInstanceLoss(y.local, otherImage(2, new Rng(3)))));
    expect(value(regionLoss('r-dem-ins', y, { negative: 'pooled-local' }))).toBeCloseTo(pooled, 6);
    expect(pooled).not.toBeCloseTo(viaGlobal, 3);
  });

  it("'r-dem' with the random matcher differs from the teacher's and is reproducible", () => {
    const a = value(regionLoss('r-dem', inputs(4), { matcher: 'random' }));
    const b = value(regionLoss('r-dem', inputs(4), { matcher: 'random' }));
    expect(a).toBe(b);
    expect(Number.isFinite(a)).toBe(true);
  });

  it('runs a user region loss declared by declaration merging, and checks its result', () => {
    registerRegionLoss('mean-local', (inp, { scale }) =>
      tf.tidy(() => tf.mul(tf.mean(inp.local[0]), scale) as tf.Scalar),
    );
    const x = inputs(5);
    const expected = value(tf.mean(x.local[0]) as tf.Scalar) * 3;
    expect(value(regionLoss('mean-local', x, { scale: 3 }))).toBeCloseTo(expected, 5);
    registerRegionLoss(
      'not-scalar',
      (inp) => tf.mean(inp.local[0], [1, 2, 3]) as unknown as tf.Scalar,
    );
    expect(() => regionLoss('not-scalar', x, {})).toThrow(
      /region loss 'not-scalar' must return a scalar, got shape \[2\]/,
    );
    expect(() => registerRegionLoss('mean-local', () => tf.scalar(0))).toThrow(
      /registered already/,
    );
  });

  it("knows only registered names, not an object's own properties", () => {
    expect(isRegionLossName('r-dem')).toBe(true);
    for (const name of ['constructor', 'toString', '__proto__', 'r-dm', 3]) {
      expect(isRegionLossName(name)).toBe(false);
    }
    // @ts-expect-error 'constructor' is not a key of RegionLossRegistry
    expect(() => regionLoss('constructor', inputs(6), {})).toThrow(
      /unknown region loss 'constructor'/,
    );
  });

  it('fails to compile and throws at run time for an unknown name, listing the known ones', () => {
    const x = inputs(6);
    // @ts-expect-error 'pixpro' is not a key of RegionLossRegistry
    expect(() => regionLoss('pixpro', x, {})).toThrow(
      /unknown region loss 'pixpro'; registered region losses: r-dem, r-iem, r-dem-ins, dense-contrastive/,
    );
    // @ts-expect-error 'nearest' is not a matcher name
    expect(() => regionLoss('r-dem', x, { matcher: 'nearest' })).toThrow(
      /unknown matcher 'nearest'/,
    );
  });

  it('does not leak tensors, gradients included', () => {
    const x = inputs(7);
    const before = tf.memory().numTensors;
    for (const [name, opts] of [
      ['r-dem', { matcher: 'teacher' }],
      ['r-iem', { matcher: 'random' }],
      ['r-dem-ins', {}],
      ['dense-contrastive', {}],
    ] as const) {
      regionLoss(name, x, opts as never).dispose();
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        regionLoss(
          name,
          {
            ...x,
            local: [a as tf.Tensor4D, b as tf.Tensor4D],
            localPred: [a as tf.Tensor4D, b as tf.Tensor4D],
          },
          opts as never,
        ),
      )([x.local[0], x.local[1]]);
      g.forEach((t) => {
        expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
        t.dispose();
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
