/**
 * Geometric pairing (PixPro-style): the region of the other view nearest in the source image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger } from '@ediy/core';
import type { CropBox, Grid } from './types.js';

function checkGrid(grid: Grid, name: string): void {
  if (!Array.isArray(grid) || grid.length !== 2) {
    throw new Error(`${name} must be [h, w], got ${JSON.stringify(grid)}`);
  }
  assertInteger(grid[0], 1, `${name}[0] (h)`);
  assertInteger(grid[1], 1, `${name}[1] (w)`);
}

function checkBoxes(
  boxes: readonly CropBox[],
  flipped: readonly boolean[],
  name: string,
  batch?: number,
): void {
  if (!Array.isArray(boxes))
    throw new Error(`${name} must be an array of crop boxes, got ${typeof boxes}`);
  if (batch !== undefined && boxes.length !== batch) {
    throw new Error(
      `${name} has ${boxes.length} boxes but the other view has ${batch}; expected one box per image`,
    );
  }
  if (!Array.isArray(flipped) || flipped.length !== boxes.length) {
    throw new Error(
      `flipped flags for ${name} must be ${boxes.length} booleans, got ${JSON.stringify(flipped)}`,
    );
  }
  boxes.forEach((b, i) => {
    const ok = [b?.y0, b?.x0, b?.y1, b?.x1].every(
      (v) => typeof v === 'number' && Number.isFinite(v),
    );
    if (!ok || !(b.y1 > b.y0) || !(b.x1 > b.x0)) {
      throw new Error(
        `${name}[${i}] must be a finite box with y1 > y0 and x1 > x0, got ${JSON.stringify(b)}`,
      );
    }
  });
}

/**
 * Source-image centres of the cells of a `grid` laid over `box`, row-major.
 *
 * Convention: cell `(h, w)` of a `gridH x gridW` grid over `box` covers rows
 * `[y0 + h*(y1-y0)/gridH, y0 + (h+1)*(y1-y0)/gridH)`, and its centre is half a cell further:
 * `cy = y0 + (h + 0.5)*(y1-y0)/gridH`. Columns alike, `cx = x0 + (w + 0.5)*(x1-x0)/gridW`,
 * except in a horizontally flipped view, whose column `w` shows source columns counted from
 * the right: `cx = x1 - (w + 0.5)*(x1-x0)/gridW`.
 *
 * @returns `[cy, cx]` per cell, `n = h*gridW + w`.
 */
export function cellCentres(box: CropBox, flipped: boolean, grid: Grid): Array<[number, number]> {
  const [gh, gw] = grid;
  const ch = (box.y1 - box.y0) / gh;
  const cw = (box.x1 - box.x0) / gw;
  const out: Array<[number, number]> = [];
  for (let h = 0; h < gh; h++) {
    for (let w = 0; w < gw; w++) {
      const cx = flipped ? box.x1 - (w + 0.5) * cw : box.x0 + (w + 0.5) * cw;
      out.push([box.y0 + (h + 0.5) * ch, cx]);
    }
  }
  return out;
}

/**
 * For each region of view A, the region of view B whose centre in source-image coordinates
 * is nearest (Euclidean; ties to the lowest index). Centres follow {@link cellCentres}.
 * Crops that do not overlap still get their nearest region.
 *
 * @param boxesA - one crop box per image of view A (source pixels).
 * @param flippedA - whether each image of view A was flipped horizontally.
 * @param boxesB - one crop box per image of view B.
 * @param flippedB - flips of view B.
 * @param gridA - `[h, w]` of view A's feature map.
 * @param gridB - `[h, w]` of view B's feature map.
 * @returns int32 `[B, hA*wA]` indices into B's `hB*wB` regions; owned by the caller.
 */
export function geometricAcross(
  boxesA: readonly CropBox[],
  flippedA: readonly boolean[],
  boxesB: readonly CropBox[],
  flippedB: readonly boolean[],
  gridA: Grid,
  gridB: Grid,
): tf.Tensor2D {
  checkGrid(gridA, 'gridA');
  checkGrid(gridB, 'gridB');
  checkBoxes(boxesA, flippedA, 'boxesA');
  checkBoxes(boxesB, flippedB, 'boxesB', boxesA.length);
  if (boxesA.length < 1)
    throw new Error('boxesA must hold at least one box (one per image), got 0');
  const nA = gridA[0] * gridA[1];
  const out = new Int32Array(boxesA.length * nA);
  boxesA.forEach((boxA, b) => {
    const ca = cellCentres(boxA, flippedA[b] === true, gridA);
    const cb = cellCentres(boxesB[b] as CropBox, flippedB[b] === true, gridB);
    ca.forEach(([ya, xa], j) => {
      let best = 0;
      let bestD = Infinity;
      cb.forEach(([yb, xb], z) => {
        const d = (ya - yb) ** 2 + (xa - xb) ** 2;
        if (d < bestD) {
          bestD = d;
          best = z;
        }
      });
      out[b * nA + j] = best;
    });
  });
  return tf.tensor2d(out, [boxesA.length, nA], 'int32');
}
