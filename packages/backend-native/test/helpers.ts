import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import {
  enableNativeEngine,
  nativeEngineAvailability,
  type ConvolutionLayout,
} from '@ediy/backend-native';
import { expectClose, runOn } from '../../../tools/test-utils/tensors.js';

export { expectClose, runOn };

/** Whether the addon is built here; the suites skip (saying why) when it is not. */
export const availability = nativeEngineAvailability();
if (!availability.available) {
  // CI installs oneDNN and sets EDIY_REQUIRE_NATIVE=1: there a missing addon is a failure.
  if (process.env.EDIY_REQUIRE_NATIVE === '1') {
    throw new Error(
      `EDIY_REQUIRE_NATIVE=1 but the native engine is unavailable: ${availability.reason ?? ''}`,
    );
  }
  console.warn(`@ediy/backend-native tests skipped: ${availability.reason ?? ''}`);
}

/** Both backends ready and the native kernels registered for wasm. */
export async function initBoth(threads?: number, layout?: ConvolutionLayout): Promise<void> {
  // tfjs-layers' Node build registers every gradient function (tfjs-core's registers none).
  await import('@tensorflow/tfjs-layers');
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
  await tf.ready();
  enableNativeEngine({
    ...(threads === undefined ? {} : { threads }),
    ...(layout === undefined ? {} : { layout }),
  });
}

/** A seeded stream of N(0, 1) values (Box-Muller over a 32-bit LCG). */
export function randomValues(seed: number, shape: readonly number[]): Float32Array {
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  }
  return out;
}

/** Runs `f` on cpu and on wasm (native kernels) and checks every output agrees. */
export async function expectSameOnBoth(
  f: () => tf.Tensor | tf.Tensor[],
  what: string,
  tol = 1e-4,
): Promise<void> {
  const want = await runOn('cpu', f);
  const got = await runOn('wasm', f);
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expectClose(g, want[i] as Float32Array, tol, `${what} [output ${i}]`));
}

const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

/** Element by element: both NaN, or the same number with the same sign of zero. */
export function expectSameValues(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i] as number;
    const w = want[i] as number;
    if (Number.isNaN(w) ? !Number.isNaN(g) : !Object.is(g, w)) {
      expect.fail(`${what}: element ${i} is ${show(g)}, the cpu backend gives ${show(w)}`);
    }
  }
}
