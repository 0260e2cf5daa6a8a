/**
 * The method's wiring, checked against the leaf packages called directly: which view's
 * target each BYOL prediction regresses to, which teacher pairs each region loss uses,
 * how the EMA and LARS move the networks in one step, and what an accumulated step
 * averages.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { byolViewParams, byolViews } from '@ediy/augment';
import { resnet, featureChannels, isBatchNormalization } from '@ediy/backbones';
import { byolLoss, regressionLoss, rDemLoss, rIemLoss } from '@ediy/losses';
import { mostDissimilarWithin, mostSimilarAcross } from '@ediy/matchers';
import { LARS, larsStep } from '@ediy/optim';
import {
  BYOL_PREDICTOR,
  BYOL_PROJECTOR,
  localMlp,
  mlp,
  scaleSpecs,
  type LayerSpec,
} from '@ediy/projectors';
import {
  buildOnline,
  buildTarget,
  disposeModels,
  microStep,
  trainStep,
  type ExperimentConfig,
  type OnlineNetwork,
  type TargetNetwork,
} from '@ediy/trainer';
import { emaPairs, namedModels, onlineModules, trainableVariables } from '@ediy/trainer/internal';
import { EDIY_RANDOM_ROW, fixedViews, smoke } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

/** E-DIY with teacher-guided pairs: R-DEM within each view, R-IEM across views. */
function teacherGuided(steps = 1): ExperimentConfig {
  const base = smoke(EDIY_RANDOM_ROW, steps);
  return {
    ...base,
    method: {
      ...base.method,
      regionLosses: base.method.regionLosses.map((t) => ({ ...t, matcher: 'teacher' })),
    },
    teacher: { modelDir: 'unused: the tests pass the teacher' },
  };
}

interface Nets {
  online: OnlineNetwork;
  target: TargetNetwork;
  teacher: LayersModel;
}

const built: Nets[] = [];
afterAll(() => {
  for (const n of built)
    disposeModels([...Object.values(namedModels(n.online, n.target)), n.teacher]);
});

/**
 * The networks of a config, with the target moved away from the online network (so a
 * step that read the online network where the target belongs would be seen).
 */
function networks(config: ExperimentConfig, seed = 11): Nets {
  const online = buildOnline(config);
  const target = buildTarget(config, online);
  tf.tidy(() => {
    for (const [i, v] of trainableVariables(Object.values(target)).entries())
      v.assign(tf.mul(v, tf.randomUniform(v.shape, 0.5, 1.5, 'float32', seed + i)));
  });
  const teacher = resnet(
    { ...config.scale.backbone, name: `wiring_teacher_${seed}`, seed },
    { batchNormLayer: 'fast' },
  );
  const nets = { online, target, teacher };
  built.push(nets);
  return nets;
}

function images(config: ExperimentConfig, batch: number, seed: number): tf.Tensor4D {
  const size = config.scale.data.kind === 'scenes' ? config.scale.data.size : 20;
  return tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

function apply(model: LayersModel, x: tf.Tensor, training = true): tf.Tensor[] {
  const out = model.apply(x, { training });
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

const scalar = (t: tf.Tensor): number => t.dataSync()[0] as number;
const maxAbs = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => scalar(tf.max(tf.abs(tf.sub(a, b)))));

describe("the method's terms", () => {
  it('equal the leaf losses on the networks: BYOL against the other view, R-DEM and R-IEM with the teacher pairs', () => {
    const config = teacherGuided();
    const nets = networks(config);
    const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });
    const x = images(config, 4, 1);
    const rng = new Rng(5);
    const step = microStep(config, nets, x, rng, views);
    tf.dispose(Object.values(step.grads));

    const direct = tf.tidy(() => {
      // microStep augments with rng.fork('augment'): forking does not advance rng
      const [v1, v2] = byolViews(x, rng.fork('augment'), views);
      const { online, target, teacher } = nets;
      const side = (xv: tf.Tensor) => {
        const [map, pooled] = apply(online.backbone, xv) as [tf.Tensor4D, tf.Tensor2D];
        const z = apply(online.projector, pooled)[0] as tf.Tensor2D;
        const local = apply(online.localProjector, map)[0] as tf.Tensor4D;
        const [tMap, tPooled] = apply(target.backbone, xv) as [tf.Tensor4D, tf.Tensor2D];
        return {
          p: apply(online.predictor, z)[0] as tf.Tensor2D,
          local,
          localPred: apply(online.localPredictor as LayersModel, local)[0] as tf.Tensor4D,
          targetGlobal: apply(target.projector, tPooled)[0] as tf.Tensor2D,
          targetLocal: apply(target.localProjector, tMap)[0] as tf.Tensor4D,
          teacher: apply(teacher, xv, false)[0] as tf.Tensor4D,
        };
      };
      const a = side(v1.images);
      const b = side(v2.images);
      return {
        // each view's prediction regresses to the other view's target projection
        byol: scalar(
          tf.add(regressionLoss(a.p, b.targetGlobal), regressionLoss(b.p, a.targetGlobal)),
        ),
        byolLoss: scalar(byolLoss([a.p, b.p], [a.targetGlobal, b.targetGlobal])),
        sameView: scalar(
          tf.add(regressionLoss(a.p, a.targetGlobal), regressionLoss(b.p, b.targetGlobal)),
        ),
        rDem: scalar(
          rDemLoss(
            [a.local, b.local],
            [mostDissimilarWithin(a.teacher), mostDissimilarWithin(b.teacher)],
          ),
        ),
        rIem: scalar(
          rIemLoss(
            [a.localPred, b.localPred],
            [a.targetLocal, b.targetLocal],
            [mostSimilarAcross(a.teacher, b.teacher), mostSimilarAcross(b.teacher, a.teacher)],
          ),
        ),
      };
    });
    x.dispose();
    expect(direct.byolLoss).toBeCloseTo(direct.byol, 5);
    expect(step.terms.byol).toBeCloseTo(direct.byol, 4);
    // the test can tell the two pairings apart
    expect(Math.abs(direct.sameView - direct.byol)).toBeGreaterThan(1e-2);
    expect(step.terms['r-dem']).toBeCloseTo(direct.rDem, 4);
    expect(step.terms['r-iem']).toBeCloseTo(direct.rIem, 4);
    expect(step.loss).toBeCloseTo(direct.byol + direct.rDem + direct.rIem, 4);
  });
});

