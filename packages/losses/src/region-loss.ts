/**
 * The RegionLoss interface and its registry: region-level losses chosen by name.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@ediy/core';
import { match, type CropBox, type MatcherName, type ViewIndex } from '@ediy/matchers';
import type { DenseContrastiveOptions } from './region-losses/dense-contrastive.js';
import type {
  RDemInstanceRegionOptions,
  RDemRegionOptions,
  RIemRegionOptions,
} from './region-losses/builtin.js';

/** What one training step computed, as a region loss sees it. Tensors belong to the caller. */
export interface RegionLossInputs {
  /** Online local projections of view 1 and 2, `[B,H,W,C]`. */
  local: readonly [tf.Tensor4D, tf.Tensor4D];
  /**
   * Online local predictions (local projector + local predictor), `[B,H,W,C]`. Without a
   * local predictor, the same tensors as `local`.
   */
  localPred: readonly [tf.Tensor4D, tf.Tensor4D];
  /** Target (EMA) local projections, `[B,H,W,C]`. */
  targetLocal: readonly [tf.Tensor4D, tf.Tensor4D];
  /** Online global projections, `[B,D]`. */
  onlineGlobal: readonly [tf.Tensor2D, tf.Tensor2D];
  /** Target global projections, `[B,D]`. */
  targetGlobal: readonly [tf.Tensor2D, tf.Tensor2D];
  /** Teacher layer4 maps, `[B,H,W,C']`. */
  teacher: readonly [tf.Tensor4D, tf.Tensor4D];
  /** Crop boxes of each view, one per image (for geometric matching). */
  boxes?: readonly [readonly CropBox[], readonly CropBox[]];
  /** Horizontal flips of each view, one per image (for geometric matching). */
  flipped?: readonly [readonly boolean[], readonly boolean[]];
  /** The seeded stream random choices draw from. */
  rng: Rng;
  /**
   * Pairs the regions of `view` with the named matcher: int32 `[B,N]` into the same view
   * (`within`) or the other view (`across`); a new tensor, owned by the caller (the loss).
   */
  match(matcher: MatcherName, kind: 'within' | 'across', view: ViewIndex): tf.Tensor2D;
}

/**
 * A region-level loss: a function of one step's tensors and its options, returning a
 * scalar that the caller owns. It must dispose what it allocates (tf.tidy).
 */
export type RegionLoss<Options = Record<string, never>> = (
  inputs: RegionLossInputs,
  options: Options,
) => tf.Scalar;

/**
 * The names a region loss can be looked up by, with their option types. Add your own with
 * declaration merging and register it with {@link registerRegionLoss}:
 *
 * ```ts no-run
 * declare module '@ediy/losses' {
 *   interface RegionLossRegistry { 'my-loss': RegionLoss<{ weight: number }> }
 * }
 * registerRegionLoss('my-loss', (inputs, { weight }) => ...);
 * ```
 */
export interface RegionLossRegistry {
  /** R-DEM (Eq. 5) with partners from a matcher's `within` pairing. */
  'r-dem': RegionLoss<RDemRegionOptions>;
  /** R-IEM (Eq. 7) with partners from a matcher's `across` pairing. */
  'r-iem': RegionLoss<RIemRegionOptions>;
  /** R-INS (Table 1): R-DEM against another image's global feature. */
  'r-dem-ins': RegionLoss<RDemInstanceRegionOptions>;
  /** DenseCL-style dense contrastive loss with in-batch negatives. */
  'dense-contrastive': RegionLoss<DenseContrastiveOptions>;
}

/** A registered region loss name. */
export type RegionLossName = keyof RegionLossRegistry & string;

/** The options type of region loss `K`. */
export type RegionLossOptions<K extends RegionLossName> = Parameters<RegionLossRegistry[K]>[1];

/**
 * The options a term of region loss `K` states beside its matcher: `K`'s options
 * without `matcher` (the term gives it, see {@link RegionTerm}).
 */
export type RegionTermOptions<K extends RegionLossName> = Omit<RegionLossOptions<K>, 'matcher'>;

/** What region loss `K` is called with for a term: the term's options and its matcher. */
export type RegionTermCallOptions<K extends RegionLossName> = RegionTermOptions<K> & {
  /** The term's matcher. */
  matcher: MatcherName;
};

/** `options` of a term: optional when every option of the loss is. */
type TermOptionsField<O> =
  Record<never, never> extends O
    ? {
        /** Options of the loss, besides its matcher. */
        options?: O;
      }
    : {
        /** Options of the loss, besides its matcher. */
        options: O;
      };

