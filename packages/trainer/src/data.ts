/**
 * Opens a run's data from its config: the embedded synthetic scenes, or a path in any
 * format `@ediy/data` recognises.
 */
import {
  isImageFolderPath,
  loadFolderScan,
  openDataParts,
  splitImageFolder,
  toRgb,
  type Dataset,
  type Split,
} from '@ediy/data';
import type { DataConfig } from './config.js';

/**
 * The training (or held-out) part of a config's data, decoded into memory with three
 * channels, from `@ediy/data`'s one held-out logic ({@link openDataParts}): synthetic
 * scenes hold out scenes of another seed; IDX and CIFAR train/test files and an image
 * folder's `train/` + `val/` (or `test/`) are used as such; any other source is split
 * once, seeded and stratified, and its held-out part is never in the `train` part. Of an
 * image folder only the part asked for is decoded. Pre-training does not call this: it
 * streams an image folder ({@link openTrainingData}).
 */
export async function openDataset(config: DataConfig, split: Split = 'train'): Promise<Dataset> {
  if (config?.kind === 'path' && isImageFolderPath(config.path)) {
    const splits = await splitImageFolder(config.path);
    const part = split === 'train' ? 'train' : 'held-out';
    const scan = split === 'train' ? splits.train : splits.heldOut;
    return toRgb(
      await loadFolderScan(scan, { size: config.size ?? 32, name: `${config.path}[${part}]` }),
    );
  }
  const parts = await openDataParts(config);
  return split === 'train' ? parts.train : parts.heldOut;
}
