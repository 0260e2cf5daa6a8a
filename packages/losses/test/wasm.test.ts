import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import {
  byolLoss,
  createRegionLossInputs,
  ediyLoss,
  PAPER_LOSS_WEIGHTS,
  rDemInstanceLoss,
  rDemLoss,
  regionLoss,
  rIemLoss,
} from '@ediy/losses';

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

const S = Math.SQRT1_2;
const idx = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]?.length ?? 0], 'int32');

describe('losses on wasm', () => {
  it('give the hand-computed values of the cpu tests', () => {
    // BYOL: see byol.test.ts, 4 - 2(.70711 - 1)/2 - 2(.98) = 2.33289
    const byol = byolLoss(
      [
        tf.tensor2d([
          [1, 0],
          [0, 1],
        ]),
        tf.tensor2d([
          [3, 4],
          [1, 0],
        ]),
      ],
      [
        tf.tensor2d([
          [4, 3],
          [2, 0],
        ]),
        tf.tensor2d([
          [1, 1],
          [0, -2],
        ]),
      ],
    );
    expect(byol.dataSync()[0]).toBeCloseTo(4 - (S - 1) - 1.96, 4);
    // R-DEM: see r-dem.test.ts, -0.5 + 0.48
    const l1 = tf.tensor4d([1, 0, 0, 1, 1, 1, -1, 0], [1, 2, 2, 2]);
    const l2 = tf.tensor4d([3, 4, 4, 3, 0, 2, 2, 0], [1, 2, 2, 2]);
    expect(
      rDemLoss([l1, l2], [idx([[3, 2, 3, 0]]), idx([[1, 0, 3, 2]])]).dataSync()[0],
    ).toBeCloseTo(-0.02, 4);
    // R-IEM: see r-iem.test.ts, 2 - (.70711 - 1)/2 - (2 + .70711)/3
    const p1 = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const t2 = tf.tensor4d([1, 0, 1, 1, 0, -1], [1, 1, 3, 2]);
    const p2 = tf.tensor4d([2, 0, 0, 1, 1, 1], [1, 1, 3, 2]);
    const t1 = tf.tensor4d([1, 0, 0, 5], [1, 1, 2, 2]);
    expect(
      rIemLoss([p1, p2], [t1, t2], [idx([[1, 2]]), idx([[0, 1, 1]])]).dataSync()[0],
    ).toBeCloseTo(2 - (S - 1) / 2 - (2 + S) / 3, 4);
    // R-INS: see r-dem-instance.test.ts, 0.5 + (-2(.70711) - 1)/4
    const i1 = tf.tensor4d([1, 0, 0, 1, 1, 1, 1, -1], [2, 1, 2, 2]);
    const i2 = tf.tensor4d([0, 1, 0, 1, 1, 0, 0, -1], [2, 1, 2, 2]);
    expect(rDemInstanceLoss([i1, i2], tf.tensor1d([1, 0], 'int32')).dataSync()[0]).toBeCloseTo(
      0.5 + (-2 * S - 1) / 4,
      4,
    );
  });

  it('differentiate one E-DIY step (R-DEM + R-IEM + BYOL) with no tf.gather gradient', () => {
    const rng = new Rng(3);
    const r = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', rng.seed());
    const w = tf.variable(r([4, 4]), true, 'localHead');
    const maps = [r([2, 3, 3, 4]), r([2, 3, 3, 4])] as const;
    const targetLocal = [r([2, 3, 3, 4]) as tf.Tensor4D, r([2, 3, 3, 4]) as tf.Tensor4D] as const;
    const teacher = [r([2, 3, 3, 5]) as tf.Tensor4D, r([2, 3, 3, 5]) as tf.Tensor4D] as const;
    const online = [r([2, 8]) as tf.Tensor2D, r([2, 8]) as tf.Tensor2D] as const;
    const target = [r([2, 8]) as tf.Tensor2D, r([2, 8]) as tf.Tensor2D] as const;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      // a 1x1-conv-like local head, so the loss depends on a variable
      const local = maps.map((m) =>
        tf.reshape(tf.matMul(tf.reshape(m, [18, 4]), w), [2, 3, 3, 4]),
      ) as unknown as [tf.Tensor4D, tf.Tensor4D];
      const inputs = createRegionLossInputs({
        local,
        localPred: local,
        targetLocal,
        onlineGlobal: online,
        targetGlobal: target,
        teacher,
        rng: rng.fork('match'),
      });
      const { total } = ediyLoss(
        {
          rDem: regionLoss('r-dem', inputs, { matcher: 'teacher' }),
          rIem: regionLoss('r-iem', inputs, { matcher: 'teacher' }),
          byol: byolLoss(online, target),
        },
        PAPER_LOSS_WEIGHTS,
      );
      return total;
    });
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const g = grads.localHead?.dataSync() ?? new Float32Array();
    expect(g.length).toBe(16);
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
    expect(Math.max(...Array.from(g).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
