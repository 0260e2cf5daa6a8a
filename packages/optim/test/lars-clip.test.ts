import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { LARS, clippedTrustRatio, larsStep } from '@ediy/optim';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** tools/reference/lars_clip.py: solo-learn's LARS step in PyTorch, double precision. */
interface Golden {
  hyper: { momentum: number; weightDecay: number; eta: number };
  learningRates: number[];
  shapes: Record<string, number[]>;
  initial: Record<string, number[]>;
  grads: Array<Record<string, number[]>>;
  clip: { weights: Array<Record<string, number[]>>; ratios: Array<{ binds: boolean }> };
  noclip: { weights: Array<Record<string, number[]>> };
}
const golden = JSON.parse(
  readFileSync(new URL('./fixtures/lars-clip-golden.json', import.meta.url), 'utf8'),
) as Golden;

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('clippedTrustRatio', () => {
  it('is min(eta ||w|| / ||u|| / lr, 1), 1 when a norm is 0, and r unclipped when lr is 0', () => {
    const w = tf.tensor1d([3, 4]);
    const u = tf.tensor1d([0.9, 1.2]);
    const z = tf.zeros([2]);
    // r = 0.6 * 5 / 1.5 = 2: lr 4 -> 0.5 (not clipped); lr 0.1 -> min(20, 1) = 1 (clipped)
    const r = [
      clippedTrustRatio(w, u, 0.6, 4),
      clippedTrustRatio(w, u, 0.6, 0.1),
      clippedTrustRatio(w, u, 0.6, 2),
      clippedTrustRatio(z, u, 0.6, 4),
      clippedTrustRatio(w, z, 0.6, 4),
      clippedTrustRatio(w, u, 0.6, 0),
    ];
    expect(r.map((t) => t.dataSync()[0])).toEqual(
      [0.5, 1, 1, 1, 1, 2].map((x) => expect.closeTo(x, 6)),
    );
    tf.dispose([w, u, z, ...r]);
  });
});

