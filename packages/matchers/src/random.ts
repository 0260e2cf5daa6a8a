/**
 * Random region pairing (Table 1, "R"): a uniformly random partner region.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, type Rng } from '@ediy/core';

/**
 * For each region `j` of each image, a uniformly random other region of the same view
 * (Table 1, R for R-DEM): `(j + 1 + U{0..N-2}) mod N`, so never `j` itself.
 *
 * @param batch - B, >= 1.
 * @param regions - N, >= 2 (with one region there is no other).
 * @param rng - the seeded stream to draw from; it advances by `B*N` draws.
 * @returns int32 `[B,N]` indices into the same view; owned by the caller.
 */
export function randomWithin(batch: number, regions: number, rng: Rng): tf.Tensor2D {
  assertInteger(batch, 1, 'batch');
  assertInteger(regions, 2, 'regions (a region needs another region of its view)');
  const out = new Int32Array(batch * regions);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < regions; j++)
      out[b * regions + j] = (j + 1 + rng.int(regions - 1)) % regions;
  }
  return tf.tensor2d(out, [batch, regions], 'int32');
}

/**
 * For each region of view A, a uniformly random region of view B (Table 1, R for R-IEM).
 *
 * @param batch - B, >= 1.
 * @param regionsA - N_A, >= 1.
 * @param regionsB - N_B, >= 1.
 * @param rng - the seeded stream to draw from; it advances by `B*N_A` draws.
 * @returns int32 `[B,N_A]` indices into B's regions; owned by the caller.
 */
export function randomAcross(
  batch: number,
  regionsA: number,
  regionsB: number,
  rng: Rng,
): tf.Tensor2D {
  assertInteger(batch, 1, 'batch');
  assertInteger(regionsA, 1, 'regionsA');
  assertInteger(regionsB, 1, 'regionsB');
  const out = new Int32Array(batch * regionsA);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(regionsB);
  return tf.tensor2d(out, [batch, regionsA], 'int32');
}
