/**
 * E-DIY's weighted sum of its three losses (Eq. 3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange } from '@ediy/core';

/** The loss weights of Eq. 3: `lambda1` R-DEM, `lambda2` R-IEM, `lambda3` BYOL. */
export interface LossWeights {
  /** Weight of R-DEM. */
  lambda1: number;
  /** Weight of R-IEM. */
  lambda2: number;
  /** Weight of BYOL. */
  lambda3: number;
}

/**
 * The paper's weights: all 1. The paper states no defaults; Table 2 varies each weight
 * between 0.1 and 1.0 and the row with all three at 1.0 is its reference.
 */
export const PAPER_LOSS_WEIGHTS: Readonly<LossWeights> = Object.freeze({
  lambda1: 1,
  lambda2: 1,
  lambda3: 1,
});

/** The terms of Eq. 3; absent terms (Table 1 rows without a module) count as 0. */
export interface EdiyTerms {
  /** R-DEM (Eq. 5), weighted by `lambda1`. */
  rDem?: tf.Scalar;
  /** R-IEM (Eq. 7), weighted by `lambda2`. */
  rIem?: tf.Scalar;
  /** BYOL (Eq. 2), weighted by `lambda3`. */
  byol?: tf.Scalar;
}

/** What {@link ediyLoss} returns. */
export interface EdiyLossResult {
  /** `lambda1 * rDem + lambda2 * rIem + lambda3 * byol` over the present terms; new, owned by the caller. */
  total: tf.Scalar;
  /** The present terms, unweighted, keyed `rDem`, `rIem`, `byol`: the tensors passed in (not copies). */
  terms: Record<string, tf.Scalar>;
}

const WEIGHT_OF = { rDem: 'lambda1', rIem: 'lambda2', byol: 'lambda3' } as const;

/** The weight of each named loss term in a weighted sum ({@link weightedSum}). */
export type TermWeights<K extends string = string> = Readonly<Record<K, number>>;

/**
 * `sum_k weights[k] * terms[k]`, in the order of `terms`' keys: Eq. 3 over any set of
 * named terms (a trainer's `byol`, `r-dem`, `r-iem`, a user's region loss, ...). Every
 * term needs a weight and every weight a term; weights must be finite and >= 0; at least
 * one term must be given.
 * @returns a new scalar, owned by the caller (the terms are not disposed).
 */
export function weightedSum<K extends string>(
  terms: Readonly<Record<K, tf.Scalar>>,
  weights: TermWeights<K>,
): tf.Scalar {
  const keys = Object.keys(terms) as K[];
  if (keys.length === 0) throw new Error('weightedSum needs at least one term, got none');
  for (const key of Object.keys(weights)) {
    if (!(key in terms))
      throw new Error(`weightedSum: weights.${key} has no term; the terms are ${keys.join(', ')}`);
  }
  for (const key of keys) {
    assertInRange(weights[key], 0, Number.MAX_VALUE, `weights.${key}`);
    const t: unknown = terms[key];
    if (!(t instanceof tf.Tensor) || t.rank !== 0) {
      const shape = t instanceof tf.Tensor ? `[${t.shape.join(',')}]` : typeof t;
      throw new Error(`terms.${key} must be a scalar tensor, got ${shape}`);
    }
  }
  return tf.tidy(() =>
    keys.length === 1
      ? tf.mul(terms[keys[0] as K], weights[keys[0] as K])
      : tf.addN(keys.map((k) => tf.mul(terms[k], weights[k]))),
  ) as tf.Scalar;
}

/**
 * Eq. 3: `L = lambda1 * L_R-DEM + lambda2 * L_R-IEM + lambda3 * L_BYOL` ({@link weightedSum}
 * of the present terms). Each term is also reported on its own. At least one term must be
 * given; weights must be finite and >= 0.
 */
export function ediyLoss(terms: EdiyTerms, weights: LossWeights): EdiyLossResult {
  for (const key of ['lambda1', 'lambda2', 'lambda3'] as const) {
    assertInRange(weights?.[key], 0, Number.MAX_VALUE, `weights.${key}`);
  }
  const present: Record<string, tf.Scalar> = {};
  const termWeights: Record<string, number> = {};
  for (const key of ['rDem', 'rIem', 'byol'] as const) {
    const t = terms[key];
    if (t === undefined) continue;
    present[key] = t;
    termWeights[key] = weights[WEIGHT_OF[key]];
  }
  if (Object.keys(present).length === 0)
    throw new Error('ediyLoss needs at least one of terms.rDem, terms.rIem, terms.byol');
  return { total: weightedSum(present, termWeights), terms: present };
}
