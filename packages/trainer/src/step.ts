/**
 * One E-DIY training micro-step: two BYOL views, the teacher's and the target's forward
 * passes (no gradient), the online forward pass, Eq. 3's terms, and the gradients of
 * the weighted sum with respect to the online parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Rng } from '@ediy/backend';
import { byolViews, type AugmentedView, type ViewParams } from '@ediy/augment';
import {
  byolLoss,
  createRegionLossInputs,
  regionLoss,
  type RegionLossInputs,
  type RegionLossName,
} from '@ediy/losses';
import type { ExperimentConfig } from './config.js';
import {
  onlineModules,
  trainableVariables,
  type OnlineNetwork,
  type TargetNetwork,
} from './networks.js';

/**
 * The phases a training step is timed in. {@link microStep} times the first seven;
 * the loop adds `optimizer` (LARS) and `ema` (the target update), and with a replica
 * worker `sync` (waiting for it and copying weights and gradients).
 * - `augment`: the two BYOL views.
 * - `teacher`: the frozen teacher's layer4 maps of both views.
 * - `target`: the target backbone and projectors on both views.
 * - `online-forward`: the online backbone, heads and loss terms (matchers excluded).
 * - `matchers`: pairing regions (inside the online forward pass).
 * - `online-backward`: back-propagation to the online parameters.
 * - `readback`: reading the loss values into JS.
 */
export type StepPhase =
  | 'augment'
  | 'teacher'
  | 'target'
  | 'online-forward'
  | 'matchers'
  | 'online-backward'
  | 'readback'
  | 'optimizer'
  | 'ema'
  | 'sync';

/** Milliseconds spent per phase; phases that did not run are absent. */
export type PhaseTimings = Partial<Record<StepPhase, number>>;

/** What one micro-step produced. The caller owns `grads`. */
export interface MicroStepResult {
  /** Gradients of the weighted loss, keyed by variable name. */
  grads: tf.NamedTensorMap;
  /** The weighted loss (Eq. 3). */
  loss: number;
  /** Each term before weighting, keyed by term name (`byol`, `r-dem`, `r-iem`, ...). */
  terms: Record<string, number>;
  /** Wall-clock milliseconds per phase of this micro-step. */
  timings: PhaseTimings;
}

/** Names of a config's loss terms, in order: `byol` (when weighted) then each region loss. */
export function termNames(config: ExperimentConfig): string[] {
  const names: string[] = config.method.byolWeight > 0 ? ['byol'] : [];
  for (const term of config.method.regionLosses) {
    let name = term.loss;
    for (let k = 2; names.includes(name); k++) name = `${term.loss}#${k}`;
    names.push(name);
  }
  return names;
}

/** Adds `ms` to `timings[phase]`. */
export function addTiming(timings: PhaseTimings, phase: StepPhase, ms: number): void {
  timings[phase] = (timings[phase] ?? 0) + ms;
}

function applyModel(model: LayersModel, x: tf.Tensor, training: boolean): tf.Tensor[] {
  const out = model.apply(x, { training });
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

function first(out: tf.Tensor[]): tf.Tensor {
  const t = out[0];
  if (!t) throw new Error('a model returned no output');
  return t;
}

/** Runs a backbone returning `[map, pooled]`. */
function backboneForward(
  model: LayersModel,
  x: tf.Tensor,
  training: boolean,
): [tf.Tensor4D, tf.Tensor2D] {
  const [map, pooled] = applyModel(model, x, training);
  if (!map || !pooled) throw new Error(`backbone ${model.name} must return [map, pooled]`);
  return [map as tf.Tensor4D, pooled as tf.Tensor2D];
}

/**
 * The teacher's maps of both views. The teacher runs in inference mode (BatchNorm uses
 * its moving statistics), so each image's map does not depend on the rest of the batch:
 * both views go through it as one batch of 2B, which gives the same maps in one pass.
 */
function teacherMaps(
  teacher: LayersModel,
  x1: tf.Tensor4D,
  x2: tf.Tensor4D,
): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const maps = first(applyModel(teacher, tf.concat([x1, x2], 0), false)) as tf.Tensor4D;
    const b = x1.shape[0];
    return [
      tf.slice(maps, [0, 0, 0, 0], [b, -1, -1, -1]),
      tf.slice(maps, [b, 0, 0, 0], [-1, -1, -1, -1]),
    ];
  });
}

/**
 * Computes one micro-batch's gradients.
 * @param images - the source batch [B,H,W,3] in [0,1] (not disposed).
 * @param rng - this micro-step's random stream (augmentation and random matchers).
 */
