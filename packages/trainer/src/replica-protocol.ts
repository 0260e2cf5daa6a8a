/**
 * Messages between the training thread and a replica worker ({@link ReplicaPool}).
 * Everything is plain data: weights, images and gradients travel as Float32Arrays in
 * the order of {@link replicaVariables}.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { RngState } from '@ediy/backend';
import type { ViewParams } from '@ediy/augment';
import type { ExperimentConfig } from './config.js';
import type { PhaseTimings } from './step.js';
import {
  emaPairs,
  onlineModules,
  trainableVariables,
  type OnlineNetwork,
  type TargetNetwork,
} from './networks.js';

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
 * The variables a replica receives each step, in a fixed order: the online trainable
 * weights (in {@link onlineModules} order, also the order of the gradients), then the
 * target's trainable weights (in {@link emaPairs} order).
 */
export function replicaVariables(
  online: OnlineNetwork,
  target: TargetNetwork,
): { online: tf.Variable[]; target: tf.Variable[] } {
  const read = trainableVariables;
  return {
    online: read(onlineModules(online)),
    target: read(emaPairs(online, target).map(([, t]) => t)),
  };
}
