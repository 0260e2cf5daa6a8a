/**
 * Drawing Vega-Lite specifications headless: compiled by `vega-lite`, laid out and
 * rendered to SVG by `vega` (no canvas needed), and to PNG by resvg with the bundled
 * font ({@link svgToPng}).
 */
import { writeFileAtomic } from '@ediy/core/node';
import { writeSvgAsPng, type ImageSize } from '@ediy/eval/node';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The files {@link savePlot} wrote. */
export interface SavedPlot extends ImageSize {
  /** The SVG file. */
  svg: string;
  /** The PNG file (twice the SVG's size, for screens). */
  png: string;
}

/**
 * Renders `spec` and writes `<base>.svg` and `<base>.png` (at twice the SVG's size),
 * each atomically.
 * @returns both paths and the PNG's size.
 */
export async function savePlot(spec: TopLevelSpec, base: string): Promise<SavedPlot> {
  const svg = await renderSvg(spec);
  writeFileAtomic(`${base}.svg`, svg);
  const size = writeSvgAsPng(`${base}.png`, svg, { scale: 2 });
  return { svg: `${base}.svg`, png: `${base}.png`, ...size };
}