export function microStep(
  config: ExperimentConfig,
  nets: { online: OnlineNetwork; target: TargetNetwork; teacher?: LayersModel },
  images: tf.Tensor4D,
  rng: Rng,
  views: readonly [ViewParams, ViewParams],
): MicroStepResult {
  const { online, target, teacher } = nets;
  const names = termNames(config);
  const timings: PhaseTimings = {};
  let t = performance.now();
  const lap = (phase: StepPhase): void => {
    const now = performance.now();
    addTiming(timings, phase, now - t);
    t = now;
  };

  const augmented = byolViews(images, rng.fork('augment'), views);
  const [v1, v2] = augmented;
  const x1 = v1.images;
  const x2 = v2.images;
  lap('augment');

  // The teacher and the target record no gradient: computed outside the tape.
  const maps = teacher ? teacherMaps(teacher, x1, x2) : undefined;
  lap('teacher');
  const fixed = tf.tidy(() => {
    // The target's BatchNorm uses batch statistics (training mode), so each view is its own batch.
    const [tm1, tg1] = backboneForward(target.backbone, x1, true);
    const [tm2, tg2] = backboneForward(target.backbone, x2, true);
    return {
      globals: [
        first(applyModel(target.projector, tg1, true)),
        first(applyModel(target.projector, tg2, true)),
      ] as [tf.Tensor2D, tf.Tensor2D],
      locals: [
        first(applyModel(target.localProjector, tm1, true)),
        first(applyModel(target.localProjector, tm2, true)),
      ] as [tf.Tensor4D, tf.Tensor4D],
    };
  });
  lap('target');

  const matchRng = rng.fork('matchers');
  let matcherMs = 0;

  const kept: tf.Scalar[] = [];
  const variables = trainableVariables(onlineModules(online));

  let forwardEnd = 0;
  const { value, grads } = tf.variableGrads(() => {
    const [m1, g1] = backboneForward(online.backbone, x1, true);
    const [m2, g2] = backboneForward(online.backbone, x2, true);
    const z1 = first(applyModel(online.projector, g1, true)) as tf.Tensor2D;
    const z2 = first(applyModel(online.projector, g2, true)) as tf.Tensor2D;
    const p1 = first(applyModel(online.predictor, z1, true)) as tf.Tensor2D;
    const p2 = first(applyModel(online.predictor, z2, true)) as tf.Tensor2D;
    const weighted: tf.Scalar[] = [];
    if (config.method.byolWeight > 0) {
      const term = byolLoss([p1, p2], fixed.globals);
      kept.push(tf.keep(term));
      weighted.push(tf.mul(term, config.method.byolWeight));
    }
    if (config.method.regionLosses.length > 0) {
      const l1 = first(applyModel(online.localProjector, m1, true)) as tf.Tensor4D;
      const l2 = first(applyModel(online.localProjector, m2, true)) as tf.Tensor4D;
      const lp = online.localPredictor;
      const q1 = lp ? (first(applyModel(lp, l1, true)) as tf.Tensor4D) : l1;
      const q2 = lp ? (first(applyModel(lp, l2, true)) as tf.Tensor4D) : l2;
      const base = createRegionLossInputs({
        local: [l1, l2],
        localPred: [q1, q2],
        targetLocal: fixed.locals,
        onlineGlobal: [z1, z2],
        targetGlobal: fixed.globals,
        // Without a teacher, matchers that only read the grid (random, geometric) see the target's local maps.
        teacher: maps ?? fixed.locals,
        boxes: [v1.boxes, v2.boxes],
        flipped: [v1.flipped, v2.flipped],
        rng: matchRng,
      });
      const inputs: RegionLossInputs = {
        ...base,
        match: (matcher, kind, view) => {
          const start = performance.now();
          try {
            return base.match(matcher, kind, view);
          } finally {
            matcherMs += performance.now() - start;
          }
        },
      };
      for (const term of config.method.regionLosses) {
        // Loss and matcher names are checked at run time by the registries, which list the known ones.
        const options = { matcher: term.matcher, ...term.options } as never;
        const value = regionLoss(term.loss as RegionLossName, inputs, options);
        kept.push(tf.keep(value));
        weighted.push(tf.mul(value, term.weight));
      }
    }
    const total = tf.addN(weighted) as tf.Scalar;
    forwardEnd = performance.now();
    return total;
  }, variables);
  addTiming(timings, 'online-forward', forwardEnd - t - matcherMs);
  if (matcherMs > 0) addTiming(timings, 'matchers', matcherMs);
  addTiming(timings, 'online-backward', performance.now() - forwardEnd);
  t = performance.now();

  // One read of every value instead of one per term.
  const packed = tf.stack([value, ...kept]);
  const values = packed.dataSync();
  tf.dispose([packed, value, ...kept]);
  const terms: Record<string, number> = {};
  names.forEach((name, i) => {
    terms[name] = values[i + 1] as number;
  });
  disposeViews(augmented);
  tf.dispose([fixed.globals, fixed.locals, maps ?? []]);
  lap('readback');
  return { grads, loss: values[0] as number, terms, timings };
}

function disposeViews(views: readonly AugmentedView[]): void {
  for (const v of views) v.images.dispose();
}
