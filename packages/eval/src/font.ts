/**
 * A tiny built-in 5x7 bitmap font for labelling images (A-Z, 0-9, common punctuation;
 * lower case is drawn as upper case, unknown characters as `?`).
 */

// Each glyph: 7 rows of 5 columns, '#' = ink.
const GLYPHS: Record<string, string> = {
  ' ': '     |     |     |     |     |     |     ',
  A: ' ### |#   #|#   #|#####|#   #|#   #|#   #',
  B: '#### |#   #|#   #|#### |#   #|#   #|#### ',
  C: ' ### |#   #|#    |#    |#    |#   #| ### ',
  D: '#### |#   #|#   #|#   #|#   #|#   #|#### ',
  E: '#####|#    |#    |#### |#    |#    |#####',
  F: '#####|#    |#    |#### |#    |#    |#    ',
  G: ' ### |#   #|#    |# ###|#   #|#   #| ####',
  H: '#   #|#   #|#   #|#####|#   #|#   #|#   #',
  I: ' ### |  #  |  #  |  #  |  #  |  #  | ### ',
  J: '  ###|   # |   # |   # |   # |#  # | ##  ',
  K: '#   #|#  # |# #  |##   |# #  |#  # |#   #',
  L: '#    |#    |#    |#    |#    |#    |#####',
  M: '#   #|## ##|# # #|# # #|#   #|#   #|#   #',
  N: '#   #|#   #|##  #|# # #|#  ##|#   #|#   #',
  O: ' ### |#   #|#   #|#   #|#   #|#   #| ### ',
  P: '#### |#   #|#   #|#### |#    |#    |#    ',
  Q: ' ### |#   #|#   #|#   #|# # #|#  # | ## #',
  R: '#### |#   #|#   #|#### |# #  |#  # |#   #',
  S: ' ####|#    |#    | ### |    #|    #|#### ',
  T: '#####|  #  |  #  |  #  |  #  |  #  |  #  ',
  U: '#   #|#   #|#   #|#   #|#   #|#   #| ### ',
  V: '#   #|#   #|#   #|#   #|#   #| # # |  #  ',
  W: '#   #|#   #|#   #|# # #|# # #|# # #| # # ',
  X: '#   #|#   #| # # |  #  | # # |#   #|#   #',
  Y: '#   #|#   #| # # |  #  |  #  |  #  |  #  ',
  Z: '#####|    #|   # |  #  | #   |#    |#####',
  '0': ' ### |#   #|#  ##|# # #|##  #|#   #| ### ',
  '1': '  #  | ##  |  #  |  #  |  #  |  #  | ### ',
  '2': ' ### |#   #|    #|   # |  #  | #   |#####',
  '3': '#####|   # |  #  |   # |    #|#   #| ### ',
  '4': '   # |  ## | # # |#  # |#####|   # |   # ',
  '5': '#####|#    |#### |    #|    #|#   #| ### ',
  '6': '  ## | #   |#    |#### |#   #|#   #| ### ',
  '7': '#####|    #|   # |  #  | #   | #   | #   ',
  '8': ' ### |#   #|#   #| ### |#   #|#   #| ### ',
  '9': ' ### |#   #|#   #| ####|    #|   # | ##  ',
  '-': '     |     |     |#####|     |     |     ',
  _: '     |     |     |     |     |     |#####',
  '.': '     |     |     |     |     | ##  | ##  ',
  ',': '     |     |     |     | ##  |  #  | #   ',
  ':': '     | ##  | ##  |     | ##  | ##  |     ',
  '/': '     |    #|   # |  #  | #   |#    |     ',
  '(': '   # |  #  | #   | #   | #   |  #  |   # ',
  ')': ' #   |  #  |   # |   # |   # |  #  | #   ',
  '+': '     |  #  |  #  |#####|  #  |  #  |     ',
  '=': '     |     |#####|     |#####|     |     ',
  '%': '##   |##  #|   # |  #  | #   |#  ##|   ##',
  '#': ' # # | # # |#####| # # |#####| # # | # # ',
  "'": ' ##  |  #  | #   |     |     |     |     ',
  '?': ' ### |#   #|    #|   # |  #  |     |  #  ',
};

/** Glyph width and height in pixels (before scaling); glyphs are advanced by width + 1. */
export const FONT_SIZE = {
  /** Glyph width in pixels. */
  width: 5,
  /** Glyph height in pixels. */
  height: 7,
} as const;

function glyph(ch: string): string[] {
  return (GLYPHS[ch.toUpperCase()] ?? GLYPHS['?'] ?? '').split('|');
}

/** Width in pixels of `text` drawn at integer `scale` (6 * scale per character, less the last gap). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * (FONT_SIZE.width + 1) - 1) * scale;
}

/**
 * Draws `text` into an RGBA buffer of width `width` with its top-left corner at
 * (x, y), in `colour` [r,g,b], each font pixel a `scale` x `scale` block. Pixels
 * outside the buffer are skipped.
 */
export function drawText(
  rgba: Uint8Array,
  width: number,
  text: string,
  x: number,
  y: number,
  colour: readonly [number, number, number] = [255, 255, 255],
  scale = 1,
): void {
  const height = Math.floor(rgba.length / (4 * width));
  [...text].forEach((ch, k) => {
    const rows = glyph(ch);
    rows.forEach((row, gy) => {
      for (let gx = 0; gx < row.length; gx++) {
        if (row[gx] !== '#') continue;
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) {
            const px = x + (k * (FONT_SIZE.width + 1) + gx) * scale + sx;
            const py = y + gy * scale + sy;
            if (px < 0 || py < 0 || px >= width || py >= height) continue;
            const o = (py * width + px) * 4;
            rgba[o] = colour[0];
            rgba[o + 1] = colour[1];
            rgba[o + 2] = colour[2];
            rgba[o + 3] = 255;
          }
        }
      }
    });
  });
}
