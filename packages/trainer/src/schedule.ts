/**
 * The step counts of a run: how many optimiser steps, how many of them warm up. A pure
 * function of the config and the dataset size, so the loop, the command line and the
 * PyTorch recipe read one rule.
 */
import { assertInteger } from '@ediy/core';
import type { ExperimentConfig } from './config.js';

/** The schedule of a run over a dataset. */
export interface RunSchedule {
  /** Optimiser steps per epoch: floor(dataset size / (batchSize x accumulate)). */
  stepsPerEpoch: number;
  /** Steps `scale.epochs` epochs take. */
  epochSteps: number;
  /**
   * Steps of the run: `epochSteps`, or `scale.maxSteps` when fewer. The learning rate
   * (warm-up, then cosine to 0) and the EMA tau (cosine from tau0 to 1) are laid over
   * these steps: a run capped by `maxSteps` is a shorter schedule, not a longer one cut off.
   */
  totalSteps: number;
  /** Linear warm-up steps: the warm-up share of `totalSteps`, always fewer than it. */
  warmupSteps: number;
  /** The warm-up share of the run: `warmupFraction`, or `warmupEpochs / epochs`. */
  warmupShare: number;
}

/**
 * The schedule of `config` over a dataset of `datasetSize` images. The warm-up is a
 * share of the run's real step count (`optim.warmupFraction`, or `optim.warmupEpochs`
 * over `scale.epochs`), rounded, and at most `totalSteps - 1`, so it never exceeds the
 * run: a 3-step smoke run on 600 images has no warm-up instead of 2.5 epochs of it.
 * @throws RangeError when the dataset fills no optimiser step, naming both sizes.
 */
export function runSchedule(
  config: Pick<ExperimentConfig, 'scale' | 'optim'>,
  datasetSize: number,
): RunSchedule {
  const { scale, optim } = config;
  assertInteger(datasetSize, 0, 'runSchedule datasetSize');
  const perStep = scale.batchSize * scale.accumulate;
  const stepsPerEpoch = Math.floor(datasetSize / perStep);
  if (stepsPerEpoch < 1) {
    throw new RangeError(
      `the dataset has ${datasetSize} images, fewer than one optimiser step needs (batchSize ${scale.batchSize} x accumulate ${scale.accumulate})`,
    );
  }
  const epochSteps = scale.epochs * stepsPerEpoch;
  const totalSteps =
    scale.maxSteps === undefined ? epochSteps : Math.min(epochSteps, scale.maxSteps);
  const warmupShare = optim.warmupFraction ?? (optim.warmupEpochs ?? 0) / scale.epochs;
  const warmupSteps = Math.min(totalSteps - 1, Math.round(warmupShare * totalSteps));
  return { stepsPerEpoch, epochSteps, totalSteps, warmupSteps, warmupShare };
}
