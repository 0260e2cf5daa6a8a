/**
 * JPEG and PNG decoding with pure-JS libraries (jpeg-js, pngjs). The format is found from
 * the file's first bytes, not its name.
 */
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import type { RawImage } from './resize.js';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The image format of `bytes` from its magic number, or `undefined`. */
export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/**
 * Decodes a PNG or JPEG to 8-bit RGB. PNG alpha is dropped (colour values are kept as
 * stored); grayscale and palette images become RGB; 16-bit PNGs are reduced to 8 bits.
 * @param name - the file name, for error messages.
 * @throws `<name>: not a PNG or JPEG (...)` or `<name>: cannot decode PNG: ...`.
 */
export function decodeImage(bytes: Uint8Array, name: string): RawImage {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(
      `${name}: not a PNG or JPEG (expected magic 89 50 4e 47 or ff d8 ff, got ${head || 'an empty file'})`,
    );
  }
  try {
    if (format === 'jpeg') {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxMemoryUsageInMB: 1024,
      });
      if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3) {
        throw new Error(`decoded ${img.width}x${img.height} with ${img.data.length} bytes`);
      }
      return { width: img.width, height: img.height, channels: 3, data: img.data };
    }
    const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const n = png.width * png.height;
    const rgb = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      rgb[3 * p] = png.data[4 * p] as number;
      rgb[3 * p + 1] = png.data[4 * p + 1] as number;
      rgb[3 * p + 2] = png.data[4 * p + 2] as number;
    }
    return { width: png.width, height: png.height, channels: 3, data: rgb };
  } catch (err) {
    throw new Error(`${name}: cannot decode ${format.toUpperCase()}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
