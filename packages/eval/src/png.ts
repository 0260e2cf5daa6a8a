/**
 * PNG writing (pngjs), atomic: the file appears complete or not at all.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';
import { assertInteger } from '@ediy/backend';

/**
 * Writes `rgba` (width*height*4 bytes, row-major, 8 bits per channel) as an RGBA PNG
 * to `path`, creating its directory. The bytes go to a temporary file beside `path`
 * that is then renamed over it, so readers never see a partial image.
 */
export function writePng(
  path: string,
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): void {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`path must be a non-empty string, got ${String(path)}`);
  assertInteger(width, 1, 'width');
  assertInteger(height, 1, 'height');
  if (!(rgba instanceof Uint8Array || rgba instanceof Uint8ClampedArray)) {
    throw new TypeError(
      `rgba must be a Uint8Array or Uint8ClampedArray, got ${Object.prototype.toString.call(rgba)}`,
    );
  }
  if (rgba.length !== width * height * 4) {
    throw new Error(
      `rgba must have width*height*4 = ${width * height * 4} bytes for ${width}x${height}, got ${rgba.length}`,
    );
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const bytes = PNG.sync.write(png);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
