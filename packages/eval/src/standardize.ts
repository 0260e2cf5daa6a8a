/**
 * Per-channel feature standardisation with statistics of the training set, as linear
 * evaluation protocols do before fitting a classifier on frozen features.
 */

/** Per-channel mean and standard deviation. */
export interface ChannelStats {
  /** Mean of each channel, length C. */
  mean: Float32Array;
  /** Standard deviation of each channel (at least `eps`), length C. */
  std: Float32Array;
}

/**
 * Mean and standard deviation of each of the `C` channels of row-major `data`
 * ([..., C]). Constant channels get std `eps` so that standardising them gives 0.
 */
export function channelStats(data: Float32Array, C: number, eps = 1e-6): ChannelStats {
  const rows = data.length / C;
  if (!Number.isInteger(rows) || rows < 1) {
    throw new Error(
      `channelStats needs a whole number of rows of ${C} channels, got ${data.length} values`,
    );
  }
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  for (let i = 0; i < data.length; i++) {
    const c = i % C;
    const v = data[i] as number;
    sum[c] = (sum[c] as number) + v;
    sq[c] = (sq[c] as number) + v * v;
  }
  const mean = new Float32Array(C);
  const std = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = (sum[c] as number) / rows;
    mean[c] = m;
    std[c] = Math.max(Math.sqrt(Math.max((sq[c] as number) / rows - m * m, 0)), eps);
  }
  return { mean, std };
}

/** (x - mean) / std per channel, into a new Float32Array. */
export function standardize(data: Float32Array, stats: ChannelStats): Float32Array {
  const C = stats.mean.length;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = i % C;
    out[i] = ((data[i] as number) - (stats.mean[c] as number)) / (stats.std[c] as number);
  }
  return out;
}
