/**
 * The matcher registry: region pairing strategies chosen by name.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@ediy/core';
import type { CropBox, ViewIndex } from './types.js';

/**
 * What one training step knows when it pairs regions. Matchers that need only the grid
 * sizes (random) read the shapes of `teacher`; any `[B,H,W,C]` maps of the two views
 * serve when no teacher is loaded (e.g. the online local projections).
 */
export interface MatchContext {
  /** The teacher's layer4 maps of view 1 and view 2, `[B,H,W,C]` each. */
  teacher: readonly [tf.Tensor4D, tf.Tensor4D];
  /** Crop boxes of each view, one per image, in source pixels (for 'geometric'). */
  boxes?: readonly [readonly CropBox[], readonly CropBox[]];
  /** Horizontal flips of each view, one per image (for 'geometric'). */
  flipped?: readonly [readonly boolean[], readonly boolean[]];
  /** The seeded stream random matchers draw from. */
  rng: Rng;
}

/**
 * Which pairing is asked for: `within` pairs each region of `view` with a region of the same
 * view (R-DEM); `across` pairs it with a region of the other view (R-IEM).
 */
export interface MatchRequest {
  /** Same view (`within`) or the other view (`across`). */
  kind: 'within' | 'across';
  /** The view whose regions are the queries. */
  view: ViewIndex;
}

/**
 * A region pairing strategy. Returns int32 `[B,N]` (N = regions of `request.view`), indices
 * into the same view for `within` and into the other view for `across`; the caller owns it.
 */
export type Matcher = (context: MatchContext, request: MatchRequest) => tf.Tensor2D;

/**
 * The names a matcher can be looked up by. Add your own with declaration merging, then
 * register it at run time with {@link registerMatcher}:
 *
 * ```ts no-run
 * declare module '@ediy/matchers' {
 *   interface MatcherRegistry { nearestColour: Matcher }
 * }
 * registerMatcher('nearestColour', (ctx, req) => ...);
 * ```
 *
 * A name that is not a key here fails to compile wherever a matcher is named.
 */
export interface MatcherRegistry {
  /** Teacher-guided (TG): Eq. 4 within a view, Eq. 6 across views. */
  teacher: Matcher;
  /** Random (Table 1 "R"): a random other region of the same view, or any region of the other view. */
  random: Matcher;
  /** Geometric (PixPro-style), across views only: the nearest region in the source image. */
  geometric: Matcher;
}

/** A registered matcher name. */
export type MatcherName = keyof MatcherRegistry & string;

/** The registered matchers, each under its name (no prototype). */
const matchers: { [K in MatcherName]?: MatcherRegistry[K] } = Object.create(null);

/**
 * Registers a matcher under `name` (declare the name in {@link MatcherRegistry} first).
 * Registering a name twice throws, unless `replace` is true.
 */
export function registerMatcher<K extends MatcherName>(
  name: K,
  matcher: MatcherRegistry[K],
  replace = false,
): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new Error(`matcher name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (typeof matcher !== 'function')
    throw new Error(`matcher '${name}' must be a function, got ${typeof matcher}`);
  if (matchers[name] !== undefined && !replace) {
    throw new Error(
      `a matcher named '${name}' is registered already; pass replace=true to replace it`,
    );
  }
  matchers[name] = matcher;
}

/** The names of the registered matchers, in registration order. */
export function matcherNames(): string[] {
  return Object.keys(matchers);
}

/** Whether `name` is a registered matcher (a name a config read from JSON gives, say). */
export function isMatcherName(name: unknown): name is MatcherName {
  return typeof name === 'string' && Object.hasOwn(matchers, name);
}

/**
 * The matcher registered under `name`. Throws, listing the registered names, for an unknown one.
 */
export function getMatcher<K extends MatcherName>(name: K): MatcherRegistry[K] {
  const m = matchers[name];
  if (!m)
    throw new Error(
      `unknown matcher '${String(name)}'; registered matchers: ${matcherNames().join(', ')}`,
    );
  return m;
}

/**
 * Runs the matcher `name` and checks its result: int32 `[B, N_view]` (B and N from
 * `context.teacher[request.view]`).
 * @returns int32 `[B,N]` indices owned by the caller.
 */
export function match(
  name: MatcherName,
  context: MatchContext,
  request: MatchRequest,
): tf.Tensor2D {
  if (request.kind !== 'within' && request.kind !== 'across') {
    throw new Error(
      `match request kind must be 'within' or 'across', got ${JSON.stringify(request.kind)}`,
    );
  }
  if (request.view !== 0 && request.view !== 1) {
    throw new Error(`match request view must be 0 or 1, got ${JSON.stringify(request.view)}`);
  }
  if (!Array.isArray(context.teacher) || context.teacher.length !== 2) {
    throw new Error("context.teacher must be the two views' [B,H,W,C] maps, [T1, T2]");
  }
  const result = getMatcher(name)(context, request);
  const [b, h, w] = context.teacher[request.view].shape;
  const want = [b, (h ?? 0) * (w ?? 0)];
  if (
    result.dtype !== 'int32' ||
    result.rank !== 2 ||
    result.shape[0] !== want[0] ||
    result.shape[1] !== want[1]
  ) {
    const got = `${result.dtype} [${result.shape.join(',')}]`;
    result.dispose();
    throw new Error(
      `matcher '${name}' must return int32 [${want.join(',')}] for view ${request.view}, got ${got}`,
    );
  }
  return result;
}
