/**
 * Finiteness checks of a step's inputs, gradients and weights. A NaN or an infinity
 * that reaches a weight spreads through every later step, and some kernels hide it: on
 * wasm, average pooling and the fused depthwise convolution that the fast BatchNorm
 * uses turn NaN into -Infinity, which a following ReLU turns into 0, so a run with NaN
 * weights can train on to a collapsed loss without a single NaN loss value. The trainer
 * therefore checks the tensors themselves, not only the loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { runReads, runReadsAsync, type TensorReads } from '@ediy/core';

/** Raised when a tensor of a step (input, gradient or weight) holds NaN or an infinity. */
export class NonFiniteTensorError extends Error {
  /**
   * @param step - the optimiser step (1-based) at which it was found.
   * @param tensor - what the tensor is, e.g. `gradient of online.backbone conv1/kernel`.
   * @param nan - how many of its values are NaN.
   * @param infinite - how many are +-Infinity.
   * @param size - how many values it has.
   */
  constructor(
    readonly step: number,
    readonly tensor: string,
    readonly nan: number,
    readonly infinite: number,
    readonly size: number,
  ) {
    super(
      `${tensor} holds ${nan} NaN and ${infinite} infinite values (of ${size}) at step ${step}; stopping before this step's checkpoint is written (the last good checkpoint is kept)`,
    );
    this.name = 'NonFiniteTensorError';
  }
}

/** Counts of the non-finite values of a typed array. */
export function countNonFinite(values: ArrayLike<number>): { nan: number; infinite: number } {
  let nan = 0;
  let infinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) nan += 1;
    else if (v === Infinity || v === -Infinity) infinite += 1;
  }
  return { nan, infinite };
}

/**
 * The reads of {@link assertFinite}, run by `@ediy/core`'s `runReads` (synchronously)
 * or `runReadsAsync`: one read of a flag per tensor, `sum(x * 0)`, which is 0 exactly
 * when every value is finite (so a large but finite sum never counts as infinite); only
 * a bad tensor is then read in full, to count its values.
 */
function* finiteReads(
  step: number,
  tensors: ReadonlyArray<readonly [string, tf.Tensor]>,
): TensorReads<void> {
  if (tensors.length === 0) return;
  const flags = tf.tidy(() =>
    tf.stack(tensors.map(([, t]) => tf.cast(tf.sum(tf.mul(t, 0)), 'float32'))),
  );
  const [values] = (yield [flags]) as [tf.TypedArray];
  const bad = Array.prototype.findIndex.call(values, (v: number) => !Number.isFinite(v));
  if (bad < 0) return;
  const [label, tensor] = tensors[bad] as readonly [string, tf.Tensor];
  // a clone shares the values and is the runner's to dispose; `tensor` stays the caller's
  const [all] = (yield [tf.clone(tensor)]) as [tf.TypedArray];
  const { nan, infinite } = countNonFinite(all);
  throw new NonFiniteTensorError(step, label, nan, infinite, tensor.size);
}

/**
 * Throws a {@link NonFiniteTensorError} naming the first of `tensors` (in order) that
 * holds NaN or an infinity. One device read for all of them: each tensor is reduced to
 * `sum(x * 0)`, which is 0 exactly when every value is finite (so a large but finite sum
 * never counts as infinite); only a bad tensor is read in full, to count its values.
 * Allocates nothing that outlives the call. Reads synchronously; on tfjs-backend-webgpu
 * in Node use {@link assertFiniteAsync}.
 * @param step - the 1-based step named in the error.
 * @param tensors - `[label, tensor]` pairs; float tensors.
 */
export function assertFinite(
  step: number,
  tensors: ReadonlyArray<readonly [string, tf.Tensor]>,
): void {
  runReads(finiteReads(step, tensors));
}

/**
 * {@link assertFinite} with asynchronous reads, so it runs on every backend
 * (tfjs-backend-webgpu in Node reads only asynchronously): the same reads, the same
 * error (one implementation, run either way).
 */
export async function assertFiniteAsync(
  step: number,
  tensors: ReadonlyArray<readonly [string, tf.Tensor]>,
): Promise<void> {
  await runReadsAsync(finiteReads(step, tensors));
}

/** The reads of {@link assertWeightsFinite}: {@link finiteReads} of every weight, its error renamed. */
function* weightsFiniteReads(
  model: { weights: ReadonlyArray<{ originalName: string; read(): tf.Tensor }> },
  where: string,
): TensorReads<void> {
  try {
    yield* finiteReads(
      0,
      model.weights.map((w) => [w.originalName, w.read()] as const),
    );
  } catch (err) {
    if (!(err instanceof NonFiniteTensorError)) throw err;
    throw new Error(
      `${where}: weight ${err.tensor} holds ${err.nan} NaN and ${err.infinite} infinite values (of ${err.size})`,
      { cause: err },
    );
  }
}

/**
 * Throws, naming the model and the first weight holding NaN or an infinity (with the
 * counts), when a model's weights (BatchNorm statistics included) are not all finite.
 * Reads synchronously; on tfjs-backend-webgpu in Node use {@link assertWeightsFiniteAsync}.
 */
export function assertWeightsFinite(
  model: { weights: ReadonlyArray<{ originalName: string; read(): tf.Tensor }> },
  where: string,
): void {
  runReads(weightsFiniteReads(model, where));
}

/** {@link assertWeightsFinite} with an asynchronous read (for every backend, webgpu included). */
export async function assertWeightsFiniteAsync(
  model: { weights: ReadonlyArray<{ originalName: string; read(): tf.Tensor }> },
  where: string,
): Promise<void> {
  await runReadsAsync(weightsFiniteReads(model, where));
}
