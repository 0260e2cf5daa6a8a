import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { drawText, jet, overlayHeatmap, saliencyGrid, textWidth, writePng } from '@ediy/eval';

const dir = mkdtempSync(join(tmpdir(), 'ediy-eval-png-'));

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});
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

describe('drawText', () => {
  it('draws 5x7 glyphs: "I" inks its top bar and stem', () => {
    const w = 12;
    const rgba = new Uint8Array(w * 9 * 4);
    drawText(rgba, w, 'i-', 1, 1, [255, 0, 0]);
    const ink = (x: number, y: number): boolean => rgba[(y * w + x) * 4] === 255;
    expect([ink(2, 1), ink(3, 1), ink(4, 1), ink(1, 1), ink(5, 1)]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(ink(3, 4) && ink(3, 6) && !ink(2, 4)).toBe(true);
    // '-' is the next glyph, 6 px on: a bar on its 4th row.
    expect([7, 8, 9, 10, 11].every((x) => ink(x, 4))).toBe(true);
    expect(textWidth('ab', 2)).toBe(22);
  });
});

describe('saliencyGrid', () => {
  it('writes rows x columns of overlays with labels, at the expected size', () => {
    const n = 3;
    const H = 8;
    const W = 6;
    const images = {
      data: Float32Array.from({ length: n * H * W * 3 }, (_, i) => (i % 7) / 7),
      shape: [n, H, W, 3],
    };
    const heat = (v: number) => ({ data: new Float32Array(n * H * W).fill(v), shape: [n, H, W] });
    const path = join(dir, 'grid.png');
    const size = saliencyGrid(
      [
        { label: 'BYOL', images, heatmaps: heat(0) },
        { label: 'E-DIY', images, heatmaps: heat(1) },
      ],
      path,
      { scale: 2, padding: 3, alpha: 1 },
    );
    const labelW = textWidth('E-DIY');
    expect(size).toEqual({ width: labelW + 6 + n * (W * 2 + 3), height: 3 + 2 * (H * 2 + 3) });
    const png = decode(path);
    expect([png.width, png.height]).toEqual([size.width, size.height]);
    // With alpha 1 the cells are pure jet colours: row 0 dark blue, row 1 dark red.
    const at = (x: number, y: number): number[] =>
      Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));
    const x0 = labelW + 6;
    expect(at(x0, 3)).toEqual([0, 0, 128, 255]);
    expect(at(x0 + 5, 3 + H * 2 + 3 + 5)).toEqual([128, 0, 0, 255]);
    // The label is drawn in white somewhere in the left column.
    let white = 0;
    for (let y = 0; y < png.height; y++)
      for (let x = 0; x < labelW + 3; x++) if (at(x, y)[0] === 255 && at(x, y)[1] === 255) white++;
    expect(white).toBeGreaterThan(20);
  });

  it('names rows that disagree', () => {
    const a = { data: new Float32Array(2 * 4 * 4 * 3), shape: [2, 4, 4, 3] };
    const b = { data: new Float32Array(1 * 4 * 4 * 3), shape: [1, 4, 4, 3] };
    const h = { data: new Float32Array(2 * 16), shape: [2, 4, 4] };
    expect(() =>
      saliencyGrid(
        [
          { label: 'a', images: a, heatmaps: h },
          { label: 'b', images: b, heatmaps: h },
        ],
        join(dir, 'g.png'),
      ),
    ).toThrow(/rows\[1\].images has n=1/);
    expect(() => saliencyGrid([], join(dir, 'g.png'))).toThrow(/at least one row/);
    expect(() =>
      saliencyGrid(
        [{ label: 'a', images: a, heatmaps: { data: new Float32Array(16), shape: [1, 4, 4] } }],
        join(dir, 'g.png'),
      ),
    ).toThrow(/rows\[0\].heatmaps must have shape \[2,4,4\]/);
  });
});
