/**
 * Folders of JPEG/PNG images, decoded with pure-JS libraries and resized to one square
 * size at load.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { assertInteger } from '@ediy/core';
import { arrayDataset } from './array-dataset.js';
import { decodeImage } from './decode.js';
import { readFileNamed } from './files.js';
import { resizeSquare, type ResizeFit } from './resize.js';
import type { Dataset } from './types.js';

/** File extensions (lower case) read as images. Other files are ignored. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Output side in pixels: every image becomes `size x size`. */
  size: number;
  /**
   * `subfolders` (default): each immediate subfolder of `dir` is a class (sorted by name;
   * class `k` is the k-th name), and its images, at any depth, are its items; files
   * directly in `dir` are ignored. `none`: every image under `dir` at any depth, unlabeled
   * (labels `-1`, `numClasses` 0).
   */
  labeled?: 'subfolders' | 'none';
  /**
   * When false (default) any unreadable image is an error listing every such file. When
   * true they are left out and listed in the dataset's `skipped`.
   */
  skipUnreadable?: boolean;
  /** Output channels: 3 (default, RGB) or 1 (luma, 0.299 R + 0.587 G + 0.114 B). */
  channels?: 1 | 3;
  /** How non-square images become square: `center-crop` (default) or `stretch`. */
  fit?: ResizeFit;
}

/** An image file {@link loadImageFolder} could not read, and why. */
export interface SkippedImage {
  /** Path of the file. */
  path: string;
  /** The decoding or reading error. */
  reason: string;
}

/** A dataset loaded from a folder: the files it holds and the files it skipped. */
export interface ImageFolderDataset extends Dataset {
  /** Path of each item's source file, by item index. */
  readonly files: readonly string[];
  /** Unreadable image files left out (only with `skipUnreadable: true`; else empty). */
  readonly skipped: readonly SkippedImage[];
}

async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listImages(path)));
    else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase()))
      out.push(path);
  }
  return out;
}

/**
 * Loads every JPEG/PNG image under `dir`, decoded and resized to `size x size`
 * (bytes in memory: `count * size^2 * channels`), as a {@link Dataset}.
 *
 * @throws naming the path: a missing folder, a folder without images, a `subfolders`
 *   folder without subfolders, unreadable images (unless `skipUnreadable`).
 */
export async function loadImageFolder(
  dir: string,
  options: ImageFolderOptions,
): Promise<ImageFolderDataset> {
  const size = options?.size;
  assertInteger(size, 1, 'loadImageFolder: size');
  const labeled = options.labeled ?? 'subfolders';
  if (labeled !== 'subfolders' && labeled !== 'none') {
    throw new RangeError(
      `loadImageFolder: labeled must be 'subfolders' or 'none', got ${String(labeled)}`,
    );
  }
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`loadImageFolder: channels must be 1 or 3, got ${String(channels)}`);
  }
  const fit = options.fit ?? 'center-crop';
  if (fit !== 'center-crop' && fit !== 'stretch') {
    throw new RangeError(
      `loadImageFolder: fit must be 'center-crop' or 'stretch', got ${String(fit)}`,
    );
  }
  const info = await stat(dir).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT' ? 'folder not found' : `cannot read folder (${(err as Error).message})`;
    throw new Error(`${dir}: ${what} (expected a folder of PNG/JPEG images)`, { cause: err });
  });
  if (!info.isDirectory())
    throw new Error(`${dir}: not a folder (expected a folder of PNG/JPEG images)`);

  const items: { path: string; label: number }[] = [];
  let classNames: string[] = [];
  if (labeled === 'subfolders') {
    const entries = await readdir(dir, { withFileTypes: true });
    classNames = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    if (classNames.length === 0) {
      throw new Error(
        `${dir}: no subfolders; labeled: 'subfolders' expects one subfolder per class (or use labeled: 'none')`,
      );
    }
    for (const [k, cls] of classNames.entries()) {
      for (const path of await listImages(join(dir, cls))) items.push({ path, label: k });
    }
  } else {
    for (const path of await listImages(dir)) items.push({ path, label: -1 });
  }
  if (items.length === 0) {
    throw new Error(
      `${dir}: no image files found (expected files ending in ${IMAGE_EXTENSIONS.join(', ')})`,
    );
  }

  const pixels = size * size * channels;
  const images = new Uint8Array(items.length * pixels);
  const labels = new Int32Array(items.length);
  const files: string[] = [];
  const skipped: SkippedImage[] = [];
  for (const item of items) {
    let square: Uint8Array;
    try {
      const bytes = await readFileNamed(item.path, 'a PNG or JPEG image');
      square = resizeSquare(decodeImage(bytes, item.path), size, fit);
    } catch (err) {
      skipped.push({ path: item.path, reason: (err as Error).message });
      continue;
    }
    const dst = files.length * pixels;
    if (channels === 3) {
      images.set(square, dst);
    } else {
      for (let p = 0; p < size * size; p++) {
        images[dst + p] = Math.round(
          0.299 * (square[3 * p] as number) +
            0.587 * (square[3 * p + 1] as number) +
            0.114 * (square[3 * p + 2] as number),
        );
      }
    }
    labels[files.length] = item.label;
    files.push(item.path);
  }
  if (skipped.length > 0 && !options.skipUnreadable) {
    const list = skipped.map((s) => `  ${relative(dir, s.path)}: ${s.reason}`).join('\n');
    throw new Error(
      `${dir}: ${skipped.length} of ${items.length} images are unreadable (pass skipUnreadable: true to skip them):\n${list}`,
    );
  }
  if (files.length === 0) throw new Error(`${dir}: all ${items.length} images are unreadable`);
  const dataset = arrayDataset({
    name: dir,
    images: images.subarray(0, files.length * pixels),
    imageShape: [size, size, channels],
    labels: labels.subarray(0, files.length),
    numClasses: labeled === 'subfolders' ? classNames.length : 0,
    ...(labeled === 'subfolders' ? { classNames } : {}),
  });
  return Object.assign(dataset, { files, skipped });
}