/**
 * One region term of Eq. 3, its type derived from {@link RegionLossRegistry}: the loss's
 * name, its weight, the matcher pairing its regions and the loss's own options (the
 * matcher aside). A misspelt loss, matcher or option, or a missing required option,
 * fails to compile; a loss declared in the registry by a user is checked the same way.
 *
 * ```ts no-run
 * const terms: RegionTerm[] = [
 *   { loss: 'r-dem', weight: 1, matcher: 'teacher' },
 *   { loss: 'r-iem', weight: 1, matcher: 'teacher', options: { pairing: 'across' } },
 * ];
 * ```
 */
export type RegionTerm<K extends RegionLossName = RegionLossName> = {
  [N in K]: {
    /** Name of a registered region loss. */
    loss: N;
    /** Its weight in the sum (lambda1 for R-DEM, lambda2 for R-IEM in Eq. 3). */
    weight: number;
    /** Name of a registered matcher. */
    matcher: MatcherName;
  } & TermOptionsField<RegionTermOptions<N>>;
}[K];

/**
 * A registered loss, callable with its declared options and with a term's (its options
 * and matcher): what {@link registerRegionLoss} accepts for name `K`.
 */
export type RegisteredRegionLoss<K extends RegionLossName> = RegionLoss<RegionLossOptions<K>> &
  RegionLoss<RegionTermCallOptions<K>>;

/** The registered losses, each under its name with its own option type (no prototype). */
const losses: { [K in RegionLossName]?: RegisteredRegionLoss<K> } = Object.create(null);

/**
 * Registers a region loss under `name` (declare it in {@link RegionLossRegistry} first).
 * Registering a name twice throws, unless `replace` is true.
 */
export function registerRegionLoss<K extends RegionLossName>(
  name: K,
  loss: RegisteredRegionLoss<K>,
  replace = false,
): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`region loss name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (typeof loss !== 'function')
    throw new Error(`region loss '${name}' must be a function, got ${typeof loss}`);
  if (losses[name] !== undefined && !replace) {
    throw new Error(
      `a region loss named '${name}' is registered already; pass replace=true to replace it`,
    );
  }
  losses[name] = loss;
}

/** The names of the registered region losses, in registration order. */
export function regionLossNames(): string[] {
  return Object.keys(losses);
}

/** Whether `name` is a registered region loss (a name a config read from JSON gives, say). */
export function isRegionLossName(name: unknown): name is RegionLossName {
  return typeof name === 'string' && Object.hasOwn(losses, name);
}

function registered<K extends RegionLossName>(name: K): RegisteredRegionLoss<K> {
  const loss = losses[name];
  if (!loss)
    throw new Error(
      `unknown region loss '${String(name)}'; registered region losses: ${regionLossNames().join(', ')}`,
    );
  return loss;
}

function checkScalar(name: string, value: tf.Scalar | undefined): tf.Scalar {
  if (value?.rank !== 0) {
    const got = value ? `shape [${value.shape.join(',')}]` : String(value);
    value?.dispose();
    throw new Error(`region loss '${name}' must return a scalar, got ${got}`);
  }
  return value;
}

/**
 * Computes the region loss `name` on one step's inputs. Throws, listing the registered
 * names, for an unknown one, and checks that the loss returned a scalar.
 * @returns a new scalar owned by the caller.
 */
export function regionLoss<K extends RegionLossName>(
  name: K,
  inputs: RegionLossInputs,
  options: RegionLossOptions<K>,
): tf.Scalar {
  return checkScalar(name, registered(name)(inputs, options));
}

/**
 * Computes a term's region loss ({@link RegionTerm}): its loss called with the term's
 * options and matcher. Throws for an unknown loss, listing the registered ones, and
 * checks that the loss returned a scalar.
 * @returns a new scalar owned by the caller.
 */
export function regionTermLoss<K extends RegionLossName>(
  term: RegionTerm<K>,
  inputs: RegionLossInputs,
): tf.Scalar {
  const loss = registered(term.loss);
  return checkScalar(term.loss, loss(inputs, { ...term.options, matcher: term.matcher }));
}

/**
 * Builds {@link RegionLossInputs} from one step's tensors, with `match` running the
 * registered matchers on `teacher`, `boxes`, `flipped` and `rng`.
 */
export function createRegionLossInputs(fields: Omit<RegionLossInputs, 'match'>): RegionLossInputs {
  const context = {
    teacher: fields.teacher,
    rng: fields.rng,
    ...(fields.boxes ? { boxes: fields.boxes } : {}),
    ...(fields.flipped ? { flipped: fields.flipped } : {}),
  };
  return { ...fields, match: (matcher, kind, view) => match(matcher, context, { kind, view }) };
}
