/**
 * A user-land region loss, registered through `@ediy/losses`' public API and trained as
 * an extra row with no change to any package:
 *
 *   ediy pretrain examples/extending/region-variance.ts --preset smoke
 *
 * Region variance: for each image, L2-normalise the online local projections
 * z_j = l[j] / ||l[j]|| of its N regions and take their mean m = (1/N) sum_j z_j. The
 * spread of the regions around m is (1/N) sum_j ||z_j - m||^2 = 1 - ||m||^2, so
 * minimising ||m||^2 (averaged over the images and summed over both views, as R-DEM
 * sums its two views) pushes the regions of an image apart, a cheap cousin of R-DEM
 * (Eq. 5) that needs no teacher and no region pairing. Its value lies in [0, 2].
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerRegionLoss, regionLossNames, type RegionLoss } from '@ediy/losses';
import type { RowConfig } from '@ediy/trainer';

/** Options the trainer passes: the term's matcher (unused: this loss pairs no regions). */
export interface RegionVarianceOptions {
  /** The term's matcher name, ignored. */
  matcher?: string;
}

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    'region-variance': RegionLoss<RegionVarianceOptions>;
  }
}

/** ||m||^2 of one view's local map [B,H,W,C], averaged over the B images. */
export function meanRegionConcentration(local: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [B, H, W, C] = local.shape;
    const z = tf.reshape(local, [B, H * W, C]);
    const unit = tf.div(z, tf.maximum(tf.norm(z, 'euclidean', -1, true), 1e-12));
    const m = tf.mean(unit, 1);
    return tf.mean(tf.sum(tf.square(m), -1)) as tf.Scalar;
  });
}

/** The region loss: ||m||^2 of view 1 plus that of view 2 (online local projections). */
export const regionVarianceLoss: RegionLoss<RegionVarianceOptions> = (inputs) =>
  tf.tidy(
    () =>
      tf.add(
        meanRegionConcentration(inputs.local[0]),
        meanRegionConcentration(inputs.local[1]),
      ) as tf.Scalar,
  );

// Register once, even if the module is loaded twice.
if (!regionLossNames().includes('region-variance'))
  registerRegionLoss('region-variance', regionVarianceLoss);

/** BYOL plus the region-variance term, as a row `ediy pretrain` trains. */
export const row = {
  name: 'extending-region-variance',
  method: {
    byolWeight: 1,
    regionLosses: [{ loss: 'region-variance', weight: 1, matcher: 'random' }],
    localPredictor: true,
  },
} satisfies RowConfig;

export default row;
