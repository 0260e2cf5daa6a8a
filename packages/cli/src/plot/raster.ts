/**
 * A tiny RGBA raster to draw plots into: filled rectangles, lines and text in the
 * built-in 5x7 bitmap font of `@ediy/eval`, saved as PNG.
 */
import { assertInteger } from '@ediy/backend';
import { drawText, FONT_SIZE, textWidth, writePng } from '@ediy/eval';

/** An RGB colour, 0-255 per channel. */
export type Rgb = readonly [number, number, number];

/** Colours that tell series apart (a colour-blind-safe set first). */
export const PALETTE: readonly Rgb[] = [
  [0, 114, 178],
  [213, 94, 0],
  [0, 158, 115],
  [204, 121, 167],
  [230, 159, 0],
  [86, 180, 233],
  [120, 120, 120],
  [170, 40, 40],
  [60, 60, 160],
  [140, 110, 40],
];

/** The colour of series `i` (cycling through {@link PALETTE}). */
export function seriesColour(i: number): Rgb {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] as Rgb;
}

/** An RGBA image, row-major, 8 bits a channel, drawn on in place. */
export class Raster {
  /** The pixels, width*height*4 bytes. */
  readonly rgba: Uint8Array;

  /**
   * @param width - pixels.
   * @param height - pixels.
   * @param background - initial colour (default white).
   */
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    assertInteger(width, 1, 'raster width');
    assertInteger(height, 1, 'raster height');
    this.rgba = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  /** Sets one pixel; outside the raster is ignored. */
  setPixel(x: number, y: number, colour: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const o = (py * this.width + px) * 4;
    this.rgba[o] = colour[0];
    this.rgba[o + 1] = colour[1];
    this.rgba[o + 2] = colour[2];
    this.rgba[o + 3] = 255;
  }

  /** The [r,g,b] of a pixel. */
  pixel(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 4;
    return [this.rgba[o] ?? 0, this.rgba[o + 1] ?? 0, this.rgba[o + 2] ?? 0];
  }

  /** Fills the rectangle [x, x+w) x [y, y+h), clipped to the raster. */
  fillRect(x: number, y: number, w: number, h: number, colour: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.setPixel(px, py, colour);
  }

  /** A line from (x0,y0) to (x1,y1) (Bresenham), `thickness` pixels wide. */
  line(x0: number, y0: number, x1: number, y1: number, colour: Rgb, thickness = 1): void {
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xe = Math.round(x1);
    const ye = Math.round(y1);
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    let err = dx + dy;
    const half = Math.floor((thickness - 1) / 2);
    for (;;) {
      if (thickness <= 1) this.setPixel(x, y, colour);
      else this.fillRect(x - half, y - half, thickness, thickness, colour);
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  /** Text with its top-left corner at (x, y); `align` places x at the left, centre or right end. */
  text(
    text: string,
    x: number,
    y: number,
    colour: Rgb = [0, 0, 0],
    scale = 1,
    align: 'left' | 'center' | 'right' = 'left',
  ): void {
    const w = textWidth(text, scale);
    const left = align === 'left' ? x : align === 'center' ? x - Math.floor(w / 2) : x - w;
    drawText(this.rgba, this.width, text, Math.round(left), Math.round(y), colour, scale);
  }

  /** Writes the raster as a PNG (atomically, creating the folder). */
  save(path: string): void {
    writePng(path, this.rgba, this.width, this.height);
  }
}

/** Height in pixels of one line of text at `scale`. */
export function lineHeight(scale = 1): number {
  return (FONT_SIZE.height + 3) * scale;
}

export { textWidth };
