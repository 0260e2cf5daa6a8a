/**
 * Which parameters LARS leaves alone: the one named predicate of the optimiser.
 */

/**
 * Decides, from a variable's name and shape, whether LARS excludes it from weight
 * decay and trust-ratio adaptation. `true` means excluded: the parameter gets plain
 * momentum SGD on its raw gradient.
 *
 * The name is the one the optimiser is given, i.e. the key of
 * `applyGradients({ [name]: grad })`: the registered `tf.Variable` name. For a
 * tfjs-layers weight that is `weight.name`, which equals `weight.read().name` (the
 * unique name, with a `_1`, `_2`, ... suffix when the same layer name was used
 * before), not `weight.originalName`.
 */
export type ExcludePredicate = (name: string, shape: readonly number[]) => boolean;

const BIAS_OR_NORM = /bias|gamma|beta|batch_?norm/i;

/**
 * The default {@link ExcludePredicate}, as in BYOL (DeepMind
 * `byol/utils/optimizers.py`, `exclude_bias_and_norm`): excludes biases and
 * BatchNorm parameters. A parameter is excluded when
 *
 * - its rank is at most 1 (every bias, BatchNorm gamma/beta and moving statistic is a
 *   vector; kernels are matrices or 4-D convolution filters), or
 * - its name matches `/bias|gamma|beta|batch_?norm/i` anywhere (so a layer whose
 *   name contains one of these words has its kernel excluded too: name layers
 *   accordingly).
 *
 * @example excludeBiasAndNorm('proj_l0_dense/kernel', [8, 4]) === false
 * @example excludeBiasAndNorm('proj_l0_dense/bias', [4]) === true
 */
export function excludeBiasAndNorm(name: string, shape: readonly number[]): boolean {
  return shape.length <= 1 || BIAS_OR_NORM.test(name);
}
