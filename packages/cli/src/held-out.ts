/**
 * Held-out images for evaluation: what a run did not train on. For the embedded scenes,
 * scenes of another seed; on disk, the dataset's test files (IDX `t10k-*`, CIFAR
 * `test_batch.bin` / `test.bin`, an image folder's `test/` subfolder), else a seeded 20%
 * of an image folder.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  loadCifar,
  loadIdx,
  loadImageFolder,
  splitDataset,
  syntheticScenes,
  toRgb,
  type Dataset,
} from '@ediy/data';
import type { DataConfig } from '@ediy/trainer';

/** Added to the training scenes' seed to draw the held-out scenes (so they never coincide). */
export const HELD_OUT_SEED_OFFSET = 1_000_003;

function firstExisting(dir: string, names: readonly string[]): string | undefined {
  return names.flatMap((n) => [join(dir, n), join(dir, `${n}.gz`)]).find((p) => existsSync(p));
}

async function openPathHeldOut(path: string, size: number): Promise<Dataset> {
  if (!existsSync(path))
    throw new Error(`${path}: data path not found (expected a dataset file or folder)`);
  if (statSync(path).isFile()) {
    const name = basename(path);
    if (/idx3-ubyte(\.gz)?$/.test(name)) {
      return loadIdx(
        path,
        join(dirname(path), name.replace('images', 'labels').replace('idx3', 'idx1')),
        { channels: 3 },
      );
    }
    if (name.endsWith('.bin'))
      return loadCifar(path, { variant: /^(train|test)\.bin$/.test(name) ? 100 : 10 });
    throw new Error(
      `${path}: unrecognised data file (expected an IDX images file, a CIFAR .bin batch, or a folder)`,
    );
  }
  const dir = existsSync(join(path, 'cifar-10-batches-bin'))
    ? join(path, 'cifar-10-batches-bin')
    : path;
  const idxImages = firstExisting(dir, ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte']);
  const idxLabels = firstExisting(dir, ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte']);
  if (idxImages && idxLabels) return loadIdx(idxImages, idxLabels, { channels: 3 });
  if (existsSync(join(dir, 'test_batch.bin')))
    return loadCifar(join(dir, 'test_batch.bin'), { variant: 10 });
  if (existsSync(join(dir, 'test.bin'))) return loadCifar(join(dir, 'test.bin'), { variant: 100 });
  if (existsSync(join(dir, 'test')) && statSync(join(dir, 'test')).isDirectory()) {
    return loadImageFolder(join(dir, 'test'), { size, skipUnreadable: true });
  }
  const all = await loadImageFolder(dir, { size, skipUnreadable: true });
  return splitDataset(all, { testFraction: 0.2, seed: 0 }).test;
}

/** Opens the held-out images of a data config, with three channels: `count` scenes for the embedded data, the whole test set on disk. */
export async function openHeldOut(data: DataConfig, count: number): Promise<Dataset> {
  if (data.kind === 'scenes') {
    return syntheticScenes({
      count,
      size: data.size,
      numClasses: data.numClasses,
      seed: data.seed + HELD_OUT_SEED_OFFSET,
    });
  }
  const dataset = await openPathHeldOut(data.path, data.size ?? 32);
  return dataset.imageShape[2] === 3 ? dataset : toRgb(dataset);
}
