/**
 * The native element-wise binary kernels (Add, Sub, Multiply, RealDiv, Maximum, Minimum
 * with NumPy broadcasting) and unary ones (Square, Sqrt): the cpu backend's values
 * exactly on a grid of shapes, NaN, infinities and signed zeros as the cpu backend gives
 * them, the same bits with one and two threads, other dtypes left to wasm, nothing leaked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nativeKernelStats, resetNativeKernelStats } from '@ediy/backend-native';
import {
  availability,
  expectClose,
  expectSameValues,
  initBoth,
  randomValues,
  runOn,
} from './helpers.js';

const describeNative = describe.skipIf(!availability.available);

type BinaryFn = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const BINARY: Array<[kernel: string, fn: BinaryFn]> = [
  ['Add', tf.add],
  ['Sub', tf.sub],
  ['Multiply', tf.mul],
  ['RealDiv', tf.div],
  ['Maximum', tf.maximum],
  ['Minimum', tf.minimum],
];

// Pairs of input shapes: the same shape (small, odd, and above the size where the kernel
// splits over threads), a scalar on either side, a per-channel vector, size-1 axes in
// the middle or on both sides, different ranks.
const PAIRS: Array<[number[], number[]]> = [
  [[7], [7]],
  [
    [3, 5],
    [3, 5],
  ],
  [
    [4, 16, 16, 40],
    [4, 16, 16, 40],
  ],
  [
    [64, 1030],
    [64, 1030],
  ],
  [[], [2, 5, 7, 3]],
  [[2, 5, 7, 3], []],
  [[], []],
  [[4, 9, 9, 3], [3]],
  [[8, 32, 32, 40], [40]],
  [[40], [8, 32, 32, 40]],
  [
    [64, 16, 1],
    [64, 16, 128],
  ],
  [
    [15, 1, 1, 1],
    [15, 32, 32, 3],
  ],
  [
    [10, 32, 32, 3],
    [10, 32, 32, 1],
  ],
  [
    [3, 1, 5],
    [3, 4, 5],
  ],
  [
    [3, 1],
    [1, 4],
  ],
  [
    [1, 9, 1, 7],
    [5, 1, 6, 1],
  ],
  [[5], [2, 3, 5]],
  [
    [1, 1, 70000],
    [2, 1, 1],
  ],
];

/** Inputs with some equal values, so Maximum and Minimum meet ties too. */
function inputs(seed: number, shape: number[]): Float32Array {
  return randomValues(seed, shape).map((v, i) => (i % 5 === 0 ? Math.round(v) : v));
}

async function expectSameBitsOneAndTwoThreads(f: () => tf.Tensor): Promise<void> {
  await initBoth(1);
  const [one] = await runOn('wasm', f);
  await initBoth(2);
  const [two] = await runOn('wasm', f);
  expect(Buffer.from(one!.buffer).equals(Buffer.from(two!.buffer))).toBe(true);
}

describeNative('native element-wise binary kernels', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  for (const [kernel, fn] of BINARY) {
    it(`${kernel} equals the cpu backend exactly on every broadcasting pair`, async () => {
      for (const [sa, sb] of PAIRS) {
        const av = inputs(1, sa);
        const bv = inputs(2, sb).map((v) => (kernel === 'RealDiv' && v === 0 ? 0.5 : v));
        const f = () => fn(tf.tensor(av, sa), tf.tensor(bv, sb));
        const [want] = await runOn('cpu', f);
        resetNativeKernelStats();
        const [got] = await runOn('wasm', f);
        expectSameValues(got!, want!, `${kernel} [${sa.join(',')}] [${sb.join(',')}]`);
        expect(nativeKernelStats().native[kernel], `${kernel} ran natively`).toBe(1);
      }
    });
  }

  it('give NaN, infinities and signed zeros as the cpu backend does', async () => {
    const av = Float32Array.of(NaN, 1, -0, 0, Infinity, -Infinity, 0, 3, -0, NaN, 2, -5);
    const bv = Float32Array.of(2, NaN, 0, -0, -Infinity, -Infinity, 0, 0, -0, NaN, 2, Infinity);
    for (const [kernel, fn] of BINARY) {
      const f = () => [
        fn(tf.tensor1d(av), tf.tensor1d(bv)),
        fn(tf.tensor2d(av, [3, 4]), tf.tensor1d(bv.slice(0, 4))),
        fn(tf.scalar(NaN), tf.tensor1d(bv)),
        fn(tf.tensor1d(av), tf.scalar(-0)),
      ];
      const want = await runOn('cpu', f);
      const got = await runOn('wasm', f);
      got.forEach((g, i) => expectSameValues(g, want[i]!, `${kernel} special values ${i}`));
    }
  });

  it('give the same bits with one and two threads', async () => {
    const av = randomValues(3, [16, 32, 32, 24]);
    const bv = randomValues(4, [24]);
    const cv = randomValues(5, [16, 32, 32, 24]);
    for (const [, fn] of BINARY) {
      await expectSameBitsOneAndTwoThreads(() => {
        const a = tf.tensor(av, [16, 32, 32, 24]);
        return tf.add(fn(a, tf.tensor1d(bv)), fn(tf.tensor(cv, [16, 32, 32, 24]), a));
      });
    }
  });

  it('carry gradients through broadcasting as the cpu backend does', async () => {
    const av = randomValues(6, [4, 6, 6, 5]);
    const bv = randomValues(7, [5]).map((v) => v + 3);
    const f = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.div(tf.sub(tf.mul(a, b), b), tf.add(a, b)))),
      );
      return g([tf.tensor(av, [4, 6, 6, 5]), tf.tensor1d(bv)]);
    };
    const want = await runOn('cpu', f);
    const got = await runOn('wasm', f);
    got.forEach((g, i) => expectClose(g, want[i]!, 1e-5, `gradient ${i}`));
    const s = nativeKernelStats().native;
    for (const k of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Square']) {
      expect(s[k], k).toBeGreaterThanOrEqual(1);
    }
  });

  it('leave int32, bool and mixed dtypes to wasm', async () => {
    const f = () => [
      tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')),
      tf.mul(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.scalar(3, 'int32')),
      tf.maximum(tf.tensor1d([1, -2], 'int32'), tf.tensor1d([0, 0], 'int32')),
    ];
    const want = await runOn('cpu', f);
    const got = await runOn('wasm', f);
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(want[i]!)));
    const mixed = tf.engine().runKernel('Add', {
      a: tf.tensor1d([1.5, 2]),
      b: tf.tensor1d([1, 2], 'int32'),
    }) as tf.Tensor;
    mixed.dispose();
    const fb = nativeKernelStats().fallback;
    expect(fb['Add: dtype int32 int32']).toBe(1);
    expect(fb['Multiply: dtype int32 int32']).toBe(1);
    expect(fb['Maximum: dtype int32 int32']).toBe(1);
    expect(fb['Add: dtype float32 int32']).toBe(1);
  });

  it('say which shapes do not broadcast', () => {
    tf.engine().startScope();
    try {
      expect(() => tf.add(tf.zeros([2, 3]), tf.zeros([4]))).toThrow(/2,3 and 4/);
    } finally {
      tf.engine().endScope();
    }
  });
});

