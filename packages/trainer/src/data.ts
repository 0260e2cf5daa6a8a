/**
 * Opens a run's data from its config: the embedded synthetic scenes, or a path in any
 * format `@ediy/data` recognises.
 */
import { openDatasetPath, syntheticScenes, toRgb, type Dataset, type Split } from '@ediy/data';
import type { DataConfig } from './config.js';

/**
 * The training (or held-out) data of a config. Synthetic scenes hold out a separate set
 * generated from another seed; files and folders use their own train/test parts.
 */
export async function openDataset(config: DataConfig, split: Split = 'train'): Promise<Dataset> {
  if (config.kind === 'scenes') {
    const count = split === 'train' ? config.count : Math.max(64, Math.round(config.count / 4));
    return syntheticScenes({
      count,
      size: config.size,
      numClasses: config.numClasses,
      seed: split === 'train' ? config.seed : config.seed + 1_000_003,
    });
  }
  const dataset = await openDatasetPath(config.path, split, config.size ?? 32);
  return dataset.imageShape[2] === 3 ? dataset : toRgb(dataset);
}