/** Copies of a model set's trainable values, keyed by variable name. */
function snapshot(models: readonly LayersModel[]): Map<string, tf.Tensor> {
  return new Map(trainableVariables(models).map((v) => [v.name, tf.clone(v)]));
}

describe('one step', () => {
  it('moves the online network by LARS on the step gradient, the target by the EMA towards the new online network, and leaves the teacher alone', async () => {
    const base = teacherGuided();
    // a trust coefficient of 1 makes the LARS step as large as the weights: every mix-up shows
    const config = { ...base, optim: { ...base.optim, eta: 1 } };
    const nets = networks(config, 21);
    const views = byolViewParams(config.scale.imageSize, { scaleBlurSigma: true });
    const x = images(config, 4, 2);
    const rng = new Rng(9);
    const lr = 0.5;
    const tau = 0.7;
    const online0 = snapshot(onlineModules(nets.online));
    const target0 = snapshot(Object.values(nets.target));
    const teacher0 = nets.teacher.getWeights().map((w) => tf.clone(w));
    // the step's gradient: the same micro-batch and stream (the step's micro-batch 0 forks 'micro-0')
    const { grads } = microStep(config, nets, x, rng.fork('micro-0'), views);
    const optimizer = new LARS({
      learningRate: 0,
      momentum: config.optim.momentum,
      weightDecay: config.optim.weightDecay,
      eta: config.optim.eta,
    });
    await trainStep(
      { config, nets, optimizer, views },
      { step: 0, lr, tau, rng, batch: () => ({ images: tf.clone(x), dispose() {} }) },
    );
    const hyper = {
      learningRate: lr,
      momentum: config.optim.momentum,
      weightDecay: config.optim.weightDecay,
      eta: config.optim.eta,
    };
    const variables = trainableVariables(onlineModules(nets.online));
    expect(Object.keys(grads).sort()).toEqual(variables.map((v) => v.name).sort());
    let moved = 0;
    for (const v of variables) {
      const w0 = online0.get(v.name) as tf.Tensor;
      const g = grads[v.name] as tf.Tensor;
      const expected = tf.tidy(
        () => larsStep(w0, g, tf.zerosLike(w0), hyper, optimizer.isExcluded(v.name, v.shape)).w,
      );
      expect(maxAbs(v, expected), v.name).toBeLessThan(1e-5);
      if (maxAbs(v, w0) > 1e-4) moved += 1;
      expected.dispose();
    }
    expect(moved).toBeGreaterThan(variables.length / 2);
    for (const [from, to] of emaPairs(nets.online, nets.target)) {
      const online = trainableVariables([from]);
      trainableVariables([to]).forEach((t, i) => {
        const expected = tf.tidy(() =>
          tf.add(tf.mul(tau, target0.get(t.name) as tf.Tensor), tf.mul(1 - tau, online[i]!)),
        );
        expect(maxAbs(t, expected), t.name).toBeLessThan(1e-5);
        expected.dispose();
      });
    }
    nets.teacher.getWeights().forEach((w, i) => expect(maxAbs(w, teacher0[i]!)).toBe(0));
    tf.dispose([x, ...online0.values(), ...target0.values(), ...teacher0, ...Object.values(grads)]);
    optimizer.dispose();
  });
});

