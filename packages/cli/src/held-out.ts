/**
 * A run's training and held-out data for evaluation, from the one held-out logic of
 * `@ediy/data` ({@link openDataParts}): the embedded scenes hold out scenes of another
 * seed; on disk the dataset's own test files (IDX `t10k-*`, CIFAR `test_batch.bin` /
 * `test.bin`, an image folder's `val/` or `test/`), else a seeded, stratified 20% of it,
 * which pre-training never reads.
 */
import { openDataParts, type DataParts, type Dataset } from '@ediy/data';
import type { DataConfig } from '@ediy/trainer';

export { HELD_OUT_SEED_OFFSET } from '@ediy/data';

/**
 * The training and held-out parts of a data config, with three channels (see
 * {@link openDataParts}); `heldOutCount` scenes are held out for the embedded data
 * (default a quarter of the training scenes, at least 64).
 */
export async function openParts(data: DataConfig, heldOutCount?: number): Promise<DataParts> {
  return openDataParts(data, heldOutCount === undefined ? {} : { heldOutCount });
}

/** Opens the held-out images of a data config, with three channels: `count` scenes for the embedded data, the whole held-out part on disk. */
export async function openHeldOut(data: DataConfig, count: number): Promise<Dataset> {
  return (await openParts(data, count)).heldOut;
}
