/**
 * IDX files (MNIST, Fashion-MNIST, KMNIST...): a big-endian header `0x00 0x00 <type>
 * <ndims>`, `ndims` 32-bit sizes, then the data. Images are `0x00000803` (ubyte, 3 dims
 * N x H x W), labels `0x00000801` (ubyte, 1 dim N). Files may be gzipped; gzip is detected
 * by its magic number 0x1f8b, not by the file name.
 *
 * The train and test parts of MNIST-style data are separate files: load each pair with
 * its own {@link loadIdx} call.
 */
import { arrayDataset } from './array-dataset.js';
import { readMaybeGzip } from './files.js';
import { toRgb } from './transforms.js';
import type { Dataset } from './types.js';

/** A parsed IDX array of unsigned bytes. */
export interface IdxArray {
  /** The sizes from the header, e.g. `[60000, 28, 28]`. */
  shape: number[];
  /** The values, row-major. A view into the file's bytes. */
  data: Uint8Array;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Parses an IDX file of unsigned bytes (type 0x08) with `ndims` dimensions.
 * @param name - the file name, for error messages.
 * @throws `<name>: IDX magic 0x00000803 expected, got 0x...` on a wrong header, and an
 *   error naming the expected and actual byte counts on a truncated file.
 */
export function parseIdx(bytes: Uint8Array, ndims: number, name: string): IdxArray {
  const want = 0x00000800 | ndims;
  if (bytes.length < 4) {
    throw new Error(
      `${name}: IDX magic ${hex(want)} expected, but the file has only ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== want) {
    throw new Error(`${name}: IDX magic ${hex(want)} expected, got ${hex(magic)}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(
      `${name}: truncated IDX header: ${headerBytes} bytes expected, got ${bytes.length}`,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < ndims; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count;
  if (bytes.length < expected) {
    throw new Error(
      `${name}: truncated IDX file: shape [${shape.join(',')}] needs ${expected} bytes, got ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw new Error(
      `${name}: IDX file too long: shape [${shape.join(',')}] needs ${expected} bytes, got ${bytes.length}`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes, expected) };
}

/** Options of {@link loadIdx}. */
export interface LoadIdxOptions {
  /**
   * Number of classes. Default: 10 when every label is below 10 (MNIST and
   * Fashion-MNIST), else the largest label + 1. A label `>= numClasses` is an error.
   */
  numClasses?: number;
  /** Output channels: 1 (default, as stored) or 3 (gray copied to R, G, B). */
  channels?: 1 | 3;
  /** Optional class names, `numClasses` long (e.g. the Fashion-MNIST item names). */
  classNames?: readonly string[];
}

/**
 * Loads an IDX image file and its label file (MNIST, Fashion-MNIST), each gzipped or not,
 * as a {@link Dataset} of `[H, W, channels]` images in [0, 1]. Pixels stay bytes in
 * memory and become floats when read.
 *
 * @throws naming the file: missing file, wrong magic number, truncated or corrupt data,
 *   image and label counts that differ, a label out of range.
 * @example
 * ```ts
 * const train = await loadIdx('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz');
 * const test = await loadIdx('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz');
 * ```
 */
export async function loadIdx(
  imagesPath: string,
  labelsPath: string,
  options: LoadIdxOptions = {},
): Promise<Dataset> {
  const channels = options.channels ?? 1;
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`loadIdx: channels must be 1 or 3, got ${String(channels)}`);
  }
  const [imageBytes, labelBytes] = await Promise.all([
    readMaybeGzip(imagesPath, 'an IDX image file (magic 0x00000803)'),
    readMaybeGzip(labelsPath, 'an IDX label file (magic 0x00000801)'),
  ]);
  const images = parseIdx(imageBytes, 3, imagesPath);
  const labels = parseIdx(labelBytes, 1, labelsPath);
  const [n, h, w] = images.shape as [number, number, number];
  const m = labels.shape[0] as number;
  if (n !== m) {
    throw new Error(
      `${labelsPath}: ${m} labels, but ${imagesPath} has ${n} images (expected one label per image)`,
    );
  }
  let maxLabel = -1;
  for (const y of labels.data) maxLabel = Math.max(maxLabel, y);
  const numClasses = options.numClasses ?? (maxLabel < 10 ? 10 : maxLabel + 1);
  const labelArray = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels.data[i] as number;
    if (y >= numClasses) {
      throw new RangeError(
        `${labelsPath}: label ${y} of item ${i} out of range: expected a class in [0, ${numClasses})`,
      );
    }
    labelArray[i] = y;
  }
  const gray = arrayDataset({
    name: imagesPath,
    images: images.data,
    imageShape: [h, w, 1],
    labels: labelArray,
    numClasses,
    ...(options.classNames ? { classNames: options.classNames } : {}),
  });
  return channels === 3 ? toRgb(gray) : gray;
}