describeNative('native Square and Sqrt', () => {
  beforeAll(async () => initBoth(2));
  beforeEach(() => resetNativeKernelStats());

  for (const shape of [[7], [], [3, 5], [2, 5, 7, 3], [16, 32, 32, 40]]) {
    it(`equal the cpu backend exactly on [${shape.join(',')}]`, async () => {
      const xv = randomValues(8, shape).map((v, i) => (i % 7 === 0 ? -v : v * 3));
      const f = () => {
        const x = tf.tensor(xv, shape);
        return [tf.square(x), tf.sqrt(tf.abs(x)), tf.sqrt(x)];
      };
      const want = await runOn('cpu', f);
      const got = await runOn('wasm', f);
      got.forEach((g, i) => expectSameValues(g, want[i]!, `output ${i}`));
      const s = nativeKernelStats().native;
      expect(s.Square).toBe(1);
      expect(s.Sqrt).toBe(2);
    });
  }

  it('give NaN, infinities and signed zeros as the cpu backend does', async () => {
    const xv = Float32Array.of(NaN, -0, 0, -1, Infinity, -Infinity, 1e-30, 3e38);
    const f = () => [tf.square(tf.tensor1d(xv)), tf.sqrt(tf.tensor1d(xv))];
    const want = await runOn('cpu', f);
    const got = await runOn('wasm', f);
    got.forEach((g, i) => expectSameValues(g, want[i]!, `special values ${i}`));
  });

  it('give the same bits with one and two threads', async () => {
    const xv = randomValues(9, [16, 32, 32, 24]).map(Math.abs);
    await expectSameBitsOneAndTwoThreads(() => {
      const x = tf.tensor(xv, [16, 32, 32, 24]);
      return tf.add(tf.square(x), tf.sqrt(x));
    });
  });

  it('leave int32 to wasm', async () => {
    const f = () => tf.square(tf.tensor1d([-3, 4], 'int32'));
    const [want] = await runOn('cpu', f);
    const [got] = await runOn('wasm', f);
    expect(Array.from(got!)).toEqual(Array.from(want!));
    expect(nativeKernelStats().fallback['Square: dtype int32']).toBe(1);
  });
});

describeNative('the element-wise binary kernels leak nothing', () => {
  beforeAll(async () => initBoth(2));

  it('keep the tensor count and the wasm bytes flat over repeated steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(10, [4, 8, 8, 6]), [4, 8, 8, 6]);
    const w = tf.variable(tf.tensor1d(randomValues(11, [6])));
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() =>
          tf.sum(tf.square(tf.div(tf.sub(tf.mul(x, w), 1), tf.maximum(tf.add(x, w), 0.5)))),
        );
        w.assign(tf.sub(w, tf.mul(grads[w.name] as tf.Tensor, 1e-3)));
        // An int32 op, which goes to wasm, in the same step.
        tf.add(tf.tensor1d([1, 2], 'int32'), tf.scalar(1, 'int32'));
      });
    step();
    const before = tf.memory();
    for (let i = 0; i < 10; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, w]);
  });
});
