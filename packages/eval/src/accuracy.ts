/**
 * Top-k accuracy from class scores.
 */

/** Top-1 and top-5 accuracy, fractions in [0, 1]. */
export interface TopkAccuracy {
  /** Fraction of samples whose highest-scoring class is the label. */
  top1: number;
  /** Fraction whose label is among the 5 highest-scoring classes (all classes when fewer than 5). */
  top5: number;
}

/**
 * Whether `label` is among the `k` highest of `scores[offset .. offset+numClasses-1]`.
 * Ties rank the lower class id first, as argmax does.
 */
export function inTopK(
  scores: ArrayLike<number>,
  offset: number,
  numClasses: number,
  label: number,
  k: number,
): boolean {
  const s = scores[offset + label] as number;
  let ahead = 0;
  for (let c = 0; c < numClasses; c++) {
    const v = scores[offset + c] as number;
    if (v > s || (v === s && c < label)) ahead++;
  }
  return ahead < k;
}

/**
 * Top-1 and top-5 accuracy of row-major scores [n, numClasses] against `labels`.
 * With fewer than 5 classes, top-5 counts all classes (and is 1).
 */
export function topkAccuracy(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): TopkAccuracy {
  const n = labels.length;
  if (scores.length !== n * numClasses) {
    throw new Error(
      `scores must have ${n}x${numClasses} = ${n * numClasses} values, got ${scores.length}`,
    );
  }
  if (n === 0) throw new Error('topkAccuracy needs at least one sample');
  let c1 = 0;
  let c5 = 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i] as number;
    if (inTopK(scores, i * numClasses, numClasses, label, 1)) c1++;
    if (inTopK(scores, i * numClasses, numClasses, label, Math.min(5, numClasses))) c5++;
  }
  return { top1: c1 / n, top5: c5 / n };
}

/**
 * Per-sample correctness of row-major scores [n, numClasses]: 1 where the label is among
 * the `k` highest scores ({@link inTopK}), else 0. Its mean is the top-k accuracy; it is
 * what a bootstrap over test images resamples.
 */
export function topkCorrect(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  k = 1,
): Uint8Array {
  const n = labels.length;
  if (scores.length !== n * numClasses) {
    throw new Error(
      `scores must have ${n}x${numClasses} = ${n * numClasses} values, got ${scores.length}`,
    );
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = inTopK(scores, i * numClasses, numClasses, labels[i] as number, k) ? 1 : 0;
  }
  return out;
}
