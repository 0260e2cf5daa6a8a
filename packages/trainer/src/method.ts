/**
 * A self-supervised method as the trainer sees it: the networks it builds, the modules
 * they consist of (the one listing every ordering of the trainer derives from: see
 * {@link variables}), what its target computes without gradient, and the loss terms of a
 * micro-batch with their weights. E-DIY is one such method ({@link EDIY}).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Rng } from '@ediy/core';
import type { AugmentedView } from '@ediy/augment';
import type { TermWeights } from '@ediy/losses';
import type { ExperimentConfig } from './config.js';

/** A module of a method's networks, under the key checkpoints store it by. */
export interface NamedModule {
  /** `online.backbone`, `target.projector`, ... */
  key: string;
  /** The module. */
  model: LayersModel;
}

/** A target module and the online module its EMA follows. */
export interface TargetModule extends NamedModule {
  /** The key of the online module it is an EMA of. */
  follows: string;
}

/** The modules of a method's networks, in the one order the trainer reads them in. */
export interface MethodModules {
  /** The online network's modules: the optimiser trains their trainable weights. */
  online: readonly NamedModule[];
  /** The target's modules (no gradient), each an EMA of the online module it follows. */
  target: readonly TargetModule[];
}

/** What a method's terms read in one micro-step. Tensors belong to the caller. */
export interface TermInputs<Online> {
  /** The online network (its forward pass is recorded for the gradient). */
  online: Online;
  /** The two augmented views. */
  views: readonly [AugmentedView, AugmentedView];
  /** What {@link Method.targets} returned for these views. */
  targets: tf.NamedTensorMap;
  /** The frozen teacher's layer4 maps of both views, when the run has a teacher. */
  teacher?: readonly [tf.Tensor4D, tf.Tensor4D];
  /** The micro-step's stream for random choices (matchers). */
  rng: Rng;
  /** Runs `f` (a matcher), counting its time in the `matchers` phase. */
  timeMatchers<T>(f: () => T): T;
}

/**
 * Where a worker thread imports a method from (`workers: 2`): the module (a path or a
 * `file:` URL) and the name it exports the method under.
 */
export interface MethodSource {
  /** Path or URL of the module. */
  module: string;
  /** The export holding the {@link Method}. */
  export: string;
}

/**
 * A method: networks, their modules, the target's outputs and the loss terms. The
 * trainer sums the terms with `@ediy/losses`' `weightedSum` and the method's weights,
 * differentiates the sum with respect to the online modules' trainable weights, runs
 * LARS on them and moves each target module towards the online module it follows.
 */
export interface Method<Online, Target> {
  /** A name for messages. */
  readonly name: string;
  /**
   * Where the replica worker of a two-thread run imports this method from (the worker
   * cannot be sent functions); without it a method trains on one thread only.
   * {@link EDIY} needs none: the worker has it built in.
   */
  readonly source?: MethodSource;
  /** Builds the online network and its target (an exact copy of the modules it follows). */
  build(config: ExperimentConfig, prefix?: string): { online: Online; target: Target };
  /** The networks' modules, in order. */
  modules(online: Online, target: Target): MethodModules;
  /** The target's outputs on both views, without gradient; the caller disposes them. */
  targets(
    config: ExperimentConfig,
    target: Target,
    x1: tf.Tensor4D,
    x2: tf.Tensor4D,
  ): tf.NamedTensorMap;
  /** The loss terms of a micro-batch, keyed as {@link Method.weights} is. */
  terms(config: ExperimentConfig, inputs: TermInputs<Online>): Record<string, tf.Scalar>;
  /** The weight of each term (Eq. 3's lambdas). */
  weights(config: ExperimentConfig): TermWeights;
  /**
   * The online network's backbone, `[layer4 map, pooled]`: what the kNN monitor
   * evaluates. A method without one cannot be monitored.
   */
  backbone?(online: Online): LayersModel;
}
