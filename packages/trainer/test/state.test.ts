/**
 * The one ordering of a run's variables: checkpoints, gradients, LARS's slots, the EMA's
 * pairs and the replica worker's lists all read `variables(state)`. Each consumer is
 * checked here against facts that do not come from that function (model keys, weight
 * names, shapes, values), so a consumer that orders its list differently fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@ediy/backend';
import { LARS } from '@ediy/optim';
import {
  EDIY,
  disposeModels,
  loadCheckpoint,
  microStep,
  normalRngState,
  restoreState,
  saveState,
  update,
  variables,
  type ExperimentConfig,
  type TrainState,
} from '@ediy/trainer';
import { weightLabels } from '@ediy/trainer/internal';
import { replicaVariables } from '../src/replica-protocol.js';
import { EDIY_RANDOM_ROW, fixedViews, smoke, tempDir } from './helpers.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

const states: TrainState[] = [];
afterAll(() => {
  for (const s of states) {
    disposeModels(variables(s).models.map((m) => m.model));
    s.optimizer.dispose();
  }
});

function newState(config: ExperimentConfig, prefix = 'online'): TrainState {
  const { online, target } = EDIY.build(config, prefix);
  const state: TrainState = {
    method: EDIY,
    online,
    target,
    optimizer: new LARS({ learningRate: 0, momentum: 0.9, weightDecay: 1.5e-6, eta: 1 }),
    step: 0,
    rng: new Rng(config.seed).fork('train'),
    data: { epoch: 0, index: 0 },
  };
  states.push(state);
  return state;
}

const same = (a: tf.Tensor, b: tf.Tensor): boolean =>
  tf.util.arraysEqual(a.shape, b.shape) &&
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] === 0);

/** A weight's name without its network's prefix (`online_`, `target_`, `replica_`). */
const unprefixed = (name: string): string => name.replace(/^(online|target|replica)_/, '');

/** `[model key, weight name]` of every variable, from the models themselves. */
function keyOf(models: Record<string, LayersModel>): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const [key, model] of Object.entries(models))
    for (const w of model.weights)
      out.set((w.read() as tf.Variable).name, [key, unprefixed(w.originalName)]);
  return out;
}

