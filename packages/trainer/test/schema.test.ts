import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { experimentSchema, layerSchema } from '@ediy/trainer';
import {
  ConfigError,
  mergeLayers,
  parseExperiment,
  parseLayer,
  presetLayer,
  resolveExperiment,
  PRESET_NAMES,
  type ConfigLayer,
  type ExperimentConfig,
} from '@ediy/trainer';
import { EDIY_RANDOM_ROW, smoke } from './helpers.js';

const good = smoke(EDIY_RANDOM_ROW, 2);

describe('the experiment schema', () => {
  it('is the exported ExperimentConfig type', () => {
    expectTypeOf<z.output<typeof experimentSchema>>().toEqualTypeOf<ExperimentConfig>();
    expectTypeOf<ExperimentConfig>().toExtend<z.input<typeof experimentSchema>>();
    expectTypeOf<ConfigLayer>().toExtend<z.input<typeof layerSchema>>();
  });

  it('returns a valid config unchanged, fields in the schema order', () => {
    const reordered = Object.fromEntries(Object.entries(good).reverse());
    const parsed = parseExperiment(reordered);
    expect(parsed).toEqual(good);
    expect(Object.keys(parsed)).toEqual(Object.keys(good));
  });

  it.each([
    [
      { scale: { ...good.scale, batchSize: -8 } },
      'config.scale.batchSize must be an integer >= 2, got -8',
    ],
    [
      { scale: { ...good.scale, imageSize: 31.5 } },
      'config.scale.imageSize must be an integer >= 8, got 31.5',
    ],
    [
      { optim: { ...good.optim, baseLr: '1' } },
      'config.optim.baseLr must be a number in [0, 100], got "1"',
    ],
    [
      { scale: { ...good.scale, backbone: { ...good.scale.backbone, stem: 'tiny' } } },
      `config.scale.backbone.stem must be 'imagenet' or 'small', got "tiny"`,
    ],
    [
      { scale: { ...good.scale, data: { kind: 'video' } } },
      `config.scale.data.kind must be 'scenes' (with count, size, numClasses, seed), 'path' (with path, size?) or 'pasted' (with path, count, size, seed, ...), got "video"`,
    ],
    [
      { method: { ...good.method, regionLosses: [{ loss: '', weight: 1, matcher: 'random' }] } },
      'config.method.regionLosses[0].loss must be the name of a registered region loss, got ""',
    ],
    [
      {
        method: { ...good.method, regionLosses: [{ loss: 'r-dm', weight: 1, matcher: 'random' }] },
      },
      /^config\.method\.regionLosses\[0\]\.loss must be the name of a registered region loss \(r-dem, r-iem, r-dem-ins, dense-contrastive[^)]*\), got "r-dm"$/,
    ],
    [
      {
        method: { ...good.method, regionLosses: [{ loss: 'r-dem', weight: 1, matcher: 'randum' }] },
      },
      /^config\.method\.regionLosses\[0\]\.matcher must be the name of a registered matcher \(teacher, random, geometric[^)]*\), got "randum"$/,
    ],
    [{ checkpoint: { every: 1 } }, 'config.checkpoint.keep is missing: expected an integer >= 1'],
    [
      { scale: { ...good.scale, data: { ...good.scale.data, count: 4 } } },
      'config.scale.data.count must be at least one batch (scale.batchSize 8), got 4',
    ],
    [
      { optim: { ...good.optim, warmupEpochs: 1 } },
      /config.optim must be given exactly one of warmupEpochs .* and warmupFraction/,
    ],
    [
      { teacher: { run: 'a', modelDir: 'b' } },
      /config.teacher must be \{ run: .* \} or \{ modelDir: .* \}/,
    ],
  ])('names the field, the value and what was expected (%#)', (change, message) => {
    expect(() => parseExperiment({ ...good, ...change })).toThrow(message);
  });

  it('takes scenes pasted from a dataset on disk (--data scenes:<path>)', () => {
    const pasted = { kind: 'pasted', path: 'fashion', count: 64, size: 48, seed: 2 } as const;
    const config = { ...good, scale: { ...good.scale, data: pasted } };
    expect(parseExperiment(config)).toEqual(config);
    expect(() =>
      parseExperiment({
        ...good,
        scale: { ...good.scale, data: { ...pasted, background: 'grey' } },
      }),
    ).toThrow(
      `config.scale.data.background must be 'black', 'texture' or { folder: <folder of photos> }, got "grey"`,
    );
  });

  it('rejects unknown fields at every level, listing the known ones', () => {
    expect(() => parseExperiment({ ...good, extra: 1 })).toThrow(
      'config has an unknown field "extra"; expected only fields name, seed, method, scale, optim, augment, teacher, checkpoint, paper',
    );
    expect(() => parseExperiment({ ...good, scale: { ...good.scale, batchsize: 8 } })).toThrow(
      /config.scale has an unknown field "batchsize"; expected only fields backbone, projector, imageSize, batchSize/,
    );
    expect(() => parseExperiment({ ...good, optim: { ...good.optim, larsclip: true } })).toThrow(
      /config.optim has an unknown field "larsclip"/,
    );
  });

  it('reports every issue, one a line, and keeps them in the error', () => {
    let error: unknown;
    try {
      parseExperiment({ ...good, seed: -1, scale: { ...good.scale, batchSize: 0 } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.issues.map((i) => [i.path, i.value])).toEqual([
      ['seed', -1],
      ['scale.batchSize', 0],
    ]);
    expect(e.message.split('\n')).toHaveLength(2);
  });
});

