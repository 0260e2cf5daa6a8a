/**
 * 95% intervals for evaluation metrics: a percentile bootstrap over test images for one
 * run, and Student's t-interval of the mean over seeds for several.
 */
// @ts-expect-error -- jstat ships no type declarations; the one function used is typed below.
import jstatModule from 'jstat';
import { assertInteger, Rng } from '@ediy/core';

/** The part of jStat (npm `jstat`) used here: Student's t quantile. */
const jstat = jstatModule as {
  jStat: { studentt: { inv(p: number, dof: number): number } };
};

/** A point estimate with a confidence interval. */
export interface Interval {
  /** The estimate (the statistic on all items, or the mean over seeds). */
  estimate: number;
  /** Lower end of the interval. */
  low: number;
  /** Upper end of the interval. */
  high: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** How the interval was made. */
  method: 'bootstrap' | 't';
  /** Items resampled (bootstrap: test images) or values averaged (t: seeds). */
  n: number;
}

/** Options of {@link bootstrapInterval}. */
export interface BootstrapOptions {
  /** Bootstrap resamples (default 1000). */
  resamples?: number;
  /** Confidence level in (0, 1) (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0): the same values and seed give the same interval. */
  seed?: number;
  /**
   * The statistic of a resample, given the indices drawn (with repetition) into the
   * items; default the mean of `values` at those indices. Use it for statistics that are
   * not a mean of per-item values (e.g. an mIoU from per-image confusion counts).
   */
  statistic?: (indices: Int32Array) => number;
}

function checkLevel(level: number, what: string): void {
  if (!(typeof level === 'number' && level > 0 && level < 1)) {
    throw new RangeError(`${what}: level must be in (0, 1), got ${String(level)}`);
  }
}

/**
 * The `q`-quantile of sorted values by linear interpolation between order statistics
 * (position `q * (n - 1)`, numpy's default and R's type 7).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantileSorted needs at least one value');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${String(q)}`);
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  return a + (pos - lo) * ((sorted[hi] as number) - a);
}

/**
 * Percentile bootstrap interval of a statistic over `values.length` items (e.g. one 0/1
 * correctness per test image): `resamples` times, draw that many item indices uniformly
 * with replacement from a stream seeded by `seed`, compute the statistic (default: the
 * mean of the drawn values), and report the `(1 - level) / 2` and `(1 + level) / 2`
 * quantiles of those statistics ({@link quantileSorted}) around the statistic on all items.
 * @throws when there are no values, a value is not finite, or an option is out of range.
 */
export function bootstrapInterval(
  values: ArrayLike<number>,
  options: BootstrapOptions = {},
): Interval {
  const n = values?.length;
  if (!(typeof n === 'number' && n >= 1)) {
    throw new RangeError(`bootstrapInterval needs at least one value, got ${String(n)}`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(
        `bootstrapInterval: value ${i} must be finite, got ${String(values[i])}`,
      );
    }
  }
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  assertInteger(resamples, 1, 'bootstrapInterval: resamples');
  checkLevel(level, 'bootstrapInterval');
  const mean = (idx: Int32Array): number => {
    let s = 0;
    for (const i of idx) s += values[i] as number;
    return s / idx.length;
  };
  const statistic = options.statistic ?? mean;
  const rng = new Rng(options.seed ?? 0).fork('bootstrap');
  const stats = new Float64Array(resamples);
  const idx = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    stats[r] = statistic(idx);
  }
  stats.sort();
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return {
    estimate: statistic(all),
    low: quantileSorted(stats, (1 - level) / 2),
    high: quantileSorted(stats, (1 + level) / 2),
    level,
    method: 'bootstrap',
    n,
  };
}

/** The `p`-quantile of Student's t distribution with `df` degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  return jstat.jStat.studentt.inv(p, df);
}

/**
 * Student's t-interval of the mean of `values` (one metric over seeds):
 * `mean ± t_{(1 + level) / 2, n - 1} * s / sqrt(n)` with `s` the sample standard
 * deviation. Non-finite values are left out; with fewer than two finite values the
 * interval is undefined and `low`/`high` are NaN.
 */
export function tInterval(values: readonly number[], level = 0.95): Interval {
  checkLevel(level, 'tInterval');
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  const mean = n === 0 ? NaN : v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { estimate: mean, low: NaN, high: NaN, level, method: 't', n };
  const s = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = (studentTQuantile((1 + level) / 2, n - 1) * s) / Math.sqrt(n);
  return { estimate: mean, low: mean - half, high: mean + half, level, method: 't', n };
}
