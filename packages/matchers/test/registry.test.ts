import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import {
  getMatcher,
  match,
  matcherNames,
  registerMatcher,
  type CropBox,
  type MatchContext,
  type Matcher,
} from '@ediy/matchers';

declare module '@ediy/matchers' {
  interface MatcherRegistry {
    /** Test matcher: every region pairs with region 0 of the target view. */
    first: Matcher;
    /** Test matcher returning a wrong shape. */
    broken: Matcher;
  }
}

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

function context(): MatchContext {
  // View 1: 1x2 grid a0=(1,0) a1=(0,1); view 2: 1x3 grid b0=(0,1) b1=(1,0) b2=(-1,0)
  const t1 = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
  const t2 = tf.tensor4d([0, 1, 1, 0, -1, 0], [1, 1, 3, 2]);
  return { teacher: [t1, t2], rng: new Rng(1) };
}

describe('matcher registry', () => {
  it('registers the built-ins', () => {
    expect(matcherNames()).toEqual(expect.arrayContaining(['teacher', 'random', 'geometric']));
  });

  it("'teacher' applies Eq. 4 within and Eq. 6 across, per view", () => {
    const ctx = context();
    // within view 1 (2 regions): each region's only other region. within view 2:
    //   cos(b0,b1)=0 cos(b0,b2)=0 cos(b1,b2)=-1 -> D = [1 (tie, lowest), 2, 1]
    // across 1->2: cos(a0,b)=(0,1,-1) -> 1; cos(a1,b)=(1,0,0) -> 0
    // across 2->1: cos(b0,a)=(0,1) -> 1; cos(b1,a)=(1,0) -> 0; cos(b2,a)=(-1,0) -> 1
    const cases: Array<[MatchContext, 'within' | 'across', 0 | 1, number[]]> = [
      [ctx, 'within', 0, [1, 0]],
      [ctx, 'within', 1, [1, 2, 1]],
      [ctx, 'across', 0, [1, 0]],
      [ctx, 'across', 1, [1, 0, 1]],
    ];
    for (const [c, kind, view, want] of cases) {
      const r = match('teacher', c, { kind, view });
      expect(r.arraySync()).toEqual([want]);
      r.dispose();
    }
    tf.dispose([...ctx.teacher]);
  });

  it("'random' draws from the context's stream, reproducibly", () => {
    const a = context();
    const b = context();
    const ra = match('random', a, { kind: 'across', view: 0 });
    const rb = match('random', b, { kind: 'across', view: 0 });
    expect(ra.arraySync()).toEqual(rb.arraySync());
    ra.arraySync()[0]?.forEach((z) => expect(z).toBeLessThan(3));
    const w = match('random', a, { kind: 'within', view: 1 });
    w.arraySync()[0]?.forEach((z, j) => expect(z).not.toBe(j));
    tf.dispose([ra, rb, w, ...a.teacher, ...b.teacher]);
  });

  it("'geometric' pairs across views from the boxes and refuses 'within'", () => {
    const ctx = context();
    // View 1: 1x2 grid over x in [0,4): centres x=1,3. View 2: 1x3 grid over x in [0,6): 1,3,5.
    const box1: CropBox = { y0: 0, x0: 0, y1: 2, x1: 4 };
    const box2: CropBox = { y0: 0, x0: 0, y1: 2, x1: 6 };
    const geo: MatchContext = { ...ctx, boxes: [[box1], [box2]], flipped: [[false], [false]] };
    const r0 = match('geometric', geo, { kind: 'across', view: 0 });
    expect(r0.arraySync()).toEqual([[0, 1]]);
    // 2 -> 1: x=1 -> 1 (idx 0); x=3 -> 3 (idx 1); x=5 -> 3 (idx 1)
    const r1 = match('geometric', geo, { kind: 'across', view: 1 });
    expect(r1.arraySync()).toEqual([[0, 1, 1]]);
    expect(() => match('geometric', geo, { kind: 'within', view: 0 })).toThrow(
      /'geometric' .* across views only; got kind 'within'/,
    );
    expect(() => match('geometric', ctx, { kind: 'across', view: 0 })).toThrow(
      /needs context.boxes and context.flipped/,
    );
    tf.dispose([r0, r1, ...ctx.teacher]);
  });

  it('takes user matchers declared through declaration merging, and checks their output', () => {
    const ctx = context();
    registerMatcher('first', (c, { view }) =>
      tf.zeros(
        [c.teacher[view].shape[0], c.teacher[view].shape[1] * c.teacher[view].shape[2]],
        'int32',
      ),
    );
    const r = match('first', ctx, { kind: 'across', view: 1 });
    expect(r.arraySync()).toEqual([[0, 0, 0]]);
    expect(getMatcher('first')).toBeTypeOf('function');
    registerMatcher('broken', () => tf.zeros([1, 5], 'int32'));
    expect(() => match('broken', ctx, { kind: 'within', view: 0 })).toThrow(
      /matcher 'broken' must return int32 \[1,2\] for view 0, got int32 \[1,5\]/,
    );
    expect(() => registerMatcher('first', () => tf.zeros([1, 1], 'int32'))).toThrow(
      /registered already/,
    );
    tf.dispose([r, ...ctx.teacher]);
  });

  it('fails to compile and throws at run time for an unknown name, listing the known ones', () => {
    const ctx = context();
    // @ts-expect-error 'nearest' is not a key of MatcherRegistry
    expect(() => match('nearest', ctx, { kind: 'within', view: 0 })).toThrow(
      /unknown matcher 'nearest'; registered matchers: teacher, random, geometric/,
    );
    // @ts-expect-error kind must be 'within' | 'across'
    expect(() => match('teacher', ctx, { kind: 'sideways', view: 0 })).toThrow(
      /kind must be 'within' or 'across'/,
    );
    tf.dispose([...ctx.teacher]);
  });

  it('does not leak tensors', () => {
    const ctx = context();
    const before = tf.memory().numTensors;
    for (const name of ['teacher', 'random'] as const) {
      for (const kind of ['within', 'across'] as const)
        match(name, ctx, { kind, view: 1 }).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...ctx.teacher]);
  });
});
