/**
 * BYOL's projector and predictor, and their scaled-down copies for small presets.
 */
import { assertInteger } from '@ediy/core';
import { checkSpecs } from './spec.js';
import type { LayerSpec } from './spec.js';

/**
 * BYOL's projector (Grill et al. 2020, Sec. 3.3): "a multi-layer perceptron (MLP)
 * which consists in a linear layer with output size 4096 followed by batch
 * normalization, rectified linear units (ReLU), and a final linear layer with output
 * dimension 256". The final linear layer has no bias, as in DeepMind's
 * `byol/utils/networks.py` (`hk.Linear(output_size, with_bias=False)`). E-DIY uses it
 * for both its global and its local projector.
 */
export const BYOL_PROJECTOR: readonly LayerSpec[] = Object.freeze([
  Object.freeze({ units: 4096, norm: 'bn', act: 'relu', bias: true }),
  Object.freeze({ units: 256, norm: 'none', act: 'none', bias: false }),
] as const);

/**
 * BYOL's predictor (Grill et al. 2020, Sec. 3.3): "the predictor q uses the same
 * architecture as g" (the projector), mapping 256 features to 256.
 */
export const BYOL_PREDICTOR: readonly LayerSpec[] = BYOL_PROJECTOR;

/** The sizes {@link scaleSpecs} applies. */
export interface SpecSizes {
  /** Units of every layer but the last, an integer >= 1. */
  hidden: number;
  /** Units of the last layer, an integer >= 1. */
  out: number;
}

/**
 * A copy of `specs` with every layer but the last resized to `hidden` units and the
 * last to `out`; norms, activations and biases are kept. E.g. the `mini` preset's
 * projector is `scaleSpecs(BYOL_PROJECTOR, { hidden: 512, out: 128 })`.
 */
export function scaleSpecs(specs: readonly LayerSpec[], sizes: SpecSizes): LayerSpec[] {
  const checked = checkSpecs(specs, 'scaleSpecs');
  assertInteger(sizes.hidden, 1, 'scaleSpecs hidden');
  assertInteger(sizes.out, 1, 'scaleSpecs out');
  return checked.map((spec, i) => ({
    ...spec,
    units: i === checked.length - 1 ? sizes.out : sizes.hidden,
  }));
}
