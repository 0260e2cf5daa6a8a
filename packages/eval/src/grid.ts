/**
 * A Fig. 1-style saliency grid: one row per image, the raw image in the first column,
 * then one column of heat-map overlays per checkpoint, labelled column headers and a
 * colour bar of the heat scale. Composed as SVG (cells embedded as PNG), rendered to
 * PNG with resvg ({@link writeSvgAsPng}).
 */
import { assertInteger, batchItem, type FloatInput, type HostArray, readFloat } from '@ediy/core';
import { jet, overlayHeatmap, type OverlayOptions } from './overlay.js';
import { encodePng, FONT_FAMILY, writeSvgAsPng, type ImageSize } from './png.js';

export type { ImageSize } from './png.js';

/** One checkpoint's column of a {@link saliencyGrid}. */
export interface SaliencyGridColumn {
  /** The column header (e.g. `BYOL`, `E-DIY`). */
  label: string;
  /** Heat maps [n,H,W] in [0,1] over the grid's images, e.g. from {@link saliencyMaps}. */
  heatmaps: FloatInput;
}

/** Options of {@link saliencyGrid} and {@link saliencyGridSvg}. */
export interface SaliencyGridOptions extends OverlayOptions {
  /** Integer zoom of every cell (nearest neighbour); default makes cells at least 96 px. */
  scale?: number;
  /** Gap between cells and around the grid, in pixels (default 6). */
  padding?: number;
  /** Font size of the labels, in pixels (default 14). */
  fontSize?: number;
  /** Header of the raw-image column (default `image`). */
  imageLabel?: string;
  /** Caption of the colour bar (default `saliency`). */
  colourBarLabel?: string;
  /** A title above the grid (default none). */
  title?: string;
}

/** What {@link saliencyGridSvg} composed. */
export interface SaliencyGridSvg extends ImageSize {
  /** The SVG document. */
  svg: string;
}

/** Escapes text for SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A rough text width in DejaVu Sans (0.62 em a character), for layout. */
function textWidth(text: string, fontSize: number): number {
  return Math.ceil(text.length * fontSize * 0.62);
}

function cellUri(rgba: Uint8Array, W: number, H: number, scale: number): string {
  const w = W * scale;
  const h = H * scale;
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * W + Math.floor(x / scale)) * 4;
      out.set(rgba.subarray(src, src + 4), (y * w + x) * 4);
    }
  }
  return `data:image/png;base64,${encodePng(out, w, h).toString('base64')}`;
}

function hex([r, g, b]: [number, number, number]): string {
  const h = (v: number): string =>
    Math.round(v * 255)
      .toString(16)
      .padStart(2, '0');
  return `#${h(r)}${h(g)}${h(b)}`;
}

/**
 * Composes the grid of {@link saliencyGrid} as an SVG document (the cells embedded as
 * PNG data), without writing anything.
 * @throws when `images` is not [n,H,W,C] with C = 1 or 3, there is no column, or a
 *   column's heat maps are not [n,H,W].
 */
