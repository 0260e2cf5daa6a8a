/**
 * The global projector/predictor: an MLP on pooled feature vectors.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { buildHead } from './build.js';
import type { LayerSpec, ProjectorOptions } from './spec.js';

/**
 * An MLP mapping [B, inputDim] to [B, last units]: per spec, Dense, then BatchNorm
 * (over the batch) if `norm: 'bn'`, then ReLU if `act: 'relu'`. E.g.
 * `mlp(2048, BYOL_PROJECTOR)` is BYOL's projector on a ResNet-50.
 *
 * Kernels start from a truncated normal with standard deviation 1 / sqrt(fan_in),
 * biases at 0. BatchNorm uses batch statistics (and updates its moving averages) when
 * called with `model.apply(x, { training: true })`, and the moving averages under
 * `predict` or `apply` without `training`. The caller owns the model (`dispose()` it)
 * and every tensor it returns.
 *
 * @param inputDim - input features, an integer >= 1.
 * @param specs - the layers; see {@link LayerSpec}. Bad specs throw, naming the field.
 */
export function mlp(
  inputDim: number,
  specs: readonly LayerSpec[],
  options: ProjectorOptions = {},
): tfl.LayersModel {
  return buildHead(
    [inputDim],
    inputDim,
    specs,
    options,
    (args) => tfl.layers.dense({ ...args, biasInitializer: 'zeros' }),
    'dense',
    'mlp',
  );
}