describe('layers', () => {
  it('a row stating a bad or unknown scale field is an error naming the row', () => {
    const row = { ...EDIY_RANDOM_ROW, scale: { batchSize: -8 } };
    expect(() => resolveExperiment(row, { preset: 'smoke' })).toThrow(
      'row ediy-random: scale.batchSize must be an integer >= 2, got -8',
    );
    expect(() =>
      resolveExperiment({ ...EDIY_RANDOM_ROW, scale: { batch: 8 } } as never, { preset: 'smoke' }),
    ).toThrow(/row ediy-random: scale has an unknown field "batch"/);
  });

  it('a preset is a partial config like any other', () => {
    for (const preset of PRESET_NAMES) {
      const layer = presetLayer(preset);
      expect(parseLayer(layer, preset)).toEqual(layer);
      expect(resolveExperiment(EDIY_RANDOM_ROW, { preset })).toEqual(
        parseExperiment(mergeLayers({ seed: 0 }, EDIY_RANDOM_ROW, layer)),
      );
    }
  });

  it('merge deeply: objects field by field, arrays and whole values replaced', () => {
    const base: ConfigLayer = {
      method: { byolWeight: 1, regionLosses: [{ loss: 'r-dem', weight: 1, matcher: 'random' }] },
      scale: {
        backbone: { depth: 18, stem: 'small' },
        data: { kind: 'path', path: 'a', size: 40 },
      },
      teacher: { run: 'runs/byol' },
    };
    const over: ConfigLayer = {
      method: { regionLosses: [] },
      scale: { backbone: { depth: 50 }, data: { path: 'b' } },
      teacher: { modelDir: 'models/t' },
    };
    const before = JSON.stringify(base);
    expect(mergeLayers(base, over)).toEqual({
      method: { byolWeight: 1, regionLosses: [] },
      scale: {
        backbone: { depth: 50, stem: 'small' },
        data: { kind: 'path', path: 'b', size: 40 },
      },
      teacher: { modelDir: 'models/t' },
    });
    expect(JSON.stringify(base)).toBe(before);
    // Data of another kind replaces the base's whole; undefined changes nothing.
    const scenes = { kind: 'scenes', count: 64, size: 20, numClasses: 3, seed: 1 } as const;
    expect(mergeLayers(base, { scale: { data: scenes, imageSize: undefined } }).scale).toEqual({
      backbone: { depth: 18, stem: 'small' },
      data: scenes,
    });
  });

  it('stating the warm-up one way drops the other', () => {
    const preset = presetLayer('mini');
    expect(preset.optim).toMatchObject({ warmupFraction: 0.01 });
    const epochs = mergeLayers(preset, { optim: { warmupEpochs: 2 } }).optim;
    expect(epochs).toMatchObject({ warmupEpochs: 2 });
    expect(epochs).not.toHaveProperty('warmupFraction');
    const share = mergeLayers(presetLayer('paper'), { optim: { warmupFraction: 0.05 } }).optim;
    expect(share).toMatchObject({ warmupFraction: 0.05 });
    expect(share).not.toHaveProperty('warmupEpochs');
  });

  it('take precedence row < preset < layers in order < options', () => {
    const row = { ...EDIY_RANDOM_ROW, scale: { imageSize: 24, epochs: 9, accumulate: 3 } };
    const config = resolveExperiment(row, {
      preset: 'smoke',
      layers: [
        {
          source: 'ediy.yaml',
          layer: { scale: { imageSize: 32, batchSize: 16 }, optim: { baseLr: 1 } },
        },
        { source: 'flags', layer: { scale: { batchSize: 4 } } },
      ],
      scale: { maxSteps: 7 },
    });
    // The preset sets imageSize, epochs and accumulate: it wins over the row.
    expect(config.scale.epochs).toBe(1);
    expect(config.scale.accumulate).toBe(1);
    expect(config.scale.imageSize).toBe(32);
    expect(config.scale.batchSize).toBe(4);
    expect(config.optim.baseLr).toBe(1);
    expect(config.scale.maxSteps).toBe(7);
    // A field only the row states survives (the paper preset caps no steps).
    const rowOnly = resolveExperiment(
      { ...EDIY_RANDOM_ROW, scale: { maxSteps: 5 } },
      { preset: 'paper' },
    );
    expect(rowOnly.scale.maxSteps).toBe(5);
  });

  it('names the layer a bad value came from', () => {
    expect(() =>
      resolveExperiment(EDIY_RANDOM_ROW, {
        preset: 'smoke',
        layers: [{ source: '--set', layer: { optim: { tau0: 2 } } }],
      }),
    ).toThrow('--set: optim.tau0 must be a number in [0, 1], got 2');
  });
});
