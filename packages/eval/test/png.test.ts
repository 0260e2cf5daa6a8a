import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { XMLParser } from 'fast-xml-parser';
import { jet, overlayHeatmap } from '@ediy/eval';
import {
  escapeXml,
  saliencyGrid,
  saliencyGridSvg,
  svgToPng,
  writePng,
  writeSvgAsPng,
} from '@ediy/eval/node';

const dir = mkdtempSync(join(tmpdir(), 'ediy-eval-png-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function decode(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

describe('jet and overlayHeatmap', () => {
  it('maps 0, 0.5 and 1 to dark blue, green and dark red', () => {
    expect(jet(0)).toEqual([0, 0, 0.5]);
    expect(jet(0.5)).toEqual([0.5, 1, 0.5]);
    expect(jet(1)).toEqual([0.5, 0, 0]);
    expect(jet(2)).toEqual(jet(1));
  });

  it('blends (1 - alpha) image + alpha jet(heat) per pixel (hand-computed)', () => {
    // 1x2 grey image 0.2, 1.0; heat 0, 1; alpha 0.25.
    const out = overlayHeatmap(
      { data: Float32Array.from([0.2, 1]), shape: [1, 2, 1] },
      { data: Float32Array.from([0, 1]), shape: [1, 2] },
      { alpha: 0.25 },
    );
    const px = (v: number, c: number): number => Math.round(255 * (0.75 * v + 0.25 * c));
    expect(Array.from(out)).toEqual([
      px(0.2, 0),
      px(0.2, 0),
      px(0.2, 0.5),
      255,
      px(1, 0.5),
      px(1, 0),
      px(1, 0),
      255,
    ]);
    // range 'auto' stretches [2, 4] to [0, 1].
    const auto = overlayHeatmap(
      { data: Float32Array.from([2, 4]), shape: [1, 2, 1] },
      { data: new Float32Array(2), shape: [1, 2] },
      { alpha: 0, range: 'auto' },
    );
    expect(Array.from(auto)).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
  });

  it('names mismatched sizes and bad options', () => {
    const img = { data: new Float32Array(2 * 2 * 3), shape: [2, 2, 3] };
    expect(() => overlayHeatmap(img, { data: new Float32Array(3), shape: [1, 3] })).toThrow(
      /heat must have shape \[2,2\], got \[1,3\]/,
    );
    expect(() =>
      overlayHeatmap(
        { data: new Float32Array(8), shape: [2, 2, 2] },
        { data: new Float32Array(4), shape: [2, 2] },
      ),
    ).toThrow(/1 or 3 channels/);
    expect(() =>
      overlayHeatmap(img, { data: new Float32Array(4), shape: [2, 2] }, { alpha: 2 }),
    ).toThrow(/alpha must be a number in \[0, 1\], got 2/);
  });
});

describe('writePng', () => {
  it('writes a PNG that decodes to the same pixels, leaving no temporary file', () => {
    const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);
    const path = join(dir, 'sub', 'x.png');
    writePng(path, rgba, 3, 2);
    const png = decode(path);
    expect([png.width, png.height]).toEqual([3, 2]);
    expect(Array.from(png.data)).toEqual(Array.from(rgba));
    expect(readdirSync(join(dir, 'sub'))).toEqual(['x.png']);
  });

  it('names a wrong buffer size', () => {
    expect(() => writePng(join(dir, 'bad.png'), new Uint8Array(10), 2, 2)).toThrow(
      /16 bytes for 2x2, got 10/,
    );
    expect(existsSync(join(dir, 'bad.png'))).toBe(false);
  });
});

describe('svgToPng', () => {
  const pixel = (png: PNG, x: number, y: number): number[] =>
    Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));

  it('renders shapes at the SVG size times the zoom, on white', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect x="10" width="10" height="10" fill="#ff0000"/></svg>';
    const one = svgToPng(svg);
    expect([one.width, one.height]).toEqual([20, 10]);
    const png = PNG.sync.read(one.png);
    expect(pixel(png, 15, 5)).toEqual([255, 0, 0, 255]);
    expect(pixel(png, 5, 5)).toEqual([255, 255, 255, 255]);
    const two = svgToPng(svg, { scale: 2 });
    expect([two.width, two.height]).toEqual([40, 20]);
  });

  it('draws text with the bundled font, whatever fonts the system has', () => {
    const blank = '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="24"></svg>';
    const withText =
      '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="24"><text x="4" y="18" font-family="DejaVu Sans" font-size="16">E-DIY</text></svg>';
    const dark = (svg: string): number => {
      const png = PNG.sync.read(svgToPng(svg).png);
      let n = 0;
      for (let i = 0; i < png.width * png.height; i++) if ((png.data[i * 4] as number) < 128) n++;
      return n;
    };
    expect(dark(blank)).toBe(0);
    expect(dark(withText)).toBeGreaterThan(40);
  });

  it('writes atomically and names bad input', () => {
    const path = join(dir, 'svg', 'a.png');
    const size = writeSvgAsPng(
      path,
      '<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2"></svg>',
    );
    expect(size).toEqual({ width: 3, height: 2 });
    expect(readdirSync(join(dir, 'svg'))).toEqual(['a.png']);
    expect(() => svgToPng('not svg')).toThrow(/SVG document string, got not svg/);
    expect(() => svgToPng('<svg></svg>', { scale: 0 })).toThrow(/scale must be .* got 0/);
    expect(escapeXml('a<b & "c"')).toBe('a&lt;b &amp; &quot;c&quot;');
  });
});

