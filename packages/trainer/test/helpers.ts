import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byolViewParams, type ViewParams } from '@ediy/augment';
import type { ExperimentConfig, RowConfig } from '@ediy/trainer';
import { resolveExperiment } from '@ediy/trainer';

/** A fresh temporary folder. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `ediy-trainer-${label}-`));
}

/** BYOL alone. */
export const BYOL_ROW: RowConfig = {
  name: 'byol',
  method: { byolWeight: 1, regionLosses: [], localPredictor: true },
};

/** E-DIY with random pairs (no teacher needed). */
export const EDIY_RANDOM_ROW: RowConfig = {
  name: 'ediy-random',
  method: {
    byolWeight: 1,
    regionLosses: [
      { loss: 'r-dem', weight: 1, matcher: 'random' },
      { loss: 'r-iem', weight: 1, matcher: 'random' },
    ],
    localPredictor: true,
  },
};

/** A smoke-scale experiment of a row, `steps` optimiser steps long. */
export function smoke(
  row: RowConfig,
  steps: number,
  extra: Partial<ExperimentConfig> = {},
): ExperimentConfig {
  const config = resolveExperiment(row, {
    preset: 'smoke',
    seed: 3,
    scale: { maxSteps: steps, epochs: steps },
  });
  return { ...config, checkpoint: { every: 1, keep: 2 }, ...extra };
}

/** Views without randomness: the whole image, resized; the second view not normalised. */
export function fixedViews(size: number): readonly [ViewParams, ViewParams] {
  const [a] = byolViewParams(size);
  const fixed: ViewParams = {
    ...(a as ViewParams),
    crop: { size, scale: [1, 1], ratio: [1, 1] },
    flipProb: 0,
    colorJitter: { ...(a as ViewParams).colorJitter, prob: 0 },
    grayscaleProb: 0,
    blur: { ...(a as ViewParams).blur, prob: 0 },
    solarizeProb: 0,
  };
  return [fixed, { ...fixed, normalize: null }];
}
