/**
 * The built-in matchers, registered on import: 'teacher', 'random', 'geometric'.
 */
import { assertShape } from '@ediy/core';
import type * as tf from '@tensorflow/tfjs-core';
import { mostDissimilarWithin } from './dissimilar-within.js';
import { geometricAcross } from './geometric.js';
import { randomAcross, randomWithin } from './random.js';
import { registerMatcher, type Matcher, type MatchContext } from './registry.js';
import { mostSimilarAcross } from './similar-across.js';

function views(context: MatchContext, view: 0 | 1): [tf.Tensor4D, tf.Tensor4D] {
  const own = context.teacher[view];
  const other = context.teacher[view === 0 ? 1 : 0];
  assertShape(own, ['B', 'H', 'W', 'C'], `teacher[${view}]`);
  assertShape(other, ['B', 'H', 'W', 'C'], `teacher[${view === 0 ? 1 : 0}]`);
  return [own, other];
}

/** Teacher-guided (TG) matcher: {@link mostDissimilarWithin} (Eq. 4) or {@link mostSimilarAcross} (Eq. 6). */
export const teacherMatcher: Matcher = (context, { kind, view }) => {
  const [own, other] = views(context, view);
  return kind === 'within' ? mostDissimilarWithin(own) : mostSimilarAcross(own, other);
};

/** Random (R) matcher: {@link randomWithin} or {@link randomAcross}, drawing from `context.rng`. */
export const randomMatcher: Matcher = (context, { kind, view }) => {
  const [own, other] = views(context, view);
  const [b, h, w] = own.shape;
  const n = h * w;
  return kind === 'within'
    ? randomWithin(b, n, context.rng)
    : randomAcross(b, n, other.shape[1] * other.shape[2], context.rng);
};

/** Geometric matcher (across only): {@link geometricAcross} on `context.boxes` and `context.flipped`. */
export const geometricMatcher: Matcher = (context, { kind, view }) => {
  if (kind !== 'across') {
    throw new Error(
      `matcher 'geometric' pairs regions across views only; got kind '${kind}' (use 'teacher' or 'random' within a view)`,
    );
  }
  if (!context.boxes || !context.flipped) {
    throw new Error(
      "matcher 'geometric' needs context.boxes and context.flipped (the crop boxes and flips of both views)",
    );
  }
  const [own, other] = views(context, view);
  const w = view === 0 ? 1 : 0;
  const boxes = context.boxes[view];
  if (boxes.length !== own.shape[0]) {
    throw new Error(
      `context.boxes[${view}] has ${boxes.length} boxes, expected one per image (B=${own.shape[0]})`,
    );
  }
  return geometricAcross(
    boxes,
    context.flipped[view],
    context.boxes[w],
    context.flipped[w],
    [own.shape[1], own.shape[2]],
    [other.shape[1], other.shape[2]],
  );
};

registerMatcher('teacher', teacherMatcher);
registerMatcher('random', randomMatcher);
registerMatcher('geometric', geometricMatcher);
