/**
 * The matchers' input checks inside a `DeviceChecks` scope that defers (what a GPU backend
 * does; forced on cpu here): nothing is thrown while the tensors are built, and judging
 * the one read raises the error the immediate check raises.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { DeviceChecks } from '@ediy/core';
import { gatherRegions, mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** The error `f` throws at once, and the one judging its deferred checks throws. */
function bothWays(f: () => tf.Tensor): [unknown, unknown] {
  let immediate: unknown;
  try {
    tf.dispose(f());
  } catch (err) {
    immediate = err;
  }
  const scope = DeviceChecks.open({ defer: true });
  let deferred: unknown;
  try {
    tf.dispose(f());
    scope.stop();
    const packed = scope.packed();
    const values = packed ? packed.dataSync() : new Float32Array(0);
    packed?.dispose();
    scope.judge(values);
  } catch (err) {
    deferred = err;
  } finally {
    scope.close();
  }
  return [immediate, deferred];
}

describe('deferred matcher checks', () => {
  it('gatherRegions: an out-of-range index, the same RangeError', () => {
    const before = tf.memory().numTensors;
    const f = tf.ones([1, 3, 2]) as tf.Tensor3D;
    const idx = tf.tensor2d([[0, 3]], [1, 2], 'int32');
    const [now, later] = bothWays(() => gatherRegions(f, idx));
    expect(now).toBeInstanceOf(RangeError);
    expect(later).toEqual(now);
    expect(String(later)).toContain('got values from 0 to 3');
    const ok = tf.tensor2d([[0, 2]], [1, 2], 'int32');
    expect(bothWays(() => gatherRegions(f, ok))).toEqual([undefined, undefined]);
    tf.dispose([f, idx, ok]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('teacher matchers: a NaN in a map, the same error', () => {
    const before = tf.memory().numTensors;
    const a = tf.tensor4d([1, 0, 0, 1, NaN, 1, 1, 1], [1, 2, 2, 2]);
    const b = tf.ones([1, 2, 2, 2]) as tf.Tensor4D;
    for (const f of [() => mostSimilarAcross(b, a), () => mostDissimilarWithin(a)]) {
      const [now, later] = bothWays(f);
      expect(String(now)).toMatch(/must hold only finite numbers/);
      expect(later).toEqual(now);
    }
    expect(bothWays(() => mostSimilarAcross(b, b))).toEqual([undefined, undefined]);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
