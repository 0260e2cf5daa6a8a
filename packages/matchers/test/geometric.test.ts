import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { cellCentres, geometricAcross, type CropBox } from '@ediy/matchers';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const square4: CropBox = { y0: 0, x0: 0, y1: 4, x1: 4 };

describe('cellCentres', () => {
  it('puts centres half a cell in, and counts flipped columns from the right', () => {
    // 2x2 cells of 2 px over [0,4)x[0,4): centres at 1 and 3.
    expect(cellCentres(square4, false, [2, 2])).toEqual([
      [1, 1],
      [1, 3],
      [3, 1],
      [3, 3],
    ]);
    // flipped: column w=0 shows the rightmost source column, centre x = 4 - 0.5*2 = 3
    expect(cellCentres(square4, true, [2, 2])).toEqual([
      [1, 3],
      [1, 1],
      [3, 3],
      [3, 1],
    ]);
    // non-square box {y0:10, x0:20, y1:16, x1:22}, 3x1 grid: cell height 2 -> cy 11, 13, 15; cx 21
    expect(cellCentres({ y0: 10, x0: 20, y1: 16, x1: 22 }, false, [3, 1])).toEqual([
      [11, 21],
      [13, 21],
      [15, 21],
    ]);
  });
});

describe('geometricAcross', () => {
  it('pairs each cell with the nearest cell of a flipped copy of the same crop', () => {
    // A centres (1,1),(1,3),(3,1),(3,3); B (same box, flipped) centres (1,3),(1,1),(3,3),(3,1).
    // A0=(1,1) is B1; A1=(1,3) is B0; A2=(3,1) is B3; A3=(3,3) is B2.
    const s = geometricAcross([square4], [false], [square4], [true], [2, 2], [2, 2]);
    expect(s.dtype).toBe('int32');
    expect(s.arraySync()).toEqual([[1, 0, 3, 2]]);
    s.dispose();
  });

  it('maps a fine grid onto a coarser, smaller crop by nearest centre', () => {
    // A: 4x4 over [0,8)^2, centres 1,3,5,7 on each axis. B: 2x2 over [2,6)^2, centres 3,5.
    // Per axis 1->3 (idx 0), 3->3 (0), 5->5 (1), 7->5 (1), so A(h,w) -> B((h>=2)*2 + (w>=2)).
    // Image 2 of the batch: B is the same box flipped, so the column index is mirrored.
    const a: CropBox = { y0: 0, x0: 0, y1: 8, x1: 8 };
    const b: CropBox = { y0: 2, x0: 2, y1: 6, x1: 6 };
    const s = geometricAcross([a, a], [false, false], [b, b], [false, true], [4, 4], [2, 2]);
    const expected0: number[] = [];
    const expected1: number[] = [];
    for (let h = 0; h < 4; h++) {
      for (let w = 0; w < 4; w++) {
        expected0.push((h >= 2 ? 2 : 0) + (w >= 2 ? 1 : 0));
        expected1.push((h >= 2 ? 2 : 0) + (w >= 2 ? 0 : 1));
      }
    }
    expect(s.arraySync()).toEqual([expected0, expected1]);
    s.dispose();
  });

  it('rejects bad boxes, flags, grids and batch mismatches by name', () => {
    const bad = { y0: 4, x0: 0, y1: 4, x1: 4 };
    expect(() => geometricAcross([bad], [false], [square4], [false], [2, 2], [2, 2])).toThrow(
      /boxesA\[0\] must be a finite box with y1 > y0/,
    );
    expect(() =>
      geometricAcross([square4], [false], [square4, square4], [false, false], [2, 2], [2, 2]),
    ).toThrow(/boxesB has 2 boxes but the other view has 1/);
    expect(() => geometricAcross([square4], [], [square4], [false], [2, 2], [2, 2])).toThrow(
      /flipped flags for boxesA must be 1 booleans/,
    );
    expect(() => geometricAcross([square4], [false], [square4], [false], [0, 2], [2, 2])).toThrow(
      /gridA\[0\] \(h\) must be an integer >= 1, got 0/,
    );
    const nan = { y0: 0, x0: NaN, y1: 4, x1: 4 };
    expect(() => geometricAcross([square4], [false], [nan], [false], [2, 2], [2, 2])).toThrow(
      /boxesB\[0\]/,
    );
  });

  it('does not leak tensors', () => {
    const before = tf.memory().numTensors;
    geometricAcross([square4], [false], [square4], [true], [2, 2], [2, 2]).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
