import { initBackend } from '@ediy/backend';
import type { Rng } from '@ediy/core';

export { expectClose, runOn } from '../../../tools/test-utils/tensors.js';

/** Registers both backends (wasm with the training kernels) once. */
export async function initBoth(): Promise<void> {
  await initBackend({ prefer: 'cpu' });
  await initBackend({ prefer: 'wasm' });
}

/** Values drawn from N(0, 1) with a seeded stream. */
export function randomValues(rng: Rng, shape: readonly number[]): Float32Array {
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}