/** Every BatchNorm of a model normalising with its moving statistics, in training too. */
function batchNormFromMovingStatistics(model: LayersModel): void {
  for (const layer of model.layers) {
    if (!isBatchNormalization(layer)) continue;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
  }
}

describe('an accumulated step', () => {
  it('equals one step over the micro-batches joined: gradients averaged, not summed', async () => {
    // With BatchNorm on fixed statistics, fixed views and teacher pairs, each image's terms
    // depend on that image alone, so the mean over 8 images is the mean of two means over 4.
    const base = teacherGuided();
    const joined = { ...base, scale: { ...base.scale, batchSize: 8, accumulate: 1 } };
    const split = { ...base, scale: { ...base.scale, batchSize: 4, accumulate: 2 } };
    const views = fixedViews(base.scale.imageSize);
    const x = images(base, 8, 3);
    const halves = [
      tf.slice(x, [0, 0, 0, 0], [4, -1, -1, -1]),
      tf.slice(x, [4, 0, 0, 0], [4, -1, -1, -1]),
    ];
    const run = async (config: ExperimentConfig, batches: tf.Tensor4D[]) => {
      const nets = networks(config, 31);
      for (const m of [...Object.values(namedModels(nets.online, nets.target))])
        batchNormFromMovingStatistics(m);
      const optimizer = new LARS({ learningRate: 0, momentum: 0.9, weightDecay: 1.5e-6, eta: 1 });
      const result = await trainStep(
        { config, nets, optimizer, views },
        {
          step: 0,
          lr: 0.5,
          tau: 0.7,
          rng: new Rng(4),
          batch: (m) => ({ images: tf.clone(batches[m]!), dispose() {} }),
        },
      );
      const weights = Object.values(namedModels(nets.online, nets.target)).flatMap((model) =>
        model.getWeights(),
      );
      const state = await optimizer.getWeights();
      optimizer.dispose();
      return { result, weights, momentum: state.slice(1).map((s) => s.tensor) };
    };
    const one = await run(joined, [x as tf.Tensor4D]);
    const two = await run(split, halves as tf.Tensor4D[]);
    expect(two.result.loss).toBeCloseTo(one.result.loss, 5);
    for (const [name, value] of Object.entries(one.result.terms))
      expect(two.result.terms[name]).toBeCloseTo(value, 5);
    expect(two.weights).toHaveLength(one.weights.length);
    one.weights.forEach((w, i) => expect(maxAbs(w, two.weights[i]!)).toBeLessThan(2e-5));
    one.momentum.forEach((v, i) => expect(maxAbs(v, two.momentum[i]!)).toBeLessThan(2e-5));
    tf.dispose([x, ...halves, ...one.momentum, ...two.momentum]);
  });
});

describe('the heads', () => {
  const describeLayers = (model: LayersModel) =>
    model.layers.map((l) => {
      const c = l.getConfig();
      return [
        l.getClassName(),
        c.units ?? c.filters ?? null,
        c.useBias ?? null,
        c.kernelSize ?? null,
      ];
    });
  const shapes = (model: LayersModel) => model.weights.map((w) => w.shape);
  // The trainer builds every BatchNorm as @ediy/backbones' FastBatchNormalization.
  const FAST = { batchNormLayer: 'fast' } as const;

  it("are @ediy/projectors' BYOL projector and predictor at the config's widths (no bias in the last layer)", () => {
    const config = smoke(EDIY_RANDOM_ROW, 1);
    const online = buildOnline(config);
    const channels = featureChannels(config.scale.backbone);
    const out = config.scale.projector.out;
    const projector = scaleSpecs(BYOL_PROJECTOR, config.scale.projector);
    const predictor = scaleSpecs(BYOL_PREDICTOR, config.scale.projector);
    const refs: Array<[LayersModel, LayersModel]> = [
      [online.projector, mlp(channels, projector, FAST)],
      [online.predictor, mlp(out, predictor, FAST)],
      [online.localProjector, localMlp(channels, projector, FAST)],
      [online.localPredictor as LayersModel, localMlp(out, predictor, FAST)],
    ];
    for (const [built, ref] of refs) {
      expect(describeLayers(built)).toEqual(describeLayers(ref));
      expect(shapes(built)).toEqual(shapes(ref));
    }
    const last = (specs: readonly LayerSpec[]) => specs[specs.length - 1];
    expect(last(BYOL_PROJECTOR)?.bias).toBe(false);
    const finalDense = online.projector.layers.filter((l) => l.getClassName() === 'Dense').at(-1);
    expect(finalDense?.getConfig().useBias).toBe(false);
    disposeModels([...onlineModules(online), ...refs.map(([, ref]) => ref)]);
  });
});
