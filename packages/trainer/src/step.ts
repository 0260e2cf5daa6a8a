/**
 * One E-DIY training micro-step: two BYOL views, the teacher's and the target's forward
 * passes (no gradient), the online forward pass, Eq. 3's terms, and the gradients of
 * the weighted sum with respect to the online parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Rng } from '@ediy/backend';
import { byolViews, type AugmentedView, type ViewParams } from '@ediy/augment';
import { byolLoss, createRegionLossInputs, regionLoss, type RegionLossName } from '@ediy/losses';
import type { ExperimentConfig } from './config.js';
import type { OnlineNetwork, TargetNetwork } from './networks.js';

/** What one micro-step produced. The caller owns `grads`. */
export interface MicroStepResult {
  /** Gradients of the weighted loss, keyed by variable name. */
  grads: tf.NamedTensorMap;
  /** The weighted loss (Eq. 3). */
  loss: number;
  /** Each term before weighting, keyed by term name (`byol`, `r-dem`, `r-iem`, ...). */
  terms: Record<string, number>;
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
function backboneForward(model: LayersModel, x: tf.Tensor, training: boolean): [tf.Tensor4D, tf.Tensor2D] {
  const [map, pooled] = applyModel(model, x, training);
  if (!map || !pooled) throw new Error(`backbone ${model.name} must return [map, pooled]`);
  return [map as tf.Tensor4D, pooled as tf.Tensor2D];
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
  const augmented = byolViews(images, rng.fork('augment'), views);
  const [v1, v2] = augmented;
  const x1 = v1.images;
  const x2 = v2.images;

  // The teacher and the target record no gradient: computed outside the tape.
  const fixed = tf.tidy(() => {
    const teacherMaps = teacher
      ? ([first(applyModel(teacher, x1, false)), first(applyModel(teacher, x2, false))] as [tf.Tensor4D, tf.Tensor4D])
      : undefined;
    const [tm1, tg1] = backboneForward(target.backbone, x1, true);
    const [tm2, tg2] = backboneForward(target.backbone, x2, true);
    return {
      teacherMaps,
      globals: [first(applyModel(target.projector, tg1, true)), first(applyModel(target.projector, tg2, true))] as [tf.Tensor2D, tf.Tensor2D],
      locals: [first(applyModel(target.localProjector, tm1, true)), first(applyModel(target.localProjector, tm2, true))] as [tf.Tensor4D, tf.Tensor4D],
    };
  });

  const matchRng = rng.fork('matchers');

  const kept: Record<string, tf.Scalar> = {};
  const variables = [online.backbone, online.projector, online.predictor, online.localProjector, ...(online.localPredictor ? [online.localPredictor] : [])]
    .flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));

  const { value, grads } = tf.variableGrads(() => {
    const [m1, g1] = backboneForward(online.backbone, x1, true);
    const [m2, g2] = backboneForward(online.backbone, x2, true);
    const z1 = first(applyModel(online.projector, g1, true)) as tf.Tensor2D;
    const z2 = first(applyModel(online.projector, g2, true)) as tf.Tensor2D;
    const p1 = first(applyModel(online.predictor, z1, true)) as tf.Tensor2D;
    const p2 = first(applyModel(online.predictor, z2, true)) as tf.Tensor2D;
    const weighted: tf.Scalar[] = [];
    let k = 0;
    if (config.method.byolWeight > 0) {
      const term = byolLoss([p1, p2], fixed.globals);
      kept[names[k++] as string] = tf.keep(term);
      weighted.push(tf.mul(term, config.method.byolWeight));
    }
    if (config.method.regionLosses.length > 0) {
      const l1 = first(applyModel(online.localProjector, m1, true)) as tf.Tensor4D;
      const l2 = first(applyModel(online.localProjector, m2, true)) as tf.Tensor4D;
      const lp = online.localPredictor;
      const q1 = lp ? (first(applyModel(lp, l1, true)) as tf.Tensor4D) : l1;
      const q2 = lp ? (first(applyModel(lp, l2, true)) as tf.Tensor4D) : l2;
      const inputs = createRegionLossInputs({
        local: [l1, l2],
        localPred: [q1, q2],
        targetLocal: fixed.locals,
        onlineGlobal: [z1, z2],
        targetGlobal: fixed.globals,
        // Without a teacher, matchers that only read the grid (random, geometric) see the target's local maps.
        teacher: fixed.teacherMaps ?? fixed.locals,
        boxes: [v1.boxes, v2.boxes],
        flipped: [v1.flipped, v2.flipped],
        rng: matchRng,
      });
      for (const term of config.method.regionLosses) {
        // Loss and matcher names are checked at run time by the registries, which list the known ones.
        const options = { matcher: term.matcher, ...term.options } as never;
        const value = regionLoss(term.loss as RegionLossName, inputs, options);
        kept[names[k++] as string] = tf.keep(value);
        weighted.push(tf.mul(value, term.weight));
      }
    }
    return tf.addN(weighted) as tf.Scalar;
  }, variables);

  const loss = value.dataSync()[0] as number;
  const terms: Record<string, number> = {};
  for (const [name, t] of Object.entries(kept)) {
    terms[name] = t.dataSync()[0] as number;
    t.dispose();
  }
  value.dispose();
  disposeViews(augmented);
  tf.dispose([fixed.globals, fixed.locals, fixed.teacherMaps ?? []]);
  return { grads, loss, terms };
}

function disposeViews(views: readonly AugmentedView[]): void {
  for (const v of views) v.images.dispose();
}