describe('variables(state)', () => {
  const config = smoke(EDIY_RANDOM_ROW, 2);
  const views = fixedViews(config.scale.imageSize);

  it("lists E-DIY's modules once, online first, and pairs each target weight with the online weight of the same name", () => {
    const state = newState(config);
    const vars = variables(state);
    expect(vars.models.map((m) => m.key)).toEqual([
      'online.backbone',
      'online.projector',
      'online.predictor',
      'online.localProjector',
      'online.localPredictor',
      'target.backbone',
      'target.projector',
      'target.localProjector',
    ]);
    const { online, target } = state;
    const names = keyOf({
      'online.backbone': online.backbone,
      'online.projector': online.projector,
      'online.predictor': online.predictor,
      'online.localProjector': online.localProjector,
      'online.localPredictor': online.localPredictor as LayersModel,
      'target.backbone': target.backbone,
      'target.projector': target.projector,
      'target.localProjector': target.localProjector,
    });
    // the trainable list is every online module's trainable weights, module by module
    expect(vars.trainable.map((v) => names.get(v.name)?.[0])).toEqual(
      [
        online.backbone,
        online.projector,
        online.predictor,
        online.localProjector,
        online.localPredictor as LayersModel,
      ].flatMap((m, i) =>
        m.trainableWeights.map(
          () =>
            [
              'online.backbone',
              'online.projector',
              'online.predictor',
              'online.localProjector',
              'online.localPredictor',
            ][i],
        ),
      ),
    );
    expect(vars.ema).toHaveLength(
      [target.backbone, target.projector, target.localProjector].reduce(
        (n, m) => n + m.trainableWeights.length,
        0,
      ),
    );
    for (const [from, to] of vars.ema) {
      const [fromKey, fromName] = names.get(from.name) as [string, string];
      const [toKey, toName] = names.get(to.name) as [string, string];
      expect(toKey).toBe(fromKey.replace('online.', 'target.'));
      expect(toName).toBe(fromName);
    }
    expect(weightLabels(vars).get(vars.trainable[0]!.name)).toBe(
      `online.backbone ${online.backbone.trainableWeights[0]?.originalName}`,
    );
  });

  it('is the order of the gradients, of the worker protocol, and of a replica built in another thread', () => {
    const state = newState(config);
    const vars = variables(state);
    const x = tf.randomUniform([4, 20, 20, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const { grads } = microStep(config, state, x, new Rng(1), views);
    expect(Object.keys(grads).sort()).toEqual(vars.trainable.map((v) => v.name).sort());
    tf.dispose([x, ...Object.values(grads)]);
    const sent = replicaVariables(vars);
    expect(sent.online).toEqual(vars.trainable);
    expect(sent.target).toEqual(vars.ema.map(([, t]) => t));
    // the worker builds its own networks (other variable names): the same shapes and weight names in the same order
    const replica = variables(newState(config, 'replica'));
    const describe = (v: readonly tf.Variable[], labels: Map<string, string>) =>
      v.map((w) => [unprefixed(labels.get(w.name)?.split(' ')[1] ?? ''), w.shape]);
    const theirs = replicaVariables(replica);
    expect(describe(theirs.online, weightLabels(replica))).toEqual(
      describe(sent.online, weightLabels(vars)),
    );
    expect(describe(theirs.target, weightLabels(replica))).toEqual(
      describe(sent.target, weightLabels(vars)),
    );
  });

  it("is the order a checkpoint stores models and LARS's slots in, and restores them to", async () => {
    const state = newState(config);
    const x = tf.randomUniform([4, 20, 20, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    await update(
      state,
      { config, views },
      { lr: 0.5, tau: 0.7, batch: () => ({ images: tf.clone(x), dispose() {} }) },
    );
    state.data = { epoch: 0, index: 1 };
    const vars = variables(state);
    const dir = await saveState(tempDir('state'), state, config, 1);
    const ckpt = loadCheckpoint(dir);
    expect(ckpt.state).toMatchObject({ step: 1, dataPosition: { epoch: 0, index: 1 } });
    expect(Object.keys(ckpt.state.weights)).toEqual(vars.models.map((m) => m.key));
    for (const { key, model } of vars.models) {
      const stored = ckpt.weights[key] as tf.Tensor[];
      expect(ckpt.state.weights[key]).toEqual(model.weights.map((w) => w.originalName));
      model.getWeights().forEach((w, i) => expect(same(w, stored[i]!), `${key}/${i}`).toBe(true));
    }
    // slot<i> holds the optimiser's state of the i-th trainable variable
    const slots = await state.optimizer.getWeights();
    const byName = new Map(slots.map((s) => [s.name, s.tensor]));
    const stored = ckpt.optimizer.filter((o) => o.name.startsWith('slot'));
    expect(stored.length).toBeGreaterThanOrEqual(vars.trainable.length);
    for (const { name, tensor } of stored) {
      const [, i, rest] = /^slot(\d+)(\/.*)$/.exec(name) as RegExpExecArray;
      const v = vars.trainable[Number(i)] as tf.Variable;
      expect(same(tensor, byName.get(`${v.name}${rest}`) as tf.Tensor), name).toBe(true);
    }
    // restored into networks of another seed (other variable names): every value comes back in its place
    const other = newState({ ...config, seed: config.seed + 1 });
    await restoreState(other, ckpt);
    expect(other).toMatchObject({ step: 1, data: { epoch: 0, index: 1 } });
    expect(normalRngState(other.rng.state())).toEqual(normalRngState(state.rng.state()));
    const back = variables(other);
    back.models.forEach(({ model }, m) =>
      model
        .getWeights()
        .forEach((w, i) => expect(same(w, vars.models[m]!.model.getWeights()[i]!)).toBe(true)),
    );
    const restored = new Map((await other.optimizer.getWeights()).map((s) => [s.name, s.tensor]));
    back.trainable.forEach((v, i) => {
      const mine = vars.trainable[i] as tf.Variable;
      for (const [name, t] of byName) {
        if (!name.startsWith(`${mine.name}/`)) continue;
        const theirs = restored.get(`${v.name}${name.slice(mine.name.length)}`) as tf.Tensor;
        expect(same(t, theirs), name).toBe(true);
      }
    });
    tf.dispose([
      x,
      ...slots.map((s) => s.tensor),
      ...restored.values(),
      ...Object.values(ckpt.weights).flat(),
      ...ckpt.optimizer.map((o) => o.tensor),
    ]);
  });

  it('names a target module that follows no online module, or does not match it', () => {
    const state = newState(config);
    const broken = {
      ...EDIY,
      modules: (o: typeof state.online, t: typeof state.target) => {
        const m = EDIY.modules(o, t);
        return {
          online: m.online,
          target: m.target.map((x, i) => (i === 1 ? { ...x, follows: 'online.predictr' } : x)),
        };
      },
    };
    expect(() => variables({ ...state, method: broken })).toThrow(
      /target module target.projector follows 'online.predictr', which is not an online module/,
    );
    const swapped = {
      ...EDIY,
      modules: (o: typeof state.online, t: typeof state.target) => {
        const m = EDIY.modules(o, t);
        return {
          online: m.online,
          target: m.target.map((x) =>
            x.key === 'target.projector' ? { ...x, follows: 'online.predictor' } : x,
          ),
        };
      },
    };
    expect(() => variables({ ...state, method: swapped })).toThrow(
      /target.projector weight 0 has shape \[\d+,\d+\], online.predictor's \[\d+,\d+\]/,
    );
  });
});

describe("a method's networks", () => {
  it('name their method, or are E-DIY networks with EDIY as the default; anything else is an error', async () => {
    const { methodOf } = await import('../src/state.js');
    const config = smoke(EDIY_RANDOM_ROW, 1);
    const { online, target } = EDIY.build(config, 'method_of');
    expect(methodOf({ online, target })).toBe(EDIY);
    const byolOnly = { ...EDIY, name: 'byol-only' };
    expect(methodOf({ method: byolOnly, online, target })).toBe(byolOnly);
    const { predictor, ...noPredictor } = online;
    expect(() => methodOf({ online: noPredictor, target })).toThrow(
      "networks without a method must be E-DIY's (online: backbone, projector, predictor, localProjector; target: backbone, projector, localProjector), but the online has no model 'predictor'; pass their method as nets.method",
    );
    expect(() => methodOf({ online, target: { backbone: target.backbone } })).toThrow(
      "but the target has no model 'projector'",
    );
    expect(() => variables({ online: {}, target })).toThrow("the online has no model 'backbone'");
    disposeModels(
      [...Object.values(online), ...Object.values(target)].filter((m) => m !== undefined),
    );
    void predictor;
  });
});
