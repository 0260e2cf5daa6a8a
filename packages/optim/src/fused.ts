/**
 * The fused update kernels a backend may provide (the native engine,
 * `@ediy/backend-native`, registers them for `wasm`): one kernel call for every
 * variable's LARS step, one for every pair's EMA update, with the bits of the tfjs-op
 * composition this package uses where they are missing.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The kernel names, as `@ediy/backend-native` registers them (`UPDATE_KERNELS`, spelt
 * alike: a test checks the fused path runs on the native engine). Attributes and outputs:
 *
 * - `lars`: inputs `w0, g0, v0, w1, g1, v1, ...`, attributes `learningRate`, `momentum`,
 *   `weightDecay`, `eta`, `clip`, `excluded` (one boolean per variable) ->
 *   `[w0', v0', w1', v1', ...]`, each pair {@link larsStep}'s `{ w, v }`.
 * - `ema`: inputs `t0, o0, t1, o1, ...`, attributes `tau`, `count` -> `[t0', t1', ...]`,
 *   `t' = tau * t + (1 - tau) * o`.
 */
export const FUSED_UPDATE_KERNELS = {
  lars: 'EdiyLarsUpdate',
  ema: 'EdiyEmaUpdate',
} as const;

/**
 * Whether the current backend has the fused kernel `name` and every tensor is a float32
 * one it takes (non-empty).
 * @internal
 */
export function canFuse(name: string, tensors: readonly tf.Tensor[]): boolean {
  if (tensors.length === 0 || tf.getKernel(name, tf.getBackend()) === undefined) return false;
  return tensors.every((t) => t.dtype === 'float32' && t.size > 0);
}
