/**
 * A scanned folder (or part of one) decoded into memory with sharp: for held-out sets
 * and folders small enough to hold, read by the in-memory {@link Loader}.
 */
import { assertInteger } from '@ediy/core';
import sharp from 'sharp';
import { arrayDataset } from './array-dataset.js';
import type { ImageFolderDataset, SkippedImage } from './image-folder.js';
import type { ResizeFit } from './resize.js';
import type { FolderScan, ImageEntry } from './scan.js';

/** Options of {@link loadFolderScan}. */
export interface LoadFolderScanOptions {
  /** Output side in pixels. */
  size: number;
  /** Output channels: 3 (default, sRGB) or 1 (luminance). */
  channels?: 1 | 3;
  /** `center-crop` (default: the centred square, resized) or `stretch` (the whole image). */
  fit?: ResizeFit;
  /** When true, an image that fails to decode is an error; else (default) it is left out and listed in `skipped`. */
  strict?: boolean;
  /** Images decoded at once (default 8). */
  concurrency?: number;
  /** Dataset name (default: the scan's folder). */
  name?: string;
}

/**
 * Decodes the items of a {@link FolderScan} with sharp, resized to `size x size`, into
 * an in-memory dataset (bytes: `items * size^2 * channels`). The scan's unreadable files
 * and the items that fail to decode are in `skipped`.
 * @throws naming the file with `strict`, when every item fails, or on bad options.
 */
export async function loadFolderScan(
  scan: FolderScan,
  options: LoadFolderScanOptions,
): Promise<ImageFolderDataset> {
  const size = options?.size;
  assertInteger(size, 1, 'loadFolderScan: size');
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`loadFolderScan: channels must be 1 or 3, got ${String(channels)}`);
  }
  const fit = options.fit ?? 'center-crop';
  if (fit !== 'center-crop' && fit !== 'stretch') {
    throw new RangeError(
      `loadFolderScan: fit must be 'center-crop' or 'stretch', got ${String(fit)}`,
    );
  }
  const concurrency = options.concurrency ?? 8;
  assertInteger(concurrency, 1, 'loadFolderScan: concurrency');
  const items = scan.items;
  const per = size * size * channels;
  const decoded: (Buffer | string)[] = new Array(items.length);
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      const item = items[k] as ImageEntry;
      try {
        const { data, info } = await sharp(item.path)
          .autoOrient()
          .resize(size, size, { fit: fit === 'stretch' ? 'fill' : 'cover' })
          .removeAlpha()
          .toColourspace(channels === 3 ? 'srgb' : 'b-w')
          .raw()
          .toBuffer({ resolveWithObject: true });
        if (data.length !== per) {
          throw new Error(`decoded ${info.width}x${info.height}x${info.channels}`);
        }
        decoded[k] = data;
      } catch (err) {
        decoded[k] = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, work));
  const skipped: SkippedImage[] = [...scan.unreadable];
  const files: string[] = [];
  const kept: number[] = [];
  for (const [k, d] of decoded.entries()) {
    const item = items[k] as ImageEntry;
    if (typeof d === 'string') {
      if (options.strict) throw new Error(`${item.path}: cannot decode (${d}) (strict)`);
      skipped.push({ path: item.path, reason: d });
    } else {
      kept.push(k);
      files.push(item.path);
    }
  }
  if (kept.length === 0) {
    throw new Error(`${scan.root}: none of the ${items.length} images could be decoded`);
  }
  const images = new Uint8Array(kept.length * per);
  const labels = new Int32Array(kept.length);
  for (const [i, k] of kept.entries()) {
    images.set(decoded[k] as Buffer, i * per);
    labels[i] = (items[k] as ImageEntry).label;
  }
  const numClasses = scan.classNames.length;
  const dataset = arrayDataset({
    name: options.name ?? scan.root,
    images,
    imageShape: [size, size, channels],
    labels,
    numClasses,
    ...(numClasses > 0 ? { classNames: scan.classNames } : {}),
  });
  return Object.assign(dataset, { files, skipped });
}
