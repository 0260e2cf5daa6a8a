import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { byolViewParams, byolViews } from '@ediy/augment';
import {
  ConfigError,
  parseExperiment,
  pretrain,
  resolveExperiment,
  viewParamsOf,
  type ExperimentConfig,
} from '@ediy/trainer';
import { BYOL_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

const withAugment = (augment: unknown): ExperimentConfig =>
  ({ ...smoke(BYOL_ROW, 2), augment }) as ExperimentConfig;

describe('the augment section', () => {
  it('defaults to the views every run used before it existed', () => {
    for (const size of [16, 64, 224]) {
      const config = resolveExperiment(BYOL_ROW, { preset: 'smoke', scale: { imageSize: size } });
      expect(config.augment).toBeUndefined();
      expect(viewParamsOf(config)).toEqual(byolViewParams(size, { scaleBlurSigma: true }));
      expect(viewParamsOf({ ...config, augment: {} })).toEqual(viewParamsOf(config));
    }
  });

  it('changes both views, then each, with blur sigmas in pixels of a 224 px view', () => {
    const config = parseExperiment(
      withAugment({
        both: { cropScale: [0.3, 1], colorJitter: { brightness: 0.2 } },
        view1: { flipProb: 0, blur: { sigma: [0.5, 1] } },
        view2: { solarizeProb: 0.5, cropScale: [0.5, 0.9] },
      }),
    );
    const [a, b] = viewParamsOf(config);
    const [a0, b0] = byolViewParams(16, { scaleBlurSigma: true });
    expect(a.crop.scale).toEqual([0.3, 1]);
    expect(b.crop.scale).toEqual([0.5, 0.9]);
    expect([a.colorJitter.brightness, b.colorJitter.brightness]).toEqual([0.2, 0.2]);
    expect(a.colorJitter.contrast).toBe(a0!.colorJitter.contrast);
    expect([a.flipProb, b.flipProb]).toEqual([0, 0.5]);
    expect(a.blur.sigma).toEqual([0.5 * (16 / 224), 1 * (16 / 224)]);
    expect(b.blur).toEqual(b0!.blur);
    expect([a.solarizeProb, b.solarizeProb]).toEqual([0, 0.5]);
    const unscaled = viewParamsOf({ ...config, augment: { scaleBlurSigma: false } });
    expect(unscaled[0].blur.sigma).toEqual([0.1, 2]);
  });

  it('rejects bad and unknown fields, naming them', () => {
    const bad = (augment: unknown) => () => parseExperiment(withAugment(augment));
    expect(bad({ view1: { flipProb: 2 } })).toThrow(
      'config.augment.view1.flipProb must be a number in [0, 1], got 2',
    );
    expect(bad({ both: { cropScale: [0.6, 0.2] } })).toThrow(
      'config.augment.both.cropScale must be a pair [lo, hi] with 0 < lo <= hi <= 1, got [0.6,0.2]',
    );
    expect(bad({ view2: { colorJitter: { hue: 0.7 } } })).toThrow(
      'config.augment.view2.colorJitter.hue must be a number in [0, 0.5], got 0.7',
    );
    expect(bad({ view3: {} })).toThrow(/config.augment has an unknown field "view3"/);
    expect(bad({ view1: { flip: 0.5 } })).toThrow(ConfigError);
  });

  it('merges across layers field by field', () => {
    const config = resolveExperiment(BYOL_ROW, {
      preset: 'smoke',
      layers: [
        { layer: { augment: { view1: { flipProb: 0.1 } } }, source: 'a.yaml' },
        { layer: { augment: { view1: { grayscaleProb: 0.3 } } }, source: '--set' },
      ],
    });
    expect(config.augment).toEqual({ view1: { flipProb: 0.1, grayscaleProb: 0.3 } });
    expect(() =>
      resolveExperiment(BYOL_ROW, {
        preset: 'smoke',
        layers: [{ layer: { augment: { view1: { solarizeProb: -1 } } }, source: 'a.yaml' }],
      }),
    ).toThrow('a.yaml: augment.view1.solarizeProb must be a number in [0, 1], got -1');
  });

  it('reaches @ediy/augment: a view that always flips is the mirror of one that never does', () => {
    const fixed = {
      both: {
        cropScale: [1, 1],
        cropRatio: [1, 1],
        colorJitter: { prob: 0 },
        grayscaleProb: 0,
        blur: { prob: 0 },
        solarizeProb: 0,
      },
    };
    const never = viewParamsOf(
      parseExperiment(withAugment({ ...fixed, view1: { flipProb: 0 }, view2: { flipProb: 0 } })),
    );
    const always = viewParamsOf(
      parseExperiment(withAugment({ ...fixed, view1: { flipProb: 1 }, view2: { flipProb: 1 } })),
    );
    const images = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const [n] = byolViews(images, new Rng(5), never);
    const [f] = byolViews(images, new Rng(5), always);
    expect(f.flipped).toEqual([true, true]);
    expect(n.flipped).toEqual([false, false]);
    expect(Array.from(tf.reverse(f.images, 2).dataSync())).toEqual(Array.from(n.images.dataSync()));
    tf.dispose([images, n.images, f.images]);
  });

  it('reaches the training step: a changed view changes the losses, the defaults stated do not', async () => {
    const run = async (augment: unknown) =>
      (
        await pretrain(withAugment(augment), { runDir: tempDir('augment'), progress: null })
      ).records.map((r) => r.loss);
    const plain = await run(undefined);
    const stated = await run({ view2: { solarizeProb: 0.2 }, both: { cropScale: [0.08, 1] } });
    const changed = await run({ view2: { solarizeProb: 1 } });
    expect(stated).toEqual(plain);
    expect(changed).not.toEqual(plain);
  });
});
