/**
 * Messages between the training thread and a replica worker ({@link ReplicaPool}).
 * Everything is plain data: weights, images and gradients travel as Float32Arrays in
 * the order of {@link replicaVariables}.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { RngState } from '@ediy/core';
import type { ViewParams } from '@ediy/augment';
import type { ExperimentConfig } from './config.js';
import type { MethodSource } from './method.js';
import type { PhaseTimings } from './step.js';
import type { StateVariables } from './state.js';

/** Sets a replica up. */
export interface InitMessage {
  type: 'init';
  config: ExperimentConfig;
  views: readonly [ViewParams, ViewParams];
  /** The backend to run on: the training thread's ediy backend name (`native`, `wasm`, ...). */
  backend: string;
  /** On `native`: the training thread's oneDNN threads per kernel. */
  threads?: number;
  /** The frozen teacher as saved by `LayersModel.save`, when there is one. */
  teacher?: tf.io.ModelArtifacts;
  /** Modules imported before anything is built (to register user losses and matchers). */
  imports: readonly string[];
  /** A module whose `importModule(path)` imports `imports` (default `import()`). */
  loader?: string;
  /** Where to import the run's method from (default E-DIY). */
  method?: MethodSource;
}

/** Computes one replica's share of a micro-batch. */
export interface StepMessage {
  type: 'step';
  /** New values of {@link replicaVariables}, when they changed since the last step. */
  weights?: Float32Array[];
  images: { data: Float32Array; shape: [number, number, number, number] };
  rng: RngState;
}

/** What a replica answers. */
export type ReplyMessage =
  | { type: 'ready'; regionLosses: string[]; matchers: string[] }
  | {
      type: 'result';
      grads: Array<Float32Array | null>;
      loss: number;
      terms: Record<string, number>;
      timings: PhaseTimings;
      numTensors: number;
      heapBytes?: number;
    }
  | { type: 'error'; message: string; stack?: string };

/**
 * The variables a replica receives each step, in the one order of {@link StateVariables}:
 * the online trainable weights (also the order of the gradients sent back), then the
 * target weights of the EMA pairs.
 */
export function replicaVariables(vars: StateVariables): {
  online: readonly tf.Variable[];
  target: readonly tf.Variable[];
} {
  return { online: vars.trainable, target: vars.ema.map(([, target]) => target) };
}
