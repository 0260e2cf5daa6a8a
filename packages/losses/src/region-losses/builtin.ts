/**
 * The built-in region losses, registered on import: 'r-dem', 'r-iem', 'r-dem-ins'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { otherImage, type MatcherName } from '@ediy/matchers';
import { rDemLoss, type RDemReading } from '../r-dem.js';
import { rDemInstanceLoss, type RDemInstanceNegative } from '../r-dem-instance.js';
import { rIemLoss } from '../r-iem.js';
import { registerRegionLoss, type RegionLoss } from '../region-loss.js';

/** Options of the 'r-dem' region loss. */
export interface RDemRegionOptions {
  /** Matcher for the `within` pairing: 'teacher' (TG, Eq. 4) or 'random' (R). */
  matcher: MatcherName;
  /** Reading of Eq. 5 (default 'per-view'). */
  reading?: RDemReading;
}

/** Options of the 'r-iem' region loss. */
export interface RIemRegionOptions {
  /** Matcher for the `across` pairing: 'teacher' (TG, Eq. 6), 'random' (R) or 'geometric'. */
  matcher: MatcherName;
  /**
   * Which view the targets come from (default 'across', DESIGN.md). 'same-view' is Eq. 6-7
   * as printed: both sides use the same view, where the argmax of Eq. 6 is the region
   * itself, so each region's prediction is pulled to its own target projection
   * (`S(j) = j`) and `matcher` is not used.
   */
  pairing?: 'across' | 'same-view';
}

/** Options of the 'r-dem-ins' region loss. */
export interface RDemInstanceRegionOptions {
  /**
   * The negative's feature (default 'global': the other image's online global projection,
   * `onlineGlobal`, as DESIGN.md and Table 1 say); 'pooled-local': the mean of its online
   * local projections.
   */
  negative?: RDemInstanceNegative;
}

/** 'r-dem': {@link rDemLoss} on `local`, partners `match(matcher, 'within', v)`. */
export const rDemRegionLoss: RegionLoss<RDemRegionOptions> = (inputs, options) =>
  tf.tidy(() => {
    const partners = [
      inputs.match(options.matcher, 'within', 0),
      inputs.match(options.matcher, 'within', 1),
    ] as const;
    return rDemLoss(inputs.local, partners, options.reading ? { reading: options.reading } : {});
  });

/**
 * 'r-iem': {@link rIemLoss} of `localPred` against `targetLocal`, matches `match(matcher, 'across', v)`
 * (or, with `pairing: 'same-view'`, each region against its own target in the same view).
 */
export const rIemRegionLoss: RegionLoss<RIemRegionOptions> = (inputs, options) =>
  tf.tidy(() => {
    const pairing = options.pairing ?? 'across';
    if (pairing !== 'across' && pairing !== 'same-view') {
      throw new Error(
        `r-iem pairing must be 'across' or 'same-view', got ${JSON.stringify(pairing)}`,
      );
    }
    if (pairing === 'same-view') {
      const self = inputs.localPred.map((p) => {
        const [b, h, w] = p.shape;
        return tf.tile(tf.reshape(tf.range(0, h * w, 1, 'int32'), [1, h * w]), [
          b,
          1,
        ]) as tf.Tensor2D;
      });
      // rIemLoss pairs predictions[v] with targets[w]; swapping the targets pairs each view with itself
      const [t1, t2] = inputs.targetLocal;
      return rIemLoss(inputs.localPred, [t2, t1], [self[0] as tf.Tensor2D, self[1] as tf.Tensor2D]);
    }
    const matches = [
      inputs.match(options.matcher, 'across', 0),
      inputs.match(options.matcher, 'across', 1),
    ] as const;
    return rIemLoss(inputs.localPred, inputs.targetLocal, matches);
  });

/** 'r-dem-ins': {@link rDemInstanceLoss} on `local`, the other image from `otherImage(B, rng)`. */
export const rDemInstanceRegionLoss: RegionLoss<RDemInstanceRegionOptions> = (inputs, options) =>
  tf.tidy(() => {
    const other = otherImage(inputs.local[0].shape[0], inputs.rng);
    const negative = options.negative ?? 'global';
    return rDemInstanceLoss(
      inputs.local,
      other,
      negative === 'global' ? { negative, global: inputs.onlineGlobal } : { negative },
    );
  });

registerRegionLoss('r-dem', rDemRegionLoss);
registerRegionLoss('r-iem', rIemRegionLoss);
registerRegionLoss('r-dem-ins', rDemInstanceRegionLoss);
