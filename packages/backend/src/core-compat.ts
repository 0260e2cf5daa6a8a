/**
 * The shared utilities that moved to `@ediy/core`, re-exported here so code importing them
 * from `@ediy/backend` keeps working. Import them from `@ediy/core` instead: it needs no
 * tfjs backend.
 */
import * as core from '@ediy/core';

/**
 * A seeded random stream (sfc32).
 * @deprecated Moved to `@ediy/core`; import `Rng` from there.
 */
export const Rng = core.Rng;
/** @deprecated Moved to `@ediy/core`; import `Rng` from there. */
export type Rng = core.Rng;
/** @deprecated Moved to `@ediy/core`; import `RngState` from there. */
export type RngState = core.RngState;
/** @deprecated Moved to `@ediy/core`; import `ShapePattern` from there. */
export type ShapePattern = core.ShapePattern;
/**
 * Checks that a tensor matches a shape pattern.
 * @deprecated Moved to `@ediy/core`; import `assertShape` from there.
 */
export const assertShape = core.assertShape;
/**
 * Checks several tensors' shapes at once.
 * @deprecated Moved to `@ediy/core`; import `assertShapes` from there.
 */
export const assertShapes = core.assertShapes;
/**
 * Checks that a value is a finite number in a range.
 * @deprecated Moved to `@ediy/core`; import `assertInRange` from there.
 */
export const assertInRange = core.assertInRange;
/**
 * Checks that a value is an integer at least some minimum.
 * @deprecated Moved to `@ediy/core`; import `assertInteger` from there.
 */
export const assertInteger = core.assertInteger;
