/**
 * E-DIY (and BYOL, its row without region terms) as a {@link Method}: the online network
 * (backbone, global projector + predictor, local projector + optional local predictor),
 * the target (EMA of the backbone and both projectors), and Eq. 3's terms: BYOL with each
 * view's prediction against the other view's target projection, and each configured
 * region loss with its matcher.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { byolLoss, createRegionLossInputs, regionTermLoss, type TermWeights } from '@ediy/losses';
import type { ExperimentConfig } from './config.js';
import type { Method, NamedModule } from './method.js';
import { buildOnline, buildTarget, type OnlineNetwork, type TargetNetwork } from './networks.js';

/** Names of a config's loss terms, in order: `byol` (when weighted) then each region loss. */
export function termNames(config: ExperimentConfig): string[] {
  const names: string[] = config.method.byolWeight > 0 ? ['byol'] : [];
  for (const term of config.method.regionLosses) {
    let name: string = term.loss;
    for (let k = 2; names.includes(name); k++) name = `${term.loss}#${k}`;
    names.push(name);
  }
  return names;
}

function run(model: LayersModel, x: tf.Tensor): tf.Tensor[] {
  const out = model.apply(x, { training: true });
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

function one<T extends tf.Tensor>(model: LayersModel, x: tf.Tensor): T {
  const [y] = run(model, x);
  if (!y) throw new Error(`model ${model.name} returned no output`);
  return y as T;
}

/** A backbone's `[layer4 map, pooled]`. */
function backbone(model: LayersModel, x: tf.Tensor): [tf.Tensor4D, tf.Tensor2D] {
  const [map, pooled] = run(model, x);
  if (!map || !pooled) throw new Error(`backbone ${model.name} must return [map, pooled]`);
  return [map as tf.Tensor4D, pooled as tf.Tensor2D];
}

function onlineList(online: OnlineNetwork): NamedModule[] {
  return [
    { key: 'online.backbone', model: online.backbone },
    { key: 'online.projector', model: online.projector },
    { key: 'online.predictor', model: online.predictor },
    { key: 'online.localProjector', model: online.localProjector },
    ...(online.localPredictor
      ? [{ key: 'online.localPredictor', model: online.localPredictor }]
      : []),
  ];
}

/** The online modules whose parameters the optimiser updates, in the order of {@link EDIY}'s modules. */
export function onlineModules(net: OnlineNetwork): LayersModel[] {
  return onlineList(net).map((m) => m.model);
}

/** E-DIY: BYOL plus the config's region losses (Eq. 3). */
export const EDIY: Method<OnlineNetwork, TargetNetwork> = {
  name: 'E-DIY',
  build(config, prefix = 'online') {
    const online = buildOnline(config, prefix);
    return { online, target: buildTarget(config, online) };
  },
  modules(online, target) {
    return {
      online: onlineList(online),
      target: [
        { key: 'target.backbone', model: target.backbone, follows: 'online.backbone' },
        { key: 'target.projector', model: target.projector, follows: 'online.projector' },
        {
          key: 'target.localProjector',
          model: target.localProjector,
          follows: 'online.localProjector',
        },
      ],
    };
  },
  targets(_config, target, x1, x2) {
    // BatchNorm in training mode (batch statistics), as the online network: each view is its own batch.
    return tf.tidy(() => {
      const [m1, g1] = backbone(target.backbone, x1);
      const [m2, g2] = backbone(target.backbone, x2);
      return {
        global1: one(target.projector, g1),
        global2: one(target.projector, g2),
        local1: one(target.localProjector, m1),
        local2: one(target.localProjector, m2),
      };
    });
  },
  terms(config, { online, views, targets, teacher, rng, timeMatchers }) {
    const [v1, v2] = views;
    const targetGlobal = [targets.global1, targets.global2] as [tf.Tensor2D, tf.Tensor2D];
    const targetLocal = [targets.local1, targets.local2] as [tf.Tensor4D, tf.Tensor4D];
    const [m1, g1] = backbone(online.backbone, v1.images);
    const [m2, g2] = backbone(online.backbone, v2.images);
    const z1 = one<tf.Tensor2D>(online.projector, g1);
    const z2 = one<tf.Tensor2D>(online.projector, g2);
    const terms: Record<string, tf.Scalar> = {};
    // Each view's prediction regresses to the *other* view's target projection (byolLoss pairs them).
    if (config.method.byolWeight > 0)
      terms.byol = byolLoss([one(online.predictor, z1), one(online.predictor, z2)], targetGlobal);
    if (config.method.regionLosses.length === 0) return terms;
    const l1 = one<tf.Tensor4D>(online.localProjector, m1);
    const l2 = one<tf.Tensor4D>(online.localProjector, m2);
    const lp = online.localPredictor;
    const base = createRegionLossInputs({
      local: [l1, l2],
      localPred: lp ? [one(lp, l1), one(lp, l2)] : [l1, l2],
      targetLocal,
      onlineGlobal: [z1, z2],
      targetGlobal,
      // Without a teacher, matchers that only read the grid (random, geometric) see the target's local maps.
      teacher: teacher ?? targetLocal,
      boxes: [v1.boxes, v2.boxes],
      flipped: [v1.flipped, v2.flipped],
      rng,
    });
    const inputs = {
      ...base,
      match: (...args: Parameters<typeof base.match>) => timeMatchers(() => base.match(...args)),
    };
    const names = termNames(config).slice(config.method.byolWeight > 0 ? 1 : 0);
    config.method.regionLosses.forEach((term, i) => {
      // A name a config file gave is checked here by the registry, which lists the known ones.
      terms[names[i] as string] = regionTermLoss(term, inputs);
    });
    return terms;
  },
  backbone: (online) => online.backbone,
  weights(config): TermWeights {
    const names = termNames(config);
    const weights = [
      ...(config.method.byolWeight > 0 ? [config.method.byolWeight] : []),
      ...config.method.regionLosses.map((t) => t.weight),
    ];
    return Object.fromEntries(names.map((n, i) => [n, weights[i] as number]));
  },
};
