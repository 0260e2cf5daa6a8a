/**
 * A few E-DIY steps in the page: the online network (a run's backbone, or a fresh one,
 * with fresh BYOL heads), its EMA target and a frozen teacher that picks the region pairs,
 * trained on a batch of images with Eq. 3 (BYOL + R-DEM + R-IEM, matcher `teacher`).
 * Assembled from the packages as the trainer's step is (`@ediy/augment`'s views,
 * `@ediy/losses`' terms and `weightedSum`, `@ediy/matchers` through the region losses,
 * `@ediy/optim`'s LARS and EMA), since the trainer's entry reads and writes files.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { byolViewParams, byolViews, type AugmentedView } from '@ediy/augment';
import { featureChannels, resnet } from '@ediy/backbones';
import { Rng, assertInRange, assertInteger } from '@ediy/core';
import { byolLoss, createRegionLossInputs, regionTermLoss, weightedSum } from '@ediy/losses';
import { LARS, emaUpdate } from '@ediy/optim';
import { BYOL_PREDICTOR, BYOL_PROJECTOR, localMlp, mlp, scaleSpecs } from '@ediy/projectors';
import type { ViewerBackbone } from './site.js';

/** What {@link PageTrainer} trains and how. */
export interface PageTrainerOptions {
  /** The online backbone's architecture. */
  backbone: ViewerBackbone;
  /** Start from these backbone weights (a run's; copied, not changed). Default: fresh weights. */
  initFrom?: LayersModel;
  /**
   * The frozen teacher whose layer4 maps choose the R-DEM and R-IEM pairs (run in
   * inference mode, not changed). Default: a frozen copy of the starting backbone.
   */
  teacher?: LayersModel;
  /** Side of each view in pixels. */
  imageSize: number;
  /** Widths of the fresh BYOL heads (default `{ hidden: 64, out: 32 }`). */
  projector?: { hidden: number; out: number };
  /** LARS learning rate, >= 0 (default 0.5). */
  learningRate?: number;
  /** LARS trust coefficient (default 0.02, solo-learn's CIFAR recipe with `clip`). */
  eta?: number;
  /** LARS momentum (default 0.9). */
  momentum?: number;
  /** The target's EMA rate tau in [0, 1] (default 0.99). */
  tau?: number;
  /** Weights of the terms (default 1 each). */
  weights?: { byol?: number; 'r-dem'?: number; 'r-iem'?: number };
  /** Seed of the heads' initialisation and of the views (default 0). */
  seed?: number;
}

/** One step's numbers. */
export interface PageStep {
  /** The step's index (0 for the first). */
  step: number;
  /** Eq. 3: the weighted sum of the terms. */
  loss: number;
  /** Each term before weighting. */
  terms: { byol: number; 'r-dem': number; 'r-iem': number };
  /** Wall time of the step in milliseconds. */
  ms: number;
}

type Maps = [tf.Tensor4D, tf.Tensor4D];

