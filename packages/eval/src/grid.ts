/**
 * A comparison grid of saliency overlays: one row per checkpoint, one column per image.
 */
import { assertInteger } from '@ediy/backend';
import { batchItem, readFloat, type FloatInput } from './host.js';
import { overlayHeatmap, type OverlayOptions } from './overlay.js';
import { drawText, FONT_SIZE, textWidth } from './font.js';
import { writePng } from './png.js';

/** One row of a {@link saliencyGrid}: a checkpoint's heat maps over a set of images. */
export interface SaliencyGridRow {
  /** Drawn left of the row with the built-in 5x7 font (e.g. `BYOL`, `E-DIY`). */
  label: string;
  /** Images [n,H,W,C], C = 1 or 3. */
  images: FloatInput;
  /** Heat maps [n,H,W] in [0,1], e.g. from {@link saliencyMaps}. */
  heatmaps: FloatInput;
}

/** The size of a written image, in pixels. */
export interface ImageSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options of {@link saliencyGrid}. */
export interface SaliencyGridOptions extends OverlayOptions {
  /** Integer zoom of every cell (nearest neighbour); default makes cells at least 64 px. */
  scale?: number;
  /** Gap between cells and around the grid, in pixels (default 4). */
  padding?: number;
  /** Integer zoom of the label font (default 1). */
  fontScale?: number;
}

/**
 * Renders rows (checkpoints) x columns (images) of heat-map overlays
 * ({@link overlayHeatmap}) with each row's label on the left, and writes the grid as a
 * PNG to `path` atomically ({@link writePng}).
 * @returns the PNG's size.
 * @throws when rows disagree on n, H or W, or a row is malformed.
 */
export function saliencyGrid(
  rows: readonly SaliencyGridRow[],
  path: string,
  options: SaliencyGridOptions = {},
): ImageSize {
  if (!Array.isArray(rows) || rows.length === 0)
    throw new Error('saliencyGrid needs at least one row');
  const bound: Record<string, number> = {};
  const parsed = rows.map((row, r) => {
    if (typeof row?.label !== 'string') throw new TypeError(`rows[${r}].label must be a string`);
    const img = readFloat(row.images, ['n', 'H', 'W', 'C'], `rows[${r}].images`, bound);
    Object.assign(bound, { n: img.dims.n, H: img.dims.H, W: img.dims.W });
    const heat = readFloat(
      row.heatmaps,
      [bound.n as number, bound.H as number, bound.W as number],
      `rows[${r}].heatmaps`,
    );
    return {
      label: row.label,
      images: { data: img.data, shape: img.shape },
      heat: { data: heat.data, shape: heat.shape },
    };
  });
  const n = bound.n as number;
  const H = bound.H as number;
  const W = bound.W as number;
  const scale = options.scale ?? Math.max(1, Math.ceil(64 / Math.max(H, W)));
  const pad = options.padding ?? 4;
  const fontScale = options.fontScale ?? 1;
  assertInteger(scale, 1, 'scale');
  assertInteger(pad, 0, 'padding');
  assertInteger(fontScale, 1, 'fontScale');
  const labelW = Math.max(...parsed.map((p) => textWidth(p.label, fontScale)));
  const left = labelW > 0 ? labelW + 2 * pad : pad;
  const cellW = W * scale;
  const cellH = H * scale;
  const width = left + n * (cellW + pad);
  const height = pad + parsed.length * (cellH + pad);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([32, 32, 32, 255], i * 4);
  parsed.forEach((row, r) => {
    const top = pad + r * (cellH + pad);
    drawText(
      rgba,
      width,
      row.label,
      pad,
      top + Math.floor((cellH - FONT_SIZE.height * fontScale) / 2),
      [255, 255, 255],
      fontScale,
    );
    for (let c = 0; c < n; c++) {
      const cell = overlayHeatmap(batchItem(row.images, c), batchItem(row.heat, c), options);
      const x0 = left + c * (cellW + pad);
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const src = (Math.floor(y / scale) * W + Math.floor(x / scale)) * 4;
          rgba.set(cell.subarray(src, src + 4), ((top + y) * width + x0 + x) * 4);
        }
      }
    }
  });
  writePng(path, rgba, width, height);
  return { width, height };
}
