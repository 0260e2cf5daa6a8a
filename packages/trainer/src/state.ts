/**
 * The state of a run, and the one ordering of its variables. Checkpoints (which models
 * under which keys), the gradients and LARS's slots (`slot<i>` is the i-th trainable
 * variable), the EMA (which target variable follows which online one) and the replica
 * worker's messages (weights and gradients as flat lists) all read {@link variables}, so
 * they cannot disagree; the method's {@link Method.modules} is the only place the order is
 * written down.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { Rng } from '@ediy/core';
import type { LARS, NamedTensor } from '@ediy/optim';
import type { ExperimentConfig } from './config.js';
import { restoreWeights, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import type { Method, NamedModule } from './method.js';
import { EDIY } from './ediy-method.js';
import type { OnlineNetwork, TargetNetwork } from './networks.js';

/** Where the data loader stands: the epoch and the index of the next micro-batch in it. */
export interface DataPosition {
  /** Epochs completed. */
  epoch: number;
  /** Micro-batches read in this epoch. */
  index: number;
}

/** The networks of a method, with the run's optional frozen teacher. */
export interface MethodNetworks<Online = OnlineNetwork, Target = TargetNetwork> {
  /** The method they belong to (default E-DIY). */
  method?: Method<Online, Target>;
  /** Trained by the optimiser. */
  online: Online;
  /** Moved towards the online network by the EMA. */
  target: Target;
  /** Frozen: read only. */
  teacher?: LayersModel;
}

/** Everything a run's next step depends on; a checkpoint stores all of it. */
export interface TrainState<Online = OnlineNetwork, Target = TargetNetwork> extends MethodNetworks<
  Online,
  Target
> {
  /** The optimiser of the online network's trainable variables. */
  optimizer: LARS;
  /** Optimiser steps done. */
  step: number;
  /** The run's random stream; step k draws from `rng.fork('step-' + k)`. */
  rng: Rng;
  /** The data loader's position after the last step. */
  data: DataPosition;
}

/** A state's variables, in the one order every consumer reads ({@link variables}). */
export interface StateVariables {
  /** Every module, online ones first, under its checkpoint key. */
  models: readonly NamedModule[];
  /**
   * The online modules' trainable variables: what the gradient is taken with respect
   * to, LARS's `slot<i>` names in checkpoints, the worker's gradient list.
   */
  trainable: readonly tf.Variable[];
  /**
   * `[online, target]` pairs of trainable variables the EMA moves (`target = tau * target +
   * (1 - tau) * online`); the worker receives the online ones then these targets.
   */
  ema: ReadonlyArray<readonly [online: tf.Variable, target: tf.Variable]>;
}

/** Whether `x` holds a tfjs-layers model under each of `keys`. */
function holdsModels(x: unknown, keys: readonly string[]): string | undefined {
  if (typeof x !== 'object' || x === null) return `is ${String(x)}`;
  const record = x as Record<string, unknown>;
  const missing = keys.find((k) => {
    const m = record[k] as { getWeights?: unknown } | undefined;
    return typeof m?.getWeights !== 'function';
  });
  return missing === undefined ? undefined : `has no model '${missing}'`;
}

const EDIY_ONLINE = ['backbone', 'projector', 'predictor', 'localProjector'] as const;
const EDIY_TARGET = ['backbone', 'projector', 'localProjector'] as const;

/**
 * The method of a method's networks: `nets.method`, or {@link EDIY} when the networks name
 * none, which they may only when they are E-DIY's ({@link OnlineNetwork},
 * {@link TargetNetwork}). The returned method takes these networks as they are typed.
 * @throws when no method is named and the networks are not E-DIY's, naming what is missing.
 */
export function methodOf<Online, Target>(
  nets: MethodNetworks<Online, Target>,
): Method<unknown, unknown> {
  if (nets.method) return nets.method;
  const problem =
    (holdsModels(nets.online, EDIY_ONLINE) && `online ${holdsModels(nets.online, EDIY_ONLINE)}`) ||
    (holdsModels(nets.target, EDIY_TARGET) && `target ${holdsModels(nets.target, EDIY_TARGET)}`);
  if (problem) {
    throw new Error(
      `networks without a method must be E-DIY's (online: ${EDIY_ONLINE.join(', ')}; target: ${EDIY_TARGET.join(', ')}), but the ${problem}; pass their method as nets.method`,
    );
  }
  return EDIY;
}