describe('saliencyGrid', () => {
  const n = 3;
  const H = 8;
  const W = 6;
  const images = {
    data: Float32Array.from({ length: n * H * W * 3 }, (_, i) => (i % 7) / 7),
    shape: [n, H, W, 3],
  };
  const heat = (v: number) => ({ data: new Float32Array(n * H * W).fill(v), shape: [n, H, W] });
  const columns = [
    { label: 'BYOL', heatmaps: heat(0) },
    { label: 'E-DIY', heatmaps: heat(1) },
  ];
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
  });

  it('composes a raw-image column, one overlay column per checkpoint, headers and a colour bar', () => {
    const { svg, width, height } = saliencyGridSvg(images, columns, { scale: 4, title: 'Fig. 1' });
    const doc = parser.parse(svg) as {
      svg: {
        width: string;
        image: Array<{ class: string; width: string }>;
        text: Array<{ class?: string; '#text': string }>;
        rect: Array<{ class: string }>;
      };
    };
    expect(Number(doc.svg.width)).toBe(width);
    expect(doc.svg.image).toHaveLength(n * (1 + columns.length));
    expect(doc.svg.image.filter((i) => i.class === 'raw')).toHaveLength(n);
    expect(doc.svg.image.every((i) => Number(i.width) === W * 4)).toBe(true);
    const headers = doc.svg.text.filter((t) => t.class === 'header').map((t) => t['#text']);
    expect(headers).toEqual(['image', 'BYOL', 'E-DIY']);
    expect(doc.svg.text.filter((t) => t.class === 'tick').map((t) => t['#text'])).toEqual([
      '0',
      '0.5',
      '1',
    ]);
    expect(doc.svg.text.some((t) => t['#text'] === 'Fig. 1')).toBe(true);
    expect(doc.svg.rect.map((r) => r.class)).toContain('colour-bar');
    expect(height).toBeGreaterThan(n * H * 4);
  });

  it('writes the PNG: raw pixels in the first column, pure jet colours with alpha 1', () => {
    const path = join(dir, 'grid.png');
    const size = saliencyGrid(images, columns, path, { scale: 4, padding: 5, alpha: 1 });
    const png = decode(path);
    expect([png.width, png.height]).toEqual([size.width, size.height]);
    const { svg } = saliencyGridSvg(images, columns, { scale: 4, padding: 5, alpha: 1 });
    const doc = parser.parse(svg) as { svg: { image: Array<{ x: string; y: string }> } };
    const at = (x: number, y: number): number[] =>
      Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));
    // Cells are in row-major order: image 0's raw, BYOL (heat 0), E-DIY (heat 1).
    const cell = (k: number, dx: number, dy: number): number[] => {
      const c = doc.svg.image[k] as { x: string; y: string };
      return at(Number(c.x) + dx, Number(c.y) + dy);
    };
    // Raw pixel (1, 2) of image 0, zoomed 4x: sample its block's middle.
    const rawAt = (c: number): number =>
      Math.round(255 * (images.data[(2 * W + 1) * 3 + c] as number));
    const sample = cell(0, 1 * 4 + 2, 2 * 4 + 2);
    sample.forEach((v, c) => expect(Math.abs(v - rawAt(c))).toBeLessThanOrEqual(1));
    expect(cell(1, 10, 10)).toEqual([0, 0, 128]);
    expect(cell(2, 10, 10)).toEqual([128, 0, 0]);
    // The headers are drawn in dark ink above the cells.
    let ink = 0;
    const top = Number((doc.svg.image[0] as { y: string }).y);
    for (let y = 0; y < top; y++)
      for (let x = 0; x < png.width; x++) if ((at(x, y)[0] as number) < 100) ink++;
    expect(ink).toBeGreaterThan(30);
  });

  it('names inputs that disagree', () => {
    const h = { data: new Float32Array(2 * 16), shape: [2, 4, 4] };
    const a = { data: new Float32Array(2 * 4 * 4 * 3), shape: [2, 4, 4, 3] };
    expect(() => saliencyGrid(a, [], join(dir, 'g.png'))).toThrow(/at least one column/);
    expect(() =>
      saliencyGridSvg(a, [
        { label: 'a', heatmaps: h },
        { label: 'b', heatmaps: { data: new Float32Array(16), shape: [1, 4, 4] } },
      ]),
    ).toThrow(/columns\[1\].heatmaps must have shape \[2,4,4\]/);
    expect(() =>
      saliencyGridSvg({ data: new Float32Array(32), shape: [2, 4, 4, 1, 1] }, [
        { label: 'a', heatmaps: h },
      ]),
    ).toThrow(/images/);
  });
});
