/**
 * The region terms' types derive from the loss and matcher registries: a misspelt loss,
 * matcher or option, or a missing required option, fails to compile (`tsc` checks the
 * `@ts-expect-error` lines: each must be an error), and a loss declared by a user is
 * checked the same way, from the row to the loss's own options.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  createRegionLossInputs,
  regionLossNames,
  registerRegionLoss,
  regionTermLoss,
  type RegionLoss,
  type RegionLossName,
  type RegionTermOptions,
} from '@ediy/losses';
import type { MatcherName } from '@ediy/matchers';
import { initBackend, Rng } from '@ediy/backend';
import {
  resolveExperiment,
  type ExperimentConfig,
  type RegionTermConfig,
  type RowConfig,
} from '@ediy/trainer';

/** A user's loss with a required option. */
interface ScaledMeanOptions {
  /** Factor of the mean. */
  scale: number;
  /** The term's matcher, which the trainer passes along. */
  matcher?: MatcherName;
}

declare module '@ediy/losses' {
  interface RegionLossRegistry {
    /** A test loss: `scale` x the mean of the online local projections of view 1. */
    'typed-scaled-mean': RegionLoss<ScaledMeanOptions>;
  }
}

const seen: Array<{ scale: number; matcher: string | undefined }> = [];
if (!regionLossNames().includes('typed-scaled-mean'))
  registerRegionLoss('typed-scaled-mean', (inputs, options) => {
    seen.push({ scale: options.scale, matcher: options.matcher });
    return tf.tidy(() => tf.mul(tf.mean(inputs.local[0]), options.scale) as tf.Scalar);
  });

describe('typed region terms', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
  });

  it('derive the term type from the registries', () => {
    expectTypeOf<RegionTermConfig['loss']>().toEqualTypeOf<RegionLossName>();
    expectTypeOf<RegionTermConfig['matcher']>().toEqualTypeOf<MatcherName>();
    expectTypeOf<RegionLossName>().toExtend<
      ExperimentConfig['method']['regionLosses'][number]['loss']
    >();
    expectTypeOf<RegionTermOptions<'typed-scaled-mean'>>().toEqualTypeOf<
      Omit<ScaledMeanOptions, 'matcher'>
    >();
    expectTypeOf<Extract<RegionTermConfig, { loss: 'r-iem' }>['options']>().toEqualTypeOf<
      RegionTermOptions<'r-iem'> | undefined
    >();

    const ok: RegionTermConfig[] = [
      { loss: 'r-dem', weight: 1, matcher: 'teacher', options: { reading: 'per-view' } },
      { loss: 'r-iem', weight: 1, matcher: 'geometric', options: { pairing: 'across' } },
      { loss: 'r-dem-ins', weight: 1, matcher: 'random' },
      { loss: 'typed-scaled-mean', weight: 0.5, matcher: 'random', options: { scale: 2 } },
    ];
    // @ts-expect-error a misspelt loss
    const misspeltLoss: RegionTermConfig = { loss: 'r-dm', weight: 1, matcher: 'random' };
    // @ts-expect-error a misspelt matcher
    const misspeltMatcher: RegionTermConfig = { loss: 'r-dem', weight: 1, matcher: 'randum' };
    const badOption: RegionTermConfig = {
      loss: 'r-iem',
      weight: 1,
      matcher: 'random',
      // @ts-expect-error a value r-iem's pairing does not take
      options: { pairing: 'both' },
    };
    const unknownOption: RegionTermConfig = {
      loss: 'r-dem',
      weight: 1,
      matcher: 'random',
      // @ts-expect-error an option r-dem does not have
      options: { readin: 'per-view' },
    };
    // @ts-expect-error the user's loss requires its option `scale`
    const missingOption: RegionTermConfig = {
      loss: 'typed-scaled-mean',
      weight: 1,
      matcher: 'random',
    };
    const wrongOption: RegionTermConfig = {
      loss: 'typed-scaled-mean',
      weight: 1,
      matcher: 'random',
      // @ts-expect-error `scale` is a number
      options: { scale: '2' },
    };
    const row: RowConfig = {
      name: 'typed',
      // @ts-expect-error a row's terms are checked too
      method: { regionLosses: [{ loss: 'typed-scaled-men', weight: 1, matcher: 'random' }] },
    };
    expect([
      misspeltLoss,
      misspeltMatcher,
      badOption,
      unknownOption,
      missingOption,
      wrongOption,
      row,
    ]).toHaveLength(7);
    expect(ok.map((t) => t.loss)).toEqual(['r-dem', 'r-iem', 'r-dem-ins', 'typed-scaled-mean']);
  });

  it("pass a user's term options and matcher to its loss, from a row to the call", () => {
    const row: RowConfig = {
      name: 'typed-user-loss',
      method: {
        byolWeight: 1,
        regionLosses: [
          { loss: 'typed-scaled-mean', weight: 1, matcher: 'random', options: { scale: 3 } },
        ],
        localPredictor: true,
      },
    };
    const config = resolveExperiment(row, { preset: 'smoke' });
    const [term] = config.method.regionLosses;
    if (term?.loss !== 'typed-scaled-mean') throw new Error('expected the typed-scaled-mean term');
    expectTypeOf(term.options).toEqualTypeOf<Omit<ScaledMeanOptions, 'matcher'>>();
    const local = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const inputs = createRegionLossInputs({
      local: [local, local],
      localPred: [local, local],
      targetLocal: [local, local],
      onlineGlobal: [tf.zeros([1, 2]), tf.zeros([1, 2])],
      targetGlobal: [tf.zeros([1, 2]), tf.zeros([1, 2])],
      teacher: [local, local],
      rng: new Rng(0),
    });
    const before = tf.memory().numTensors;
    const value = regionTermLoss(term, inputs);
    expect(value.dataSync()[0]).toBeCloseTo(3 * 2.5, 6);
    expect(seen.at(-1)).toEqual({ scale: 3, matcher: 'random' });
    value.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([local, ...inputs.onlineGlobal, ...inputs.targetGlobal]);
  });
});
