/**
 * Image files written by the tests (and the benchmark) with sharp.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** The raw RGB bytes of a `w x h` image whose pixel `(x, y)` is `rgb(x, y)`. */
export function rawImage(
  w: number,
  h: number,
  rgb: (x: number, y: number) => readonly [number, number, number],
): Buffer {
  const buf = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) buf.set(rgb(x, y), 3 * (y * w + x));
  return buf;
}

/** Writes a `w x h` JPEG (quality 90) or PNG of `rgb` to `path`, creating its folder. */
export async function writeImage(
  path: string,
  w: number,
  h: number,
  rgb: (x: number, y: number) => readonly [number, number, number],
  options: { orientation?: number } = {},
): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  let img = sharp(rawImage(w, h, rgb), { raw: { width: w, height: h, channels: 3 } });
  img = path.toLowerCase().endsWith('.png') ? img.png() : img.jpeg({ quality: 90 });
  if (options.orientation) img = img.withMetadata({ orientation: options.orientation });
  await img.toFile(path);
  return path;
}

/** One solid colour per class, far apart in RGB. */
export const CLASS_COLOURS: readonly (readonly [number, number, number])[] = [
  [230, 20, 20],
  [20, 200, 30],
  [30, 40, 220],
  [220, 220, 30],
];

/**
 * A folder `root/<class k>/<i>.jpg` of `perClass` solid-colour JPEGs per class (colour
 * {@link CLASS_COLOURS}[k]), of sizes that vary with `i`.
 */
export async function writeClassFolder(
  root: string,
  classes: number,
  perClass: number,
): Promise<string[]> {
  const paths: string[] = [];
  for (let k = 0; k < classes; k++) {
    for (let i = 0; i < perClass; i++) {
      const colour = CLASS_COLOURS[k % CLASS_COLOURS.length] as [number, number, number];
      paths.push(
        await writeImage(
          join(root, `class${k}`, `${String(i).padStart(3, '0')}.jpg`),
          24 + ((i * 7) % 17),
          20 + ((i * 5) % 13),
          () => colour,
        ),
      );
    }
  }
  return paths;
}

/** A JPEG whose header is intact but whose pixel data is cut short (readable header, fails to decode). */
export async function writeTruncatedJpeg(path: string): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  const full = await sharp(
    rawImage(64, 64, (x, y) => [(x * 4) % 256, (y * 4) % 256, 99]),
    {
      raw: { width: 64, height: 64, channels: 3 },
    },
  )
    .jpeg({ quality: 95 })
    .toBuffer();
  writeFileSync(path, full.subarray(0, Math.floor(full.length / 2)));
  return path;
}
