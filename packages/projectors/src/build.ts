/**
 * The layer stack both heads share; only the linear map differs (Dense or 1x1 conv).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng, assertInRange, assertInteger } from '@ediy/core';
import { batchNormalizationLayer } from '@ediy/backbones';
import { checkSpecs } from './spec.js';
import type { LayerSpec, ProjectorOptions } from './spec.js';

/** The arguments of a head's linear layer: `name` only when the head has a name. */
export interface LinearArgs {
  units: number;
  useBias: boolean;
  kernelInitializer: ReturnType<typeof tfl.initializers.truncatedNormal>;
  name?: string;
}

/** Builds the linear layer of spec `i` with the given initializer arguments. */
export type LinearFactory = (args: LinearArgs) => tfl.layers.Layer;

/**
 * Builds `input -> [linear -> BN? -> ReLU?] per spec` as a `tf.LayersModel`. The
 * linear kernels are drawn from a truncated normal with standard deviation
 * 1 / sqrt(fan_in) (haiku `Linear`'s default, which BYOL uses), biases start at 0, and
 * BatchNorm normalises the last axis (over B for [B,C], over B,H,W for [B,H,W,C]).
 */
export function buildHead(
  inputShape: Array<number | null>,
  fanIn: number,
  specs: readonly LayerSpec[],
  options: ProjectorOptions,
  linear: LinearFactory,
  linearSuffix: string,
  where: string,
): tfl.LayersModel {
  const checked = checkSpecs(specs, where);
  const { name, seed, batchNorm = {}, batchNormLayer = 'tfjs' } = options;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new TypeError(`${where}: name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) {
    throw new RangeError(`${where} seed must be a finite number, got ${String(seed)}`);
  }
  const momentum = batchNorm.momentum ?? 0.9;
  const epsilon = batchNorm.epsilon ?? 1e-5;
  assertInRange(momentum, 0, 1, `${where} batchNorm.momentum`);
  assertInRange(epsilon, Number.MIN_VALUE, Infinity, `${where} batchNorm.epsilon`);
  assertInteger(fanIn, 1, `${where} input size`);
  if (batchNormLayer !== 'tfjs' && batchNormLayer !== 'fast') {
    throw new RangeError(
      `${where}: batchNormLayer must be 'tfjs' or 'fast', got ${JSON.stringify(batchNormLayer)}`,
    );
  }

  const rng = seed === undefined ? undefined : new Rng(seed);
  // A layer's name, when the head has one; without, tfjs-layers picks unique names.
  const named = (suffix: string): { name?: string } =>
    name === undefined ? {} : { name: `${name}_${suffix}` };
  const input = tfl.input({ shape: inputShape, ...named('input') });
  let x: tfl.SymbolicTensor = input;
  let inFeatures = fanIn;
  checked.forEach((spec, i) => {
    const kernelInitializer = tfl.initializers.truncatedNormal({
      mean: 0,
      stddev: 1 / Math.sqrt(inFeatures),
      ...(rng === undefined ? {} : { seed: rng.fork(`layer${i}`).seed() }),
    });
    const layer = linear({
      units: spec.units,
      useBias: spec.bias,
      kernelInitializer,
      ...named(`${i}_${linearSuffix}`),
    });
    x = layer.apply(x) as tfl.SymbolicTensor;
    if (spec.norm === 'bn') {
      x = batchNormalizationLayer(
        batchNormLayer,
        { axis: -1, momentum, epsilon, ...named(`${i}_bn`) },
        where,
      ).apply(x) as tfl.SymbolicTensor;
    }
    if (spec.act === 'relu') {
      x = tfl.layers.reLU(named(`${i}_relu`)).apply(x) as tfl.SymbolicTensor;
    }
    inFeatures = spec.units;
  });
  return tfl.model({ inputs: input, outputs: x, ...(name === undefined ? {} : { name }) });
}
