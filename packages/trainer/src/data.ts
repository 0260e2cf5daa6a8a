/**
 * Opens a run's data from its config: the embedded synthetic scenes, or a path in any
 * format `@ediy/data` recognises.
 */
import { openDataParts, type Dataset, type Split } from '@ediy/data';
import type { DataConfig } from './config.js';

/**
 * The training (or held-out) part of a config's data, with three channels, from
 * `@ediy/data`'s one held-out logic ({@link openDataParts}): synthetic scenes hold out
 * scenes of another seed; IDX and CIFAR train/test files and an image folder's `train/`
 * + `val/` (or `test/`) are used as such; any other source is split once, seeded and
 * stratified, and its held-out part is never in the `train` part.
 */
export async function openDataset(config: DataConfig, split: Split = 'train'): Promise<Dataset> {
  const parts = await openDataParts(config);
  return split === 'train' ? parts.train : parts.heldOut;
}
