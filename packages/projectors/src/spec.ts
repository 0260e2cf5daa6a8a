/**
 * Projector heads as data: a list of layer specs, checked before any layer is built.
 */
import { assertInteger } from '@ediy/core';
import type { BatchNormLayer } from '@ediy/backbones';

/**
 * One layer of a projector or predictor: a linear map to `units` features (a Dense
 * layer in {@link mlp}, a 1x1 convolution in {@link localMlp}), then optionally
 * BatchNorm, then optionally ReLU, in that order.
 */
export interface LayerSpec {
  /** Output features, an integer >= 1. */
  units: number;
  /** `'bn'` adds BatchNorm after the linear map; `'none'` (default) adds nothing. */
  norm?: 'bn' | 'none';
  /** `'relu'` adds a ReLU last; `'none'` (default) adds nothing. */
  act?: 'relu' | 'none';
  /** Whether the linear map has a bias (default true). */
  bias?: boolean;
}

/** Options shared by {@link mlp} and {@link localMlp}. */
export interface ProjectorOptions {
  /**
   * The model's name, also the prefix of its layers' names (`<name>_<i>_dense`,
   * `<name>_<i>_bn`, `<name>_<i>_relu`; `_conv` for {@link localMlp}). Without it
   * tfjs-layers picks unique names.
   */
  name?: string;
  /**
   * Seed of the weight initialisation; the same seed gives the same weights. Layer i
   * draws from `new Rng(seed).fork('layer<i>')`. Without it the weights are random.
   */
  seed?: number;
  /**
   * BatchNorm hyperparameters (default BYOL's: moving-average momentum 0.9, epsilon
   * 1e-5, where tfjs-layers' own defaults are 0.99 and 1e-3).
   */
  batchNorm?: { momentum?: number; epsilon?: number };
  /**
   * The BatchNorm layer class: `'tfjs'` (default), tfjs-layers' `BatchNormalization`;
   * `'fast'`, `@ediy/backbones`' `FastBatchNormalization` (same weights and results,
   * faster to train on CPU; a saved model then loads where `@ediy/backbones` is imported).
   */
  batchNormLayer?: BatchNormLayer;
}

const KEYS = new Set(['units', 'norm', 'act', 'bias']);

/**
 * Checks a spec list and returns it with defaults filled in. Throws, naming the spec
 * by index and the bad field, on an empty list, `units` that is not an integer >= 1,
 * an unknown `norm` or `act`, a non-boolean `bias`, or an unknown key (a typo such as
 * `activation` would otherwise be ignored).
 */
export function checkSpecs(specs: readonly LayerSpec[], where: string): Required<LayerSpec>[] {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new Error(
      `${where}: specs must be a non-empty array of LayerSpec, got ${JSON.stringify(specs)}`,
    );
  }
  return specs.map((spec, i) => {
    const at = `${where}: specs[${i}]`;
    if (typeof spec !== 'object' || spec === null) {
      throw new TypeError(`${at} must be a LayerSpec object, got ${String(spec)}`);
    }
    for (const key of Object.keys(spec)) {
      if (!KEYS.has(key)) {
        throw new Error(`${at} has unknown key '${key}' (expected units, norm, act, bias)`);
      }
    }
    assertInteger(spec.units, 1, `${at}.units`);
    const norm = spec.norm ?? 'none';
    if (norm !== 'bn' && norm !== 'none') {
      throw new Error(`${at}.norm must be 'bn' or 'none', got ${JSON.stringify(spec.norm)}`);
    }
    const act = spec.act ?? 'none';
    if (act !== 'relu' && act !== 'none') {
      throw new Error(`${at}.act must be 'relu' or 'none', got ${JSON.stringify(spec.act)}`);
    }
    const bias = spec.bias ?? true;
    if (typeof bias !== 'boolean') {
      throw new TypeError(`${at}.bias must be a boolean, got ${JSON.stringify(spec.bias)}`);
    }
    return { units: spec.units, norm, act, bias };
  });
}
