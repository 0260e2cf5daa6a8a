import { describe, expect, it } from 'vitest';
import {
  BYOL_OPTIM,
  SHORT_RUN_OPTIM,
  byolOptim,
  miniSteps,
  presetLayer,
  presetScale,
  presetOptim,
  resolveExperiment,
  runSchedule,
} from '@ediy/trainer';
import { EDIY_RANDOM_ROW } from './helpers.js';

describe('byolOptim', () => {
  it("gives BYOL's settings per pre-training length", () => {
    expect(byolOptim(100)).toMatchObject({ baseLr: 0.45, weightDecay: 1e-6, tau0: 0.99 });
    expect(byolOptim(300)).toMatchObject({ baseLr: 0.3, weightDecay: 1e-6, tau0: 0.99 });
    expect(byolOptim(1000)).toEqual(BYOL_OPTIM);
    expect(byolOptim(40)).toMatchObject({ baseLr: 0.45, weightDecay: 1e-6, tau0: 0.97 });
    // Between two lengths: the longer one's.
    expect(byolOptim(200)).toEqual(byolOptim(300));
    for (const epochs of [40, 100, 300, 1000]) {
      expect(byolOptim(epochs)).toMatchObject({ eta: 1e-3, momentum: 0.9, warmupEpochs: 10 });
    }
  });

  it('refuses a length that is not positive', () => {
    expect(() => byolOptim(0)).toThrow('paperEpochs must be a positive number, got 0');
    expect(() => byolOptim(Number.NaN)).toThrow('paperEpochs must be a positive number');
  });
});

describe('the paper preset', () => {
  it("takes the table's length: Table 1 300 epochs, Table 2 100, Tables 3-6 1000", () => {
    const row = (table: number, epochs: number) => ({
      ...EDIY_RANDOM_ROW,
      paper: { table, row: 1, label: 'x', epochs, numbers: {} },
    });
    expect(resolveExperiment(row(1, 300), { preset: 'paper' }).optim).toMatchObject({
      baseLr: 0.3,
      weightDecay: 1e-6,
      tau0: 0.99,
      warmupEpochs: 10,
    });
    expect(resolveExperiment(row(2, 100), { preset: 'paper' }).optim).toMatchObject({
      baseLr: 0.45,
      tau0: 0.99,
    });
    expect(resolveExperiment(row(3, 1000), { preset: 'paper' }).optim).toEqual(BYOL_OPTIM);
  });
});

describe('the mini preset', () => {
  it('trains with the short-run recipe for every table', () => {
    for (const epochs of [100, 300, 1000]) {
      expect(presetOptim('mini', epochs)).toEqual(SHORT_RUN_OPTIM);
      expect(presetLayer('mini', epochs).optim).toEqual(SHORT_RUN_OPTIM);
    }
    expect(SHORT_RUN_OPTIM).toEqual({
      baseLr: 1,
      weightDecay: 1e-5,
      momentum: 0.9,
      eta: 0.02,
      larsClip: true,
      warmupFraction: 0.01,
      tau0: 0.99,
    });
    const config = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'mini' });
    expect(config.optim).toEqual(SHORT_RUN_OPTIM);
    // A returned preset is a copy: changing it does not change the next one.
    presetOptim('mini').tau0 = 0.5;
    expect(presetOptim('mini').tau0).toBe(0.99);
  });

  it("caps a row at its table's hour: Table 2 640 steps, Table 1 and the 1000-epoch tables 900, of 32 images", () => {
    expect(miniSteps(100)).toBe(640);
    expect(miniSteps(300)).toBe(900);
    expect(miniSteps(1000)).toBe(900);
    expect(presetScale('mini', 100).maxSteps).toBe(640);
    expect(presetScale('mini', 300).maxSteps).toBe(900);
    expect(presetScale('mini', 300).batchSize).toBe(32);
    const table2 = resolveExperiment(
      { ...EDIY_RANDOM_ROW, paper: { table: 2, row: 1, label: 'x', epochs: 100, numbers: {} } },
      { preset: 'mini' },
    );
    expect(runSchedule(table2, 60000)).toMatchObject({ totalSteps: 640, warmupSteps: 6 });
  });

  it('warms up for 1% of the real steps, capped to the preset budget on a large dataset', () => {
    const config = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'mini' });
    const large = runSchedule(config, 60000);
    expect(large.totalSteps).toBe(config.scale.maxSteps);
    expect(large.warmupSteps).toBe(Math.round(0.01 * large.totalSteps));
    // The embedded scenes (2048 images, 3 epochs of 64 steps) stay under the cap.
    expect(runSchedule(config, 2048).totalSteps).toBe(192);
  });
});
