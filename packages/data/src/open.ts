/**
 * Opens a dataset from a path, recognising its format from what is there (IDX, CIFAR
 * binary batches, an image folder).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadCifar } from './cifar.js';
import { loadIdx } from './idx.js';
import { loadImageFolder } from './image-folder.js';
import { toRgb } from './transforms.js';
import type { Dataset } from './types.js';

/** Which part of a dataset to open. */
export type Split = 'train' | 'test';

function findFile(dir: string, names: readonly string[]): string | undefined {
  for (const name of names) {
    for (const candidate of [name, `${name}.gz`]) {
      const path = join(dir, candidate);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

const IDX_NAMES: Record<Split, { images: string[]; labels: string[] }> = {
  train: {
    images: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'],
    labels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'],
  },
  test: {
    images: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'],
    labels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'],
  },
};

/**
 * Opens a dataset on disk, recognising its format:
 * - a folder with `train-images-idx3-ubyte[.gz]` / `t10k-...` (MNIST, Fashion-MNIST), or
 *   one such images file (its labels file beside it);
 * - a folder with CIFAR-10 `data_batch_1.bin` ... / `test_batch.bin`, or CIFAR-100
 *   `train.bin` / `test.bin` (also inside `cifar-10-batches-bin/`);
 * - any other folder: an image folder (class = sub-folder), resized to `size`.
 * Images always come out with three channels.
 *
 * A source without its own test part (a plain image folder, a lone IDX or CIFAR file)
 * gives the same, whole data for both splits here. To train and evaluate on disjoint
 * parts, use {@link openDataParts} (or {@link openPathParts}), which holds a seeded,
 * stratified part out of training.
 * @param split - which half of a dataset that ships train and test files (image folders:
 *   a `train`/`test` sub-folder when there is one).
 * @param size - side image-folder images are resized to.
 */
export async function openDatasetPath(
  path: string,
  split: Split = 'train',
  size = 32,
): Promise<Dataset> {
  if (!existsSync(path))
    throw new Error(`${path}: data path not found (expected a dataset file or folder)`);
  if (statSync(path).isFile()) {
    const name = basename(path);
    if (/idx3-ubyte(\.gz)?$/.test(name)) {
      const labels = join(dirname(path), name.replace('images', 'labels').replace('idx3', 'idx1'));
      if (!existsSync(labels)) throw new Error(`${path}: its labels file ${labels} was not found`);
      return loadIdx(path, labels, { channels: 3 });
    }
    if (/\.bin$/.test(name))
      return loadCifar(path, { variant: /^(train|test)\.bin$/.test(name) ? 100 : 10 });
    throw new Error(
      `${path}: unrecognised data file (expected an IDX images file or a CIFAR .bin batch, or a folder)`,
    );
  }
  const inner = join(path, 'cifar-10-batches-bin');
  const dir = existsSync(join(inner, 'data_batch_1.bin')) ? inner : path;
  const idxImages = findFile(dir, IDX_NAMES[split].images);
  const idxLabels = findFile(dir, IDX_NAMES[split].labels);
  if (idxImages && idxLabels) return loadIdx(idxImages, idxLabels, { channels: 3 });
  if (existsSync(join(dir, 'data_batch_1.bin'))) {
    const files =
      split === 'train'
        ? readdirSync(dir)
            .filter((f) => /^data_batch_\d+\.bin$/.test(f))
            .sort()
            .map((f) => join(dir, f))
        : [join(dir, 'test_batch.bin')];
    return loadCifar(files, { variant: 10 });
  }
  if (existsSync(join(dir, 'train.bin')) && existsSync(join(dir, 'test.bin'))) {
    return loadCifar(join(dir, `${split}.bin`), { variant: 100 });
  }
  const splitDir =
    existsSync(join(dir, split)) && statSync(join(dir, split)).isDirectory()
      ? join(dir, split)
      : dir;
  return toRgb(await loadImageFolder(splitDir, { size, skipUnreadable: true }));
}
