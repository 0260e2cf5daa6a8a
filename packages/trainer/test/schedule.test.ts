import { describe, expect, it } from 'vitest';
import { emaTau, warmupCosineLr } from '@ediy/optim';
import { resolveExperiment, runSchedule, type ExperimentConfig } from '@ediy/trainer';
import { EDIY_RANDOM_ROW } from './helpers.js';

function lrCurve(config: ExperimentConfig, size: number): number[] {
  const s = runSchedule(config, size);
  const batch = config.scale.batchSize * config.scale.accumulate;
  return Array.from({ length: s.totalSteps }, (_, k) =>
    warmupCosineLr(
      {
        baseLr: config.optim.baseLr,
        batchSize: batch,
        warmupSteps: s.warmupSteps,
        totalSteps: s.totalSteps,
      },
      k,
    ),
  );
}

describe('runSchedule', () => {
  it('gives the paper its 10 warm-up epochs of 300', () => {
    const config = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'paper' });
    // 1.28M images at an effective batch of 4096: 312 steps an epoch.
    const s = runSchedule(config, 1_281_167);
    expect(s.stepsPerEpoch).toBe(312);
    expect(s.totalSteps).toBe(300 * 312);
    expect(s.warmupSteps).toBe(10 * 312);
  });

  it('keeps the warm-up inside a capped run: smoke on 600 images', () => {
    const config = resolveExperiment(EDIY_RANDOM_ROW, {
      preset: 'smoke',
      data: { kind: 'path', path: 'x' },
    });
    const s = runSchedule(config, 600);
    expect(s).toMatchObject({ stepsPerEpoch: 75, epochSteps: 75, totalSteps: 3, warmupSteps: 0 });
    expect(() => lrCurve(config, 600)).not.toThrow();
    // Epoch-based warm-up longer than the capped run: a share of the run, fewer steps than it.
    const { warmupFraction: _dropped, ...optim } = config.optim;
    const long = { ...config, optim: { ...optim, warmupEpochs: 1 } };
    expect(runSchedule(long, 600).warmupSteps).toBe(2);
    expect(() => lrCurve(long, 600)).not.toThrow();
  });

  it('makes --max-steps a shorter schedule: same warm-up share, LR down to 0, tau up to 1', () => {
    // BYOL's LR and the paper's warm-up share (10 of 300 epochs) at the mini scale
    const base = resolveExperiment(EDIY_RANDOM_ROW, {
      preset: 'mini',
      layers: [{ source: 'test', layer: { optim: { baseLr: 0.2, warmupFraction: 10 / 300 } } }],
    });
    const full = runSchedule(base, 2048);
    const capped = runSchedule({ ...base, scale: { ...base.scale, maxSteps: 30 } }, 2048);
    expect(full).toMatchObject({ totalSteps: 192, warmupSteps: 6 });
    expect(capped).toMatchObject({ totalSteps: 30, warmupSteps: 1, epochSteps: 192 });
    expect(capped.warmupShare).toBe(full.warmupShare);
    const curve = lrCurve({ ...base, scale: { ...base.scale, maxSteps: 30 } }, 2048);
    expect(curve[0]).toBe(0);
    expect(Math.max(...curve)).toBeCloseTo((0.2 * 32) / 256, 12);
    expect(warmupCosineLr({ baseLr: 0.2, batchSize: 64, warmupSteps: 1, totalSteps: 30 }, 30)).toBe(
      0,
    );
    expect(emaTau({ tau0: base.optim.tau0, totalSteps: capped.totalSteps }, 30)).toBe(1);
    // A cap above the epochs changes nothing.
    expect(runSchedule({ ...base, scale: { ...base.scale, maxSteps: 500 } }, 2048)).toEqual(full);
  });

  it('warms up for warmupFraction of the run when given', () => {
    const base = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'mini' });
    const config = { ...base, optim: { ...base.optim, warmupFraction: 0.25 } };
    // 2048 images in steps of 32: 3 epochs of 64 steps, a quarter of them 48
    expect(runSchedule(config, 2048).warmupSteps).toBe(48);
  });

  it('says when the data fill no optimiser step', () => {
    const config = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'mini' });
    expect(() => runSchedule(config, 31)).toThrow(
      'the dataset has 31 images, fewer than one optimiser step needs (batchSize 32 x accumulate 1)',
    );
    expect(runSchedule(config, 32).totalSteps).toBe(3);
  });
});
