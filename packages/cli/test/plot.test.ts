import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { barChart, formatNumber, lineChart, niceTicks, Raster, seriesColour } from '@ediy/cli';
import { tempDir } from './helpers.js';

describe('niceTicks', () => {
  it('covers the range with steps of 1, 2 or 5 times a power of ten', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.13, 0.87, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 47, 5)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(-2.5, 2.5, 5)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
  });

  it('widens a degenerate range and rejects non-finite ends', () => {
    const t = niceTicks(2, 2);
    expect(t[0]).toBeLessThan(2);
    expect(t[t.length - 1]).toBeGreaterThan(2);
    expect(() => niceTicks(0, NaN)).toThrow(/finite/);
  });

  it('formats tick labels briefly', () => {
    expect(formatNumber(0.123456)).toBe('0.123');
    expect(formatNumber(1234)).toBe('1230');
    expect(formatNumber(2e-5)).toBe('2.0e-5');
    expect(formatNumber(NaN)).toBe('N/A');
  });
});

describe('Raster', () => {
  it('draws lines end to end and fills rectangles clipped to the image', () => {
    const r = new Raster(10, 6);
    r.line(0, 0, 9, 5, [255, 0, 0]);
    expect(r.pixel(0, 0)).toEqual([255, 0, 0]);
    expect(r.pixel(9, 5)).toEqual([255, 0, 0]);
    expect(r.pixel(9, 0)).toEqual([255, 255, 255]);
    r.fillRect(8, 4, 5, 5, [0, 0, 255]);
    expect(r.pixel(9, 5)).toEqual([0, 0, 255]);
    expect(r.pixel(7, 5)).not.toEqual([0, 0, 255]);
  });

  it('draws text in the bitmap font', () => {
    const r = new Raster(20, 10);
    r.text('I', 0, 0, [0, 0, 0]);
    // 'I' is ' ### ' on its first row: columns 1-3 inked, 0 and 4 not.
    expect(r.pixel(1, 0)).toEqual([0, 0, 0]);
    expect(r.pixel(3, 0)).toEqual([0, 0, 0]);
    expect(r.pixel(0, 0)).toEqual([255, 255, 255]);
    expect(r.pixel(2, 3)).toEqual([0, 0, 0]);
  });

  it('rejects a bad size', () => {
    expect(() => new Raster(0, 5)).toThrow(/raster width/);
  });
});

function readPng(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

function countColour(png: PNG, colour: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    if (
      png.data[i * 4] === colour[0] &&
      png.data[i * 4 + 1] === colour[1] &&
      png.data[i * 4 + 2] === colour[2]
    )
      n++;
  }
  return n;
}

describe('charts', () => {
  it('writes a line chart PNG with one colour per series', () => {
    const dir = tempDir();
    const chart = lineChart({
      title: 'LOSS',
      xLabel: 'step',
      yLabel: 'loss',
      series: [
        { label: 'byol', x: [1, 2, 3, 4], y: [4, 3, 2.5, 2] },
        { label: 'ediy', x: [1, 2, 3, 4], y: [5, 4, NaN, 3] },
      ],
    });
    const path = join(dir, 'loss.png');
    chart.save(path);
    const png = readPng(path);
    expect([png.width, png.height]).toEqual([720, 420]);
    expect(countColour(png, seriesColour(0))).toBeGreaterThan(50);
    expect(countColour(png, seriesColour(1))).toBeGreaterThan(20);
    expect(countColour(png, seriesColour(2))).toBe(0);
  });

  it('rejects series with mismatched lengths', () => {
    expect(() =>
      lineChart({ title: '', xLabel: '', yLabel: '', series: [{ label: 'a', x: [1, 2], y: [1] }] }),
    ).toThrow(/2 x values and 1 y values/);
  });

  it('draws bars with lengths proportional to their values', () => {
    const chart = barChart({
      title: 'KNN',
      bars: [
        { label: 'a', value: 0.5 },
        { label: 'b', value: 1, spread: 0.1 },
        { label: 'c', value: NaN },
      ],
    });
    const width = (i: number): number => {
      let n = 0;
      // A row above the error bar, which crosses the bar at its middle.
      const y = 40 + i * 18 + 5;
      for (let x = 0; x < chart.width; x++) {
        const p = chart.pixel(x, y);
        if (
          p[0] === seriesColour(i)[0] &&
          p[1] === seriesColour(i)[1] &&
          p[2] === seriesColour(i)[2]
        )
          n++;
      }
      return n;
    };
    const a = width(0);
    const b = width(1);
    expect(a).toBeGreaterThan(10);
    expect(Math.abs(b / a - 2)).toBeLessThan(0.1);
    expect(width(2)).toBe(0);
  });
});
