/**
 * Image files: PNG from RGBA bytes (pngjs) and from SVG (resvg, with the DejaVu Sans
 * font shipped by the `dejavu-fonts-ttf` package, so text renders the same on every
 * machine, with or without system fonts). Every write is atomic: the file appears
 * complete or not at all.
 */
import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import { Resvg } from '@resvg/resvg-js';
import { assertInteger } from '@ediy/core';
import { writeFileAtomic as coreWriteFileAtomic } from '@ediy/core/node';

/** The font family every SVG of ediy names; {@link svgToPng} renders it from bundled files. */
export const FONT_FAMILY = 'DejaVu Sans';

const require = createRequire(import.meta.url);
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) =>
  require.resolve(`dejavu-fonts-ttf/ttf/${f}`),
);

/** The size of an image, in pixels. */
export interface ImageSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Writes a file atomically and durably: the one writer of `@ediy/core/node`.
 * @deprecated Moved to `@ediy/core/node`; import `writeFileAtomic` from there.
 */
export const writeFileAtomic = coreWriteFileAtomic;

function checkRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): void {
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
}

/**
 * Encodes `rgba` (width*height*4 bytes, row-major, 8 bits per channel) as an RGBA PNG.
 * @returns the PNG file's bytes.
 */
export function encodePng(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): Buffer {
  checkRgba(rgba, width, height);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

/**
 * Writes `rgba` (width*height*4 bytes, row-major, 8 bits per channel) as an RGBA PNG
 * to `path`, atomically (`writeFileAtomic` of `@ediy/core/node`).
 */
export function writePng(
  path: string,
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
): void {
  coreWriteFileAtomic(path, encodePng(rgba, width, height));
}

/** Options of {@link svgToPng}. */
export interface SvgToPngOptions {
  /** Zoom: the PNG is `scale` times the SVG's width and height (default 1). */
  scale?: number;
  /** Colour under the drawing (default white; `transparent` for none). */
  background?: string;
}

/**
 * Renders an SVG document to PNG with resvg, text in {@link FONT_FAMILY} from the
 * bundled font files (system fonts are not consulted).
 * @returns the PNG's bytes and size.
 * @throws when `svg` is not a parseable SVG document.
 */
export function svgToPng(svg: string, options: SvgToPngOptions = {}): ImageSize & { png: Buffer } {
  if (typeof svg !== 'string' || !svg.includes('<svg'))
    throw new TypeError(`svg must be an SVG document string, got ${String(svg).slice(0, 40)}`);
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 16))
    throw new RangeError(`scale must be a number in (0, 16], got ${scale}`);
  const background = options.background ?? 'white';
  const resvg = new Resvg(svg, {
    font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
    fitTo: { mode: 'zoom', value: scale },
    ...(background === 'transparent' ? {} : { background }),
  });
  const image = resvg.render();
  return { png: image.asPng(), width: image.width, height: image.height };
}

/**
 * Renders `svg` ({@link svgToPng}) and writes the PNG to `path` atomically.
 * @returns the PNG's size.
 */
export function writeSvgAsPng(path: string, svg: string, options: SvgToPngOptions = {}): ImageSize {
  const { png, width, height } = svgToPng(svg, options);
  coreWriteFileAtomic(path, png);
  return { width, height };
}