function outputs(model: LayersModel, x: tf.Tensor, training: boolean): tf.Tensor[] {
  const out = model.apply(x, { training });
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

function one<T extends tf.Tensor>(model: LayersModel, x: tf.Tensor): T {
  return outputs(model, x, true)[0] as T;
}

/**
 * Copies every weight of `from` into `to` (same architecture), layer by layer: a model's
 * `getWeights()` lists trainable weights first, so a frozen model lists them otherwise.
 */
function copyLayers(from: LayersModel, to: LayersModel): void {
  if (from.layers.length !== to.layers.length)
    throw new Error(
      `cannot copy ${from.name} (${from.layers.length} layers) into ${to.name} (${to.layers.length} layers)`,
    );
  from.layers.forEach((layer, i) => {
    const weights = layer.getWeights();
    if (weights.length > 0) to.layers[i]?.setWeights(weights);
  });
}

/**
 * E-DIY's networks and optimiser, stepped on a batch: `step(images)` draws the two views
 * of every image, runs the teacher and the target (no gradient), takes Eq. 3's gradient
 * with respect to the online network, applies LARS and moves the target by EMA.
 */
export class PageTrainer {
  private readonly online: {
    backbone: LayersModel;
    projector: LayersModel;
    predictor: LayersModel;
    localProjector: LayersModel;
    localPredictor: LayersModel;
  };
  private readonly target: {
    backbone: LayersModel;
    projector: LayersModel;
    localProjector: LayersModel;
  };
  private readonly teacher: LayersModel;
  private readonly ownTeacher: boolean;
  private readonly optimizer: LARS;
  private readonly views: ReturnType<typeof byolViewParams>;
  private readonly tau: number;
  private readonly termWeights: { byol: number; 'r-dem': number; 'r-iem': number };
  private readonly seed: number;
  private steps = 0;

  constructor(options: PageTrainerOptions) {
    const seed = options.seed ?? 0;
    assertInteger(seed, 0, 'PageTrainer seed');
    assertInteger(options.imageSize, 8, 'PageTrainer imageSize');
    const lr = options.learningRate ?? 0.5;
    assertInRange(lr, 0, Number.MAX_VALUE, 'PageTrainer learningRate');
    this.tau = options.tau ?? 0.99;
    assertInRange(this.tau, 0, 1, 'PageTrainer tau');
    this.seed = seed;
    this.termWeights = { byol: 1, 'r-dem': 1, 'r-iem': 1, ...options.weights };
    const sizes = options.projector ?? { hidden: 64, out: 32 };
    const channels = featureChannels(options.backbone);
    const proj = scaleSpecs(BYOL_PROJECTOR, sizes);
    const pred = scaleSpecs(BYOL_PREDICTOR, sizes);
    const build = (prefix: string) => ({
      backbone: resnet({ ...options.backbone, name: `${prefix}_backbone`, seed }),
      projector: mlp(channels, proj, { name: `${prefix}_projector`, seed: seed + 1 }),
      localProjector: localMlp(channels, proj, {
        name: `${prefix}_local_projector`,
        seed: seed + 3,
      }),
    });
    const tag = Math.random().toString(36).slice(2, 8); // unique layer names per trainer
    const o = build(`page${tag}_online`);
    this.online = {
      ...o,
      predictor: mlp(sizes.out, pred, { name: `page${tag}_online_predictor`, seed: seed + 2 }),
      localPredictor: localMlp(sizes.out, pred, {
        name: `page${tag}_online_local_predictor`,
        seed: seed + 4,
      }),
    };
    if (options.initFrom) copyLayers(options.initFrom, this.online.backbone);
    this.target = build(`page${tag}_target`);
    for (const k of ['backbone', 'projector', 'localProjector'] as const)
      copyLayers(this.online[k], this.target[k]);
    if (options.teacher) {
      this.teacher = options.teacher;
      this.ownTeacher = false;
    } else {
      this.teacher = resnet({ ...options.backbone, name: `page${tag}_teacher`, seed });
      copyLayers(this.online.backbone, this.teacher);
      this.teacher.trainable = false;
      this.ownTeacher = true;
    }
    this.optimizer = new LARS({
      learningRate: lr,
      momentum: options.momentum ?? 0.9,
      eta: options.eta ?? 0.02,
      clip: true,
    });
    this.views = byolViewParams(options.imageSize, { scaleBlurSigma: true });
  }

  /** Steps taken so far. */
  get step(): number {
    return this.steps;
  }

  /** The online network's trainable variables, in a fixed order. */
  private trainable(): tf.Variable[] {
    return Object.values(this.online).flatMap((m) =>
      m.trainableWeights.map((w) => w.read() as tf.Variable),
    );
  }

  /**
   * One E-DIY step on `images` (`[B,H,W,3]` in [0, 1], B >= 2; not disposed). The views
   * of step k are drawn from `new Rng(seed).fork('step-k')`. Resolves once the step's
   * numbers are read back.
   */
  async stepOn(images: tf.Tensor4D): Promise<PageStep> {
    if (images.rank !== 4 || images.shape[3] !== 3 || images.shape[0] < 2)
      throw new RangeError(`images must be [B,H,W,3] with B >= 2, got [${images.shape.join(',')}]`);
    const start = performance.now();
    const k = this.steps;
    const rng = new Rng(this.seed).fork(`step-${k}`);
    const [v1, v2] = byolViews(images, rng.fork('augment'), this.views) as [
      AugmentedView,
      AugmentedView,
    ];
    const { target, online } = this;
    const noGrad = tf.tidy(() => {
      const b = v1.images.shape[0];
      const both = outputs(
        this.teacher,
        tf.concat([v1.images, v2.images], 0),
        false,
      )[0] as tf.Tensor4D;
      const teacher: Maps = [
        tf.slice(both, [0, 0, 0, 0], [b, -1, -1, -1]),
        tf.slice(both, [b, 0, 0, 0], [-1, -1, -1, -1]),
      ];
      const [tm1, tg1] = outputs(target.backbone, v1.images, true) as [tf.Tensor4D, tf.Tensor2D];
      const [tm2, tg2] = outputs(target.backbone, v2.images, true) as [tf.Tensor4D, tf.Tensor2D];
      return {
        teacher,
        global: [one<tf.Tensor2D>(target.projector, tg1), one<tf.Tensor2D>(target.projector, tg2)],
        local: [
          one<tf.Tensor4D>(target.localProjector, tm1),
          one<tf.Tensor4D>(target.localProjector, tm2),
        ],
      } as { teacher: Maps; global: [tf.Tensor2D, tf.Tensor2D]; local: Maps };
    });
    const matchRng = rng.fork('matchers');
    const kept: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const [m1, g1] = outputs(online.backbone, v1.images, true) as [tf.Tensor4D, tf.Tensor2D];
      const [m2, g2] = outputs(online.backbone, v2.images, true) as [tf.Tensor4D, tf.Tensor2D];
      const z1 = one<tf.Tensor2D>(online.projector, g1);
      const z2 = one<tf.Tensor2D>(online.projector, g2);
      const l1 = one<tf.Tensor4D>(online.localProjector, m1);
      const l2 = one<tf.Tensor4D>(online.localProjector, m2);
      const inputs = createRegionLossInputs({
        local: [l1, l2],
        localPred: [one(online.localPredictor, l1), one(online.localPredictor, l2)],
        targetLocal: noGrad.local,
        onlineGlobal: [z1, z2],
        targetGlobal: noGrad.global,
        teacher: noGrad.teacher,
        boxes: [v1.boxes, v2.boxes],
        flipped: [v1.flipped, v2.flipped],
        rng: matchRng,
      });
      const terms = {
        byol: byolLoss([one(online.predictor, z1), one(online.predictor, z2)], noGrad.global),
        'r-dem': regionTermLoss({ loss: 'r-dem', weight: 1, matcher: 'teacher' }, inputs),
        'r-iem': regionTermLoss({ loss: 'r-iem', weight: 1, matcher: 'teacher' }, inputs),
      };
      for (const t of Object.values(terms)) kept.push(tf.keep(t));
      return weightedSum(terms, this.termWeights);
    }, this.trainable());
    this.optimizer.applyGradients(grads);
    const targetVars = (['backbone', 'projector', 'localProjector'] as const).flatMap((m) =>
      target[m].weights.map((w) => w.read() as tf.Variable),
    );
    const onlineVars = (['backbone', 'projector', 'localProjector'] as const).flatMap((m) =>
      online[m].weights.map((w) => w.read() as tf.Variable),
    );
    emaUpdate(targetVars, onlineVars, this.tau);
    const packed = tf.stack([value, ...kept]);
    tf.dispose([value, ...kept, Object.values(grads), v1.images, v2.images]);
    tf.dispose([noGrad.teacher, noGrad.global, noGrad.local]);
    // one asynchronous read (webgpu has no fast synchronous one)
    const values = await packed.data();
    packed.dispose();
    this.steps += 1;
    return {
      step: k,
      loss: values[0] as number,
      terms: {
        byol: values[1] as number,
        'r-dem': values[2] as number,
        'r-iem': values[3] as number,
      },
      ms: performance.now() - start,
    };
  }

  /** Frees every network this trainer built and the optimiser's state (not `initFrom` or `teacher`). */
  dispose(): void {
    for (const m of [...Object.values(this.online), ...Object.values(this.target)]) m.dispose();
    if (this.ownTeacher) this.teacher.dispose();
    this.optimizer.dispose();
  }
}
