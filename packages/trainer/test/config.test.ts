import { describe, expect, it } from 'vitest';
import { presetScale, resolveExperiment, validateConfig, PRESET_NAMES } from '@ediy/trainer';
import { EDIY_RANDOM_ROW, smoke } from './helpers.js';

describe('presets', () => {
  it('change scale only, never the method', () => {
    for (const preset of PRESET_NAMES) {
      const config = resolveExperiment(EDIY_RANDOM_ROW, { preset });
      expect(config.method).toEqual(EDIY_RANDOM_ROW.method);
      expect(config.scale).toEqual(presetScale(preset, 300));
    }
  });

  it('paper preset is ResNet-50 at 224 px with an effective batch of 4096 and the table epochs', () => {
    const config = resolveExperiment(
      { ...EDIY_RANDOM_ROW, paper: { table: 2, row: 1, label: 'x', epochs: 100, numbers: {} } },
      { preset: 'paper' },
    );
    expect(config.scale.backbone).toEqual({ depth: 50, stem: 'imagenet', widthMultiplier: 1 });
    expect(config.scale.imageSize).toBe(224);
    expect(config.scale.batchSize * config.scale.accumulate).toBe(4096);
    expect(config.scale.epochs).toBe(100);
    // BYOL's 100-epoch settings (Table 2's length)
    expect(config.optim).toMatchObject({
      baseLr: 0.45,
      weightDecay: 1e-6,
      momentum: 0.9,
      eta: 1e-3,
      warmupEpochs: 10,
      tau0: 0.99,
    });
    // 0.45 x 4096 / 256 = 7.2, BYOL's initial learning rate at 100 epochs
    expect(
      (config.optim.baseLr * config.scale.batchSize * config.scale.accumulate) / 256,
    ).toBeCloseTo(7.2, 10);
  });

  it('warm up for a share of the steps in the scaled presets', () => {
    const mini = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'mini' });
    expect(mini.optim.warmupFraction).toBe(0.01);
    expect(mini.optim.warmupEpochs).toBeUndefined();
    const smoke = resolveExperiment(EDIY_RANDOM_ROW, { preset: 'smoke' });
    expect(smoke.optim.warmupFraction).toBeCloseTo(10 / 300, 10);
    expect(smoke.optim.warmupEpochs).toBeUndefined();
  });

  it('reject an unknown preset', () => {
    expect(() => presetScale('huge' as never)).toThrow(
      'preset must be one of smoke, mini, paper, got "huge"',
    );
  });
});

describe('validateConfig', () => {
  const good = smoke(EDIY_RANDOM_ROW, 2);

  it('accepts a resolved config', () => {
    expect(() => validateConfig(good)).not.toThrow();
  });

  it.each([
    [{ ...good, seed: -1 }, 'config.seed must be an integer >= 0, got -1'],
    [{ ...good, name: 'a b' }, /config.name must be a non-empty name/],
    [
      { ...good, scale: { ...good.scale, batchSize: 1 } },
      'config.scale.batchSize must be an integer >= 2, got 1',
    ],
    [
      {
        ...good,
        scale: { ...good.scale, backbone: { ...good.scale.backbone, depth: 20 as never } },
      },
      'config.scale.backbone.depth must be 18, 34 or 50, got 20',
    ],
    [
      { ...good, method: { ...good.method, byolWeight: 0, regionLosses: [] } },
      /no loss term with a positive weight/,
    ],
    [
      {
        ...good,
        method: {
          ...good.method,
          regionLosses: [{ loss: 'r-dem', weight: Number.NaN, matcher: 'random' }],
        },
      },
      /regionLosses\[0\].weight must be a number in \[0, 1000000\], got NaN/,
    ],
    [
      { ...good, optim: { ...good.optim, tau0: 1.5 } },
      'config.optim.tau0 must be a number in [0, 1], got 1.5',
    ],
    [
      { ...good, scale: { ...good.scale, data: { kind: 'path', path: '' } } },
      /config.scale.data.path must be a file or folder path/,
    ],
  ])('names the bad field (%#)', (config, message) => {
    expect(() => validateConfig(config as never)).toThrow(message);
  });
});
