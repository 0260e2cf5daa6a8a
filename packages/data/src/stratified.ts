/**
 * Seeded, class-stratified index splits: the one held-out split of a folder that ships
 * none, and the probe split of held-out images into a shuffled training part and a
 * disjoint scored part.
 */
import { assertInRange, Rng } from '@ediy/core';

/** Two disjoint sets of indices. */
export interface IndexSplit {
  /** Indices of the first part (training). */
  train: Int32Array;
  /** Indices of the second part (held out, or scored). */
  test: Int32Array;
}

/** Options of {@link stratifiedSplit}. */
export interface StratifiedSplitOptions {
  /** Share of each class that goes to `test`, in [0, 1]. */
  testFraction: number;
  /** Seed: the same labels and seed give the same split. */
  seed: number;
  /** Both parts in a seeded shuffled order (true) or in increasing index order (default false). */
  shuffle?: boolean;
}

function groups(labels: ArrayLike<number>): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (!Number.isInteger(y) || y < -1) {
      throw new RangeError(
        `stratifiedSplit: label ${String(y)} of item ${i} must be a class index >= 0 or -1 (unlabeled)`,
      );
    }
    let list = byClass.get(y);
    if (!list) byClass.set(y, (list = []));
    list.push(i);
  }
  return byClass;
}

/**
 * Splits items by their labels into disjoint `train` and `test` parts, per class: a
 * class of `n` items gives `n * testFraction` to `test` (rounded so that the classes add up
 * to `round(N * testFraction)`, by largest remainder), chosen by a permutation seeded by
 * `(seed, class)`, and at least one goes to each part when `n >= 2` and
 * `testFraction` is strictly between 0 and 1. So every class is represented in both parts
 * in proportion.
 * Unlabeled items (`-1`) are one group. The result does not depend on the items' order
 * beyond their indices.
 * @throws when `testFraction` is not in [0, 1] or a label is not an integer >= -1.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  options: StratifiedSplitOptions,
): IndexSplit {
  assertInRange(options?.testFraction, 0, 1, 'stratifiedSplit: testFraction');
  if (!Number.isFinite(options.seed)) {
    throw new RangeError(
      `stratifiedSplit: seed must be a finite number, got ${String(options.seed)}`,
    );
  }
  const f = options.testFraction;
  const root = new Rng(options.seed);
  const train: number[] = [];
  const test: number[] = [];
  const byClass = [...groups(labels)].sort((a, b) => a[0] - b[0]);
  // largest remainder: the class shares add up to round(N * f)
  const quota = byClass.map(([, m]) => m.length * f);
  const counts = quota.map(Math.floor);
  let left = Math.round(labels.length * f) - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quota
    .map((q, k) => [q - Math.floor(q), k] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, k] of byRemainder) {
    if (left <= 0) break;
    counts[k] = (counts[k] as number) + 1;
    left--;
  }
  for (const [c, [y, members]] of byClass.entries()) {
    const n = members.length;
    let nTest = counts[c] as number;
    if (f > 0 && f < 1 && n >= 2) nTest = Math.min(n - 1, Math.max(1, nTest));
    const perm = root.fork(`class:${y}`).permutation(n);
    for (let i = 0; i < n; i++) {
      (i < nTest ? test : train).push(members[perm[i] as number] as number);
    }
  }
  const order = (part: number[], name: string): Int32Array => {
    const out = Int32Array.from(part).sort();
    if (!options.shuffle) return out;
    const perm = root.fork(name).permutation(out.length);
    return Int32Array.from(perm, (p) => out[p] as number);
  };
  return { train: order(train, 'shuffle:train'), test: order(test, 'shuffle:test') };
}

/** Options of {@link probeSplit}. */
export interface ProbeSplitOptions {
  /** Share of the held-out images that train the probes (and are the kNN memory), in (0, 1). */
  trainFraction: number;
  /** Seed of the split and of the order of each part. */
  seed: number;
}

/**
 * Splits held-out images for the probes: a stratified, seeded split (see
 * {@link stratifiedSplit}) into a training part and a disjoint scored part, each in a
 * seeded shuffled order, so a probe that reads its first images sees every class, and
 * the scored images are ones it did not train on. Use it in place of "the first
 * `trainFraction` of the images", which on class-sorted data trains on some classes and
 * scores on others.
 * @throws when `trainFraction` is not strictly between 0 and 1, or either part would be empty.
 */
export function probeSplit(labels: ArrayLike<number>, options: ProbeSplitOptions): IndexSplit {
  const f = options?.trainFraction;
  if (!(typeof f === 'number' && f > 0 && f < 1)) {
    throw new RangeError(`probeSplit: trainFraction must be in (0, 1), got ${String(f)}`);
  }
  const split = stratifiedSplit(labels, { testFraction: 1 - f, seed: options.seed, shuffle: true });
  if (split.train.length === 0 || split.test.length === 0) {
    throw new RangeError(
      `probeSplit: ${labels.length} images give ${split.train.length} to train and ${split.test.length} to score; expected at least one in each (need 2 or more images)`,
    );
  }
  return split;
}
