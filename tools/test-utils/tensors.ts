/**
 * Comparing a backend's results with another's, for the kernel tests of
 * `@ediy/backend` and `@ediy/backend-native`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Runs `f` on `backend` (tensors made there from plain arrays) and returns its outputs' values (read asynchronously, so webgpu works too). */
export async function runOn(
  backend: string,
  f: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  // Read asynchronously: webgpu in Node has no dataSync; every other backend has both.
  const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(list);
  return values;
}

/** max |got - want| / max |want| <= tol (norm-relative, robust to cancellation). */
export function expectClose(got: Float32Array, want: Float32Array, tol = 1e-4, what = ''): void {
  expect(got.length, `${what} length`).toBe(want.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i] as number));
    err = Math.max(err, Math.abs((got[i] as number) - (want[i] as number)));
  }
  expect(scale, `${what} reference is all zeros`).toBeGreaterThan(0);
  expect(err / scale, `${what} relative error`).toBeLessThanOrEqual(tol);
}
