/**
 * Names of the kernels ediy's engines add to tfjs (not tfjs kernels): a caller checks
 * `tf.getKernel(name, tf.getBackend())` and computes the same with tfjs ops where the
 * current backend does not register it. `@ediy/backend-native` registers these for the
 * `wasm` backend (a test checks that both packages spell them alike).
 */

/** BatchNorm's training statistics, forward pass and gradient, one kernel each. */
export const BATCH_NORM_KERNELS = {
  /** `{x}` (channels last, rank >= 2) -> `[mean, variance]`, both `[C]`, the variance biased. */
  moments: 'EdiyChannelMoments',
  /**
   * `{dy, x, mean, invStd, gamma}` -> `[dx, sumDy, sumDyXhat]`: with
   * `xhat = (x - mean) * invStd` over the N rows of each channel, `sumDy = sum(dy)`,
   * `sumDyXhat = sum(dy * xhat)` (BatchNorm's dbeta and dgamma) and
   * `dx = gamma * invStd * (dy - sumDy / N - xhat * sumDyXhat / N)`. With the optional
   * input `y`, the output of a ReLU after the BatchNorm, `dy` is the ReLU's output gradient
   * and `dy * step(y)` is used in its place (both layers' gradient in one call).
   */
  gradient: 'EdiyBatchNormGrad',
  /**
   * `{x, gamma, beta}` with attribute `epsilon` -> `[y, mean, variance, invStd]`: the
   * per-channel batch mean and biased variance, `invStd = 1 / sqrt(variance + epsilon)`
   * and `y = (x - mean) * invStd * gamma + beta`, in one call; with the attribute
   * `relu: true`, `y = max(0, ...)` of that (the ReLU after the BatchNorm in the same pass).
   */
  forward: 'EdiyBatchNormForward',
} as const;

/**
 * A residual sum and the ReLU after it, one kernel: `{a, b}` (float32, one shape) ->
 * `max(0, a + b)`, the bits of `Add` then `Relu` (NaN kept, -0 to +0).
 */
export const ADD_RELU_KERNEL = 'EdiyAddRelu';
