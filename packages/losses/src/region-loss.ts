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

const losses = new Map<string, RegionLoss<never>>();

/**
 * Registers a region loss under `name` (declare it in {@link RegionLossRegistry} first).
 * Registering a name twice throws, unless `replace` is true.
 */
export function registerRegionLoss<K extends RegionLossName>(
  name: K,
  loss: RegionLossRegistry[K],
  replace = false,
): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`region loss name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (typeof loss !== 'function')
    throw new Error(`region loss '${name}' must be a function, got ${typeof loss}`);
  if (losses.has(name) && !replace) {
    throw new Error(
      `a region loss named '${name}' is registered already; pass replace=true to replace it`,
    );
  }
  losses.set(name, loss as RegionLoss<never>);
}

/** The names of the registered region losses, in registration order. */
export function regionLossNames(): string[] {
  return [...losses.keys()];
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
  const loss = losses.get(name) as RegionLoss<RegionLossOptions<K>> | undefined;
  if (!loss)
    throw new Error(
      `unknown region loss '${String(name)}'; registered region losses: ${regionLossNames().join(', ')}`,
    );
  const value = loss(inputs, options);
  if (value?.rank !== 0) {
    const got = value ? `shape [${value.shape.join(',')}]` : String(value);
    value?.dispose();
    throw new Error(`region loss '${name}' must return a scalar, got ${got}`);
  }
  return value;
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