function trainableOf(model: LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * The variables of a state (or of a method's networks), in the order of its method's
 * modules. Throws when a target module does not match the online module it follows.
 */
export function variables<Online, Target>(nets: MethodNetworks<Online, Target>): StateVariables {
  const method = methodOf(nets);
  const { online, target } = method.modules(nets.online, nets.target);
  const byKey = new Map(online.map((m) => [m.key, m.model]));
  const ema: Array<readonly [tf.Variable, tf.Variable]> = [];
  for (const t of target) {
    const from = byKey.get(t.follows);
    if (!from)
      throw new Error(
        `${method.name}: target module ${t.key} follows '${t.follows}', which is not an online module (${[...byKey.keys()].join(', ')})`,
      );
    const a = trainableOf(from);
    const b = trainableOf(t.model);
    if (a.length !== b.length)
      throw new Error(
        `${method.name}: ${t.key} has ${b.length} trainable weights, ${t.follows} has ${a.length}`,
      );
    a.forEach((v, i) => {
      const w = b[i] as tf.Variable;
      if (!tf.util.arraysEqual(v.shape, w.shape))
        throw new Error(
          `${method.name}: ${t.key} weight ${i} has shape [${w.shape.join(',')}], ${t.follows}'s [${v.shape.join(',')}]`,
        );
      ema.push([v, w]);
    });
  }
  return {
    models: [...online, ...target],
    trainable: online.flatMap((m) => trainableOf(m.model)),
    ema,
  };
}

/** A state's models keyed as checkpoints store them. */
export function modelsByKey(vars: StateVariables): Record<string, LayersModel> {
  return Object.fromEntries(vars.models.map((m) => [m.key, m.model]));
}

/**
 * tfjs names variables uniquely per process (a second model gets `_1` suffixes), so the
 * optimiser state is saved under the variable's position in {@link StateVariables.trainable}:
 * `<variable>/<slot>` becomes `slot<i>/<slot>`.
 */
export function toSlotNames(state: readonly NamedTensor[], vars: StateVariables): NamedTensor[] {
  const index = new Map(vars.trainable.map((v, i) => [v.name, i]));
  return state.map(({ name, tensor }) => {
    const slash = name.lastIndexOf('/');
    const i = slash < 0 ? undefined : index.get(name.slice(0, slash));
    return { name: i === undefined ? name : `slot${i}${name.slice(slash)}`, tensor };
  });
}

/** The inverse of {@link toSlotNames} for the variables of this process. */
export function fromSlotNames(state: readonly NamedTensor[], vars: StateVariables): NamedTensor[] {
  return state.map(({ name, tensor }) => {
    const m = /^slot(\d+)(\/.*)$/.exec(name);
    if (!m) return { name, tensor };
    const variable = vars.trainable[Number(m[1])];
    if (variable === undefined)
      throw new Error(
        `checkpoint optimiser state ${name} has no variable: the network has ${vars.trainable.length}`,
      );
    return { name: `${variable.name}${m[2]}`, tensor };
  });
}

/**
 * Writes a state's checkpoint into `dir` (see {@link saveCheckpoint}): every model of
 * {@link variables}, the optimiser's slots by position, step, data position, stream.
 */
export async function saveState<Online, Target>(
  dir: string,
  state: TrainState<Online, Target>,
  config: ExperimentConfig,
  keep: number,
): Promise<string> {
  const vars = variables(state);
  const slots = await state.optimizer.getWeights(); // copies, ours to dispose
  try {
    return await saveCheckpoint(
      dir,
      { step: state.step, dataPosition: state.data, rng: state.rng.state(), config },
      modelsByKey(vars),
      toSlotNames(slots, vars),
      keep,
    );
  } finally {
    tf.dispose(slots.map((s) => s.tensor));
  }
}

/**
 * Sets a state from a checkpoint: every model's weights (count and shapes checked), the
 * optimiser's slots, step, data position and stream. The checkpoint's tensors stay the
 * caller's (LARS keeps copies).
 */
export async function restoreState<Online, Target>(
  state: TrainState<Online, Target>,
  ckpt: Checkpoint,
): Promise<void> {
  const vars = variables(state);
  for (const { key, model } of vars.models) restoreWeights(model, ckpt.weights[key], key);
  await state.optimizer.setWeights(fromSlotNames(ckpt.optimizer, vars));
  state.step = ckpt.state.step;
  state.data = { ...ckpt.state.dataPosition };
  state.rng = Rng.fromState(ckpt.state.rng);
}

/** E-DIY's target modules paired with the online modules they follow, in {@link variables} order. */
export function emaPairs(
  online: OnlineNetwork,
  target: TargetNetwork,
): Array<[LayersModel, LayersModel]> {
  const modules = EDIY.modules(online, target);
  const byKey = new Map(modules.online.map((m) => [m.key, m.model]));
  return modules.target.map((t) => [byKey.get(t.follows) as LayersModel, t.model]);
}

/** Every model of an E-DIY run, keyed as its checkpoint names it, in {@link variables} order. */
export function namedModels(
  online: OnlineNetwork,
  target: TargetNetwork,
): Record<string, LayersModel> {
  return modelsByKey(variables({ method: EDIY, online, target }));
}

/** Disposes a state's networks (and teacher) and its optimiser. */
export function disposeState<Online, Target>(state: TrainState<Online, Target>): void {
  for (const { model } of variables(state).models) model.dispose();
  state.teacher?.dispose();
  state.optimizer.dispose();
}
