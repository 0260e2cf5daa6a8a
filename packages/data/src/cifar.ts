/**
 * CIFAR-10 / CIFAR-100 binary batches. Each record is the label byte(s) then 3072 bytes
 * of a 32x32 image stored channel-first (1024 R, 1024 G, 1024 B, rows top to bottom):
 * CIFAR-10 has 1 label byte (3073-byte records), CIFAR-100 a coarse then a fine label
 * byte (3074-byte records). Files may be gzipped (detected by the 0x1f8b magic).
 *
 * The train and test parts are separate files (`data_batch_1..5.bin` and
 * `test_batch.bin` for CIFAR-10, `train.bin` and `test.bin` for CIFAR-100): load each
 * part with its own {@link loadCifar} call.
 */
import { arrayDataset } from './array-dataset.js';
import { readMaybeGzip } from './files.js';
import type { Dataset } from './types.js';

/** The CIFAR-10 class names, in label order. */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

/** Options of {@link loadCifar}. */
export interface LoadCifarOptions {
  /** 10 for CIFAR-10 (3073-byte records), 100 for CIFAR-100 (3074-byte records). */
  variant: 10 | 100;
  /** CIFAR-100 only: `fine` (100 classes, default) or `coarse` (20 superclasses). */
  labels?: 'fine' | 'coarse';
}

const SIDE = 32;
const PIXELS = SIDE * SIDE;

/**
 * Loads one or more CIFAR binary batch files as one {@link Dataset} of `[32, 32, 3]`
 * images in [0, 1] (converted to NHWC at load; kept as bytes in memory).
 *
 * @throws naming the file: missing file, a length that is not a whole number of records
 *   (truncated file or wrong variant), a label out of range.
 * @example
 * ```ts
 * const train = await loadCifar([1, 2, 3, 4, 5].map((i) => `cifar-10-batches-bin/data_batch_${i}.bin`), { variant: 10 });
 * const test = await loadCifar('cifar-10-batches-bin/test_batch.bin', { variant: 10 });
 * ```
 */
export async function loadCifar(
  paths: string | readonly string[],
  options: LoadCifarOptions,
): Promise<Dataset> {
  const variant = options?.variant;
  if (variant !== 10 && variant !== 100) {
    throw new RangeError(`loadCifar: variant must be 10 or 100, got ${String(variant)}`);
  }
  const which = options.labels ?? 'fine';
  if (which !== 'fine' && which !== 'coarse') {
    throw new RangeError(`loadCifar: labels must be 'fine' or 'coarse', got ${String(which)}`);
  }
  if (variant === 10 && options.labels !== undefined) {
    throw new Error(
      `loadCifar: the labels option is for CIFAR-100 only (variant 100), got variant 10`,
    );
  }
  const list = typeof paths === 'string' ? [paths] : [...paths];
  if (list.length === 0)
    throw new Error('loadCifar: paths must name at least one batch file, got none');
  const labelBytes = variant === 10 ? 1 : 2;
  const record = labelBytes + 3 * PIXELS;
  const labelOffset = variant === 10 ? 0 : which === 'coarse' ? 0 : 1;
  const numClasses = variant === 10 ? 10 : which === 'coarse' ? 20 : 100;
  const files = await Promise.all(
    list.map((p) => readMaybeGzip(p, `a CIFAR-${variant} binary batch`)),
  );
  let total = 0;
  files.forEach((bytes, f) => {
    if (bytes.length === 0 || bytes.length % record !== 0) {
      throw new Error(
        `${list[f]}: CIFAR-${variant} file must be a whole number of ${record}-byte records, got ${bytes.length} bytes` +
          (bytes.length > record
            ? ` (${Math.floor(bytes.length / record)} records and ${bytes.length % record} extra bytes: truncated, or the wrong variant?)`
            : ''),
      );
    }
    total += bytes.length / record;
  });
  const images = new Uint8Array(total * 3 * PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  files.forEach((bytes, f) => {
    const count = bytes.length / record;
    for (let r = 0; r < count; r++, n++) {
      const base = r * record;
      const y = bytes[base + labelOffset] as number;
      if (y >= numClasses) {
        throw new RangeError(
          `${list[f]}: ${which === 'coarse' ? 'coarse ' : ''}label ${y} of record ${r} out of range: expected a class in [0, ${numClasses})`,
        );
      }
      labels[n] = y;
      const src = base + labelBytes;
      const dst = n * 3 * PIXELS;
      for (let p = 0; p < PIXELS; p++) {
        images[dst + 3 * p] = bytes[src + p] as number;
        images[dst + 3 * p + 1] = bytes[src + PIXELS + p] as number;
        images[dst + 3 * p + 2] = bytes[src + 2 * PIXELS + p] as number;
      }
    }
  });
  return arrayDataset({
    name: list.length === 1 ? (list[0] as string) : `${list[0]} (+${list.length - 1} files)`,
    images,
    imageShape: [SIDE, SIDE, 3],
    labels,
    numClasses,
    ...(variant === 10 ? { classNames: CIFAR10_CLASSES } : {}),
  });
}