describe('LARS with clip (solo-learn)', () => {
  it('takes the adaptive step r * u when r < lr: clipping leaves min(r, lr) = r', () => {
    const w = tf.variable(tf.tensor2d([[3, 4]]), true, 'clip_hand_a/kernel');
    const g = tf.tensor2d([[0.6, 0.8]]);
    const opt = new LARS({
      learningRate: 4,
      momentum: 0.9,
      weightDecay: 0.1,
      eta: 0.6,
      clip: true,
    });
    // u = g + 0.1 w = [0.9, 1.2], r = 0.6 * 5 / 1.5 = 2 < lr = 4: factor r / lr = 0.5
    // v = 0.5 u = [0.45, 0.6]; w = [3 - 4 * 0.45, 4 - 4 * 0.6] = [1.2, 1.6] (= w - r u)
    opt.applyGradients({ [w.name]: g });
    expect(values(w)).toEqual([1.2, 1.6].map((x) => expect.closeTo(x, 5)));
    // without clipping the step would be lr * r * u = 8 u: w = [-4.2, -5.6]
    const plain = larsStep(
      tf.tensor2d([[3, 4]]),
      g,
      tf.zeros([1, 2]),
      { learningRate: 4, momentum: 0.9, weightDecay: 0.1, eta: 0.6 },
      false,
    );
    expect(values(plain.w)).toEqual([-4.2, -5.6].map((x) => expect.closeTo(x, 5)));
    tf.dispose([w, g, plain.w, plain.v]);
    opt.dispose();
  });

  it('caps the step at lr * u when r > lr: clipping binds', () => {
    const w = tf.variable(tf.tensor2d([[3, 4]]), true, 'clip_hand_b/kernel');
    const g = tf.tensor2d([[0.6, 0.8]]);
    const opt = new LARS({
      learningRate: 0.1,
      momentum: 0.9,
      weightDecay: 0.1,
      eta: 0.6,
      clip: true,
    });
    // r = 2 > lr = 0.1: factor min(20, 1) = 1, v = u = [0.9, 1.2]
    // w = [3 - 0.09, 4 - 0.12] = [2.91, 3.88] (BYOL's LARS: [2.82, 3.76])
    opt.applyGradients({ [w.name]: g });
    expect(values(w)).toEqual([2.91, 3.88].map((x) => expect.closeTo(x, 5)));
    // step 2: u = [0.6 + 0.291, 0.8 + 0.388] = [0.891, 1.188], ||u|| = 1.485, ||w|| = 4.85
    // r = 0.6 * 4.85 / 1.485 = 1.9596 > 0.1: factor 1; v = 0.9 [0.9, 1.2] + u = [1.701, 2.268]
    // w = [2.91 - 0.1701, 3.88 - 0.2268] = [2.7399, 3.6532]
    opt.applyGradients({ [w.name]: g });
    expect(values(w)).toEqual([2.7399, 3.6532].map((x) => expect.closeTo(x, 5)));
    tf.dispose([w, g]);
    opt.dispose();
  });

  it('leaves no raw gradient in the momentum buffer at lr = 0 for the next step to apply', () => {
    const w = tf.variable(tf.tensor2d([[3, 4]]), true, 'clip_zero_lr/kernel');
    const g = tf.tensor2d([[0.6, 0.8]]);
    const opt = new LARS({
      learningRate: 0,
      momentum: 0.9,
      weightDecay: 0.1,
      eta: 0.03,
      clip: true,
    });
    // step 1, lr 0: u = g + 0.1 w = [0.9, 1.2], r = 0.03 * 5 / 1.5 = 0.1; v = r u = [0.09, 0.12]
    opt.applyGradients({ [w.name]: g });
    expect(values(w)).toEqual([3, 4].map((x) => expect.closeTo(x, 6)));
    // step 2, lr 0.5 (warm-up): factor min(0.1 / 0.5, 1) = 0.2, v = 0.9 [0.09, 0.12] + 0.2 u
    // = [0.261, 0.348], w = [3 - 0.1305, 4 - 0.174] (4.4% of ||w||; the raw gradient in v at
    // step 1 would have made it w = [2.505, 3.34], 16.5%)
    opt.setLearningRate(0.5);
    opt.applyGradients({ [w.name]: g });
    expect(values(w)).toEqual([2.8695, 3.826].map((x) => expect.closeTo(x, 5)));
    tf.dispose([w, g]);
    opt.dispose();
  });

  for (const variant of ['clip', 'noclip'] as const) {
    it(`follows the PyTorch reference over four steps (${variant})`, () => {
      const names = Object.keys(golden.shapes);
      const vars = names.map((name) =>
        tf.variable(
          tf.tensor(golden.initial[name] as number[], golden.shapes[name]),
          true,
          `${variant}/${name}`,
        ),
      );
      const opt = new LARS({ learningRate: 0, ...golden.hyper, clip: variant === 'clip' });
      golden.learningRates.forEach((lr, step) => {
        opt.setLearningRate(lr);
        const grads = Object.fromEntries(
          names.map((name, i) => [
            (vars[i] as tf.Variable).name,
            tf.tensor(
              (golden.grads[step] as Record<string, number[]>)[name] as number[],
              golden.shapes[name],
            ),
          ]),
        );
        opt.applyGradients(grads);
        tf.dispose(Object.values(grads));
        names.forEach((name, i) => {
          const want = (golden[variant].weights[step] as Record<string, number[]>)[
            name
          ] as number[];
          const got = values(vars[i] as tf.Variable);
          got.forEach((x, j) => expect(x).toBeCloseTo(want[j] as number, 5));
        });
      });
      tf.dispose(vars);
      opt.dispose();
    });
  }

  it('has reference steps where the clipping binds and steps where it does not', () => {
    const binds = golden.clip.ratios.map((r) => r.binds);
    expect(binds).toContain(true);
    expect(binds).toContain(false);
  });

  it('does not leak tensors over 20 clipped steps', () => {
    const w = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 3), true, 'clip_leak/kernel');
    const b = tf.variable(tf.zeros([3]), true, 'clip_leak/bias');
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 4);
    const opt = new LARS({ learningRate: 0.5, eta: 0.02, clip: true });
    const loss = (): tf.Scalar =>
      tf.tidy(() => tf.mean(tf.square(tf.add(tf.matMul(x, w), b))) as tf.Scalar);
    opt.minimize(loss, false, [w, b]);
    const after1 = tf.memory().numTensors;
    for (let i = 1; i < 20; i++) opt.minimize(loss, false, [w, b]);
    expect(tf.memory().numTensors).toBe(after1);
    tf.dispose([w, b, x]);
    opt.dispose();
  });

  it('rejects a clip that is not a boolean, and round-trips it through its config', () => {
    expect(() => new LARS({ learningRate: 1, clip: 'yes' as never })).toThrow(
      /LARS clip must be true or false, got yes/,
    );
    const opt = new LARS({ learningRate: 0.3, eta: 0.02, clip: true });
    const config = opt.getConfig();
    expect(config.clip).toBe(true);
    expect(LARS.fromConfig(LARS, config).getConfig()).toEqual(config);
    // a config saved before the option existed is BYOL's LARS
    const { clip: _, ...old } = config;
    expect(LARS.fromConfig(LARS, old).getConfig().clip).toBe(false);
  });
});
