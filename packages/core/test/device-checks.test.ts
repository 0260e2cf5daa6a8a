/**
 * Checks kept on the device: read at once on the CPU backends, collected in a scope on a
 * GPU backend (forced here with `defer: true`, so the cpu backend runs the same path) and
 * judged from one read, with the error of the immediate check.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkOnDevice, defersChecks, DeviceChecks, withDeviceChecks } from '@ediy/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A check that fails when the tensor's first value is negative. */
const nonNegative = (name: string) => (values: ArrayLike<number>) => {
  if ((values[0] as number) < 0) throw new RangeError(`${name} is negative: ${values[0]}`);
};

describe('checkOnDevice', () => {
  it('runs at once outside a scope and on a CPU backend inside one', () => {
    expect(defersChecks()).toBe(false);
    expect(defersChecks('webgpu')).toBe(true);
    expect(() => checkOnDevice(tf.scalar(-1), nonNegative('x'))).toThrow('x is negative: -1');
    const scope = DeviceChecks.open();
    try {
      expect(() => checkOnDevice(tf.scalar(-2), nonNegative('y'))).toThrow('y is negative: -2');
      expect(scope.size).toBe(0);
    } finally {
      scope.close();
    }
  });

  it('defers to the scope and judges in order from one read, with the same error', () => {
    const before = tf.memory().numTensors;
    const scope = DeviceChecks.open({ defer: true });
    tf.tidy(() => {
      checkOnDevice(tf.tensor1d([3, 4]), nonNegative('a'));
      checkOnDevice(tf.tensor1d([-5], 'int32'), nonNegative('b'));
      checkOnDevice(tf.scalar(-6), nonNegative('c'));
    });
    scope.stop();
    expect(scope.size).toBe(3);
    const packed = scope.packed()!;
    expect(Array.from(packed.dataSync())).toEqual([3, 4, -5, -6]);
    const values = packed.dataSync();
    packed.dispose();
    expect(() => scope.judge(values)).toThrow('b is negative: -5');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a wrong number of values is an error naming both counts', () => {
    const scope = DeviceChecks.open({ defer: true });
    checkOnDevice(tf.tensor1d([1, 2]), nonNegative('a'));
    expect(() => scope.judge([1])).toThrow('expected the 2 values of packed(), got 1');
    expect(scope.size).toBe(0);
  });

  it('nested scopes: a check goes to the innermost open one', () => {
    const outer = DeviceChecks.open({ defer: true });
    const inner = DeviceChecks.open({ defer: true });
    checkOnDevice(tf.scalar(1), nonNegative('in'));
    inner.stop();
    checkOnDevice(tf.scalar(2), nonNegative('out'));
    expect([outer.size, inner.size]).toEqual([1, 1]);
    inner.close();
    outer.close();
  });

  it('rejects bad arguments', () => {
    expect(() => checkOnDevice([1] as unknown as tf.Tensor, nonNegative('a'))).toThrow(
      'values must be a tf.Tensor',
    );
    const t = tf.scalar(1);
    expect(() => checkOnDevice(t, 'no' as unknown as () => void)).toThrow(
      'judge must be a function',
    );
    t.dispose();
    expect(() => DeviceChecks.open({ defer: 1 as unknown as boolean })).toThrow(
      'defer must be a boolean, got 1',
    );
  });
});

describe('withDeviceChecks', () => {
  it('returns the result when every check passes, and frees every check', async () => {
    const before = tf.memory().numTensors;
    const scopeResult = await withDeviceChecks(() => {
      checkOnDevice(tf.scalar(1), nonNegative('a'));
      return 7;
    });
    expect(scopeResult).toBe(7);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('throws the first failure and hands the result to onFailure', async () => {
    const before = tf.memory().numTensors;
    let freed: tf.Tensor | undefined;
    await expect(
      withDeviceChecks(
        () => {
          const out = tf.scalar(3);
          checkOnDevice(tf.scalar(-1), nonNegative('z'));
          return out;
        },
        {
          defer: true,
          onFailure: (t) => {
            freed = t;
            t.dispose();
          },
        },
      ),
    ).rejects.toThrow('z is negative: -1');
    expect(freed?.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