export function saliencyGridSvg(
  images: FloatInput,
  columns: readonly SaliencyGridColumn[],
  options: SaliencyGridOptions = {},
): SaliencyGridSvg {
  if (!Array.isArray(columns) || columns.length === 0)
    throw new Error('saliencyGrid needs at least one column of heat maps');
  const img = readFloat(images, ['n', 'H', 'W', 'C'], 'images');
  const { n, H, W } = img.dims as { n: number; H: number; W: number };
  const raw: HostArray = { data: img.data, shape: img.shape };
  const parsed = columns.map((col, c) => {
    if (typeof col?.label !== 'string')
      throw new TypeError(`columns[${c}].label must be a string, got ${typeof col?.label}`);
    const heat = readFloat(col.heatmaps, [n, H, W], `columns[${c}].heatmaps`);
    return { label: col.label, heat: { data: heat.data, shape: heat.shape } as HostArray };
  });
  const scale = options.scale ?? Math.max(1, Math.ceil(96 / Math.max(H, W)));
  const pad = options.padding ?? 6;
  const fontSize = options.fontSize ?? 14;
  assertInteger(scale, 1, 'scale');
  assertInteger(pad, 0, 'padding');
  assertInteger(fontSize, 6, 'fontSize');
  const headers = [options.imageLabel ?? 'image', ...parsed.map((p) => p.label)];
  const cellW = W * scale;
  const cellH = H * scale;
  const colW = Math.max(cellW, ...headers.map((h) => textWidth(h, fontSize)));
  const titleH = options.title ? Math.round(fontSize * 1.8) : 0;
  const headerH = Math.round(fontSize * 1.6);
  const top = pad + titleH + headerH;
  const gridW = headers.length * colW + (headers.length - 1) * pad;
  const gridH = n * cellH + (n - 1) * pad;
  const barX = pad + gridW + 2 * pad;
  const barW = Math.max(10, Math.round(fontSize * 0.9));
  const tickW = textWidth('0.5', fontSize) + 6;
  const width = barX + barW + tickW + Math.round(fontSize * 1.6) + pad;
  const height = top + gridH + pad + Math.ceil(fontSize / 2);
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = ''): void => {
    parts.push(
      `<text x="${x}" y="${y}" font-family="${FONT_FAMILY}" font-size="${fontSize}" fill="#222"${extra}>${escapeXml(s)}</text>`,
    );
  };
  parts.push(`<rect class="background" width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title)
    text(width / 2, pad + fontSize, options.title, ' text-anchor="middle" font-weight="bold"');
  headers.forEach((h, c) => {
    const x = pad + c * (colW + pad) + colW / 2;
    text(x, pad + titleH + fontSize, h, ' text-anchor="middle" class="header"');
  });
  for (let r = 0; r < n; r++) {
    const y = top + r * (cellH + pad);
    const image = batchItem(raw, r);
    const cells = [
      overlayHeatmap(
        image,
        { data: new Float32Array(H * W), shape: [H, W] },
        {
          ...(options.range !== undefined ? { range: options.range } : {}),
          alpha: 0,
        },
      ),
      ...parsed.map((p) => overlayHeatmap(image, batchItem(p.heat, r), options)),
    ];
    cells.forEach((rgba, c) => {
      const x = pad + c * (colW + pad) + Math.floor((colW - cellW) / 2);
      parts.push(
        `<image class="${c === 0 ? 'raw' : 'overlay'}" x="${x}" y="${y}" width="${cellW}" height="${cellH}" href="${cellUri(rgba, W, H, scale)}"/>`,
      );
    });
  }
  const stops = Array.from({ length: 11 }, (_, i) => i / 10)
    .map((t) => `<stop offset="${t}" stop-color="${hex(jet(1 - t))}"/>`)
    .join('');
  parts.push(
    `<defs><linearGradient id="heat" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
  );
  parts.push(
    `<rect class="colour-bar" x="${barX}" y="${top}" width="${barW}" height="${gridH}" fill="url(#heat)" stroke="#222" stroke-width="0.5"/>`,
  );
  for (const t of [0, 0.5, 1]) {
    const y = top + (1 - t) * gridH;
    parts.push(
      `<line x1="${barX + barW}" y1="${y}" x2="${barX + barW + 4}" y2="${y}" stroke="#222"/>`,
    );
    text(barX + barW + 6, y + fontSize * 0.35, String(t), ' class="tick"');
  }
  const capX = barX + barW + tickW + fontSize;
  const capY = top + gridH / 2;
  text(
    capX,
    capY,
    options.colourBarLabel ?? 'saliency',
    ` text-anchor="middle" transform="rotate(-90 ${capX} ${capY})" class="caption"`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>\n`;
  return { svg, width, height };
}

/**
 * Renders rows (images) x columns (the raw image, then one heat-map overlay per
 * checkpoint, {@link overlayHeatmap}) with column headers and a colour bar, and
 * writes it as a PNG to `path` atomically ({@link saliencyGridSvg}, {@link writeSvgAsPng}).
 * @returns the PNG's size.
 * @throws as {@link saliencyGridSvg} does.
 */
export function saliencyGrid(
  images: FloatInput,
  columns: readonly SaliencyGridColumn[],
  path: string,
  options: SaliencyGridOptions = {},
): ImageSize {
  const { svg } = saliencyGridSvg(images, columns, options);
  return writeSvgAsPng(path, svg);
}
