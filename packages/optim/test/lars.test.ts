import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers also registers tfjs's gradient functions, which minimize needs.
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { LARS, excludeBiasAndNorm } from '@ediy/optim';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

function close(actual: tf.Tensor, expected: number[], tol = 1e-5): void {
  const got = Array.from(actual.dataSync());
  expect(got).toHaveLength(expected.length);
  got.forEach((x, i) => expect(x).toBeCloseTo(expected[i] as number, -Math.log10(tol)));
}

/** Runs `fn` with fresh variables it creates, disposing them and the optimiser after. */
function withVars(fn: (track: (v: tf.Variable) => tf.Variable) => void): void {
  const made: tf.Variable[] = [];
  try {
    fn((v) => {
      made.push(v);
      return v;
    });
  } finally {
    made.forEach((v) => v.dispose());
  }
}

describe('LARS update', () => {
  it('matches two steps worked out by hand for an adapted parameter', () => {
    withVars((track) => {
      const w = track(tf.variable(tf.tensor2d([[3, 4]]), true, 'lars_hand/kernel'));
      const opt = new LARS({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.1, eta: 0.6 });
      const g = tf.tensor2d([[0.6, 0.8]]);
      // Step 1: g' = g + 0.1*w = [0.6+0.3, 0.8+0.4] = [0.9, 1.2], ||g'|| = 1.5, ||w|| = 5
      // trust = 0.6*5/1.5 = 2, g'' = [1.8, 2.4], v = [1.8, 2.4]
      // w = [3 - 0.1*1.8, 4 - 0.1*2.4] = [2.82, 3.76]
      opt.applyGradients({ [w.name]: g });
      close(w, [2.82, 3.76]);
      // Step 2: g' = [0.6+0.282, 0.8+0.376] = [0.882, 1.176], ||g'|| = sqrt(0.777924+1.382976) = 1.47
      // ||w|| = sqrt(7.9524+14.1376) = 4.7, trust = 0.6*4.7/1.47 = 1.9183673
      // g'' = trust*g' = [1.692, 2.256]; v = 0.9*[1.8, 2.4] + g'' = [3.312, 4.416]
      // w = [2.82 - 0.3312, 3.76 - 0.4416] = [2.4888, 3.3184]
      opt.applyGradients({ [w.name]: g });
      close(w, [2.4888, 3.3184]);
      expect(opt.iterations).toBe(2);
      g.dispose();
      opt.dispose();
    });
  });

  it('gives excluded parameters plain momentum SGD: no weight decay, no adaptation', () => {
    withVars((track) => {
      const b = track(tf.variable(tf.tensor1d([1, -2]), true, 'lars_hand/bias'));
      const opt = new LARS({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.5, eta: 0.6 });
      const g = tf.tensor1d([0.5, 0.5]);
      // Step 1: v = [0.5, 0.5], b = [1 - 0.05, -2 - 0.05] = [0.95, -2.05]
      opt.applyGradients({ [b.name]: g });
      close(b, [0.95, -2.05]);
      // Step 2: v = 0.9*0.5 + 0.5 = 0.95, b = [0.95 - 0.095, -2.05 - 0.095] = [0.855, -2.145]
      opt.applyGradients({ [b.name]: g });
      close(b, [0.855, -2.145]);
      g.dispose();
      opt.dispose();
    });
  });

  it('uses the predicate it is given, with the variable name and shape', () => {
    withVars((track) => {
      const w = track(tf.variable(tf.tensor2d([[3, 4]]), true, 'lars_pred/kernel'));
      const seen: Array<[string, number[]]> = [];
      const opt = new LARS({
        learningRate: 0.1,
        momentum: 0.9,
        weightDecay: 0.1,
        eta: 0.6,
        exclude: (name, shape) => {
          seen.push([name, [...shape]]);
          return true;
        },
      });
      const g = tf.tensor2d([[0.6, 0.8]]);
      opt.applyGradients({ [w.name]: g });
      // excluded: w = [3 - 0.1*0.6, 4 - 0.1*0.8] = [2.94, 3.92]
      close(w, [2.94, 3.92]);
      expect(seen).toEqual([['lars_pred/kernel', [1, 2]]]);
      g.dispose();
      opt.dispose();
    });
  });

  it('uses a trust ratio of 1 when the weight norm is 0', () => {
    withVars((track) => {
      const w = track(tf.variable(tf.zeros([2, 2]), true, 'lars_zero_w/kernel'));
      const opt = new LARS({ learningRate: 0.5, momentum: 0.9, weightDecay: 0.1, eta: 1e-3 });
      const g = tf.tensor2d([
        [1, 0],
        [0, -2],
      ]);
      // g' = g + 0.1*0 = g; ||w|| = 0 -> trust 1; v = g; w = 0 - 0.5*g = [[-0.5, 0], [0, 1]]
      opt.applyGradients({ [w.name]: g });
      close(w, [-0.5, 0, 0, 1]);
      g.dispose();
      opt.dispose();
    });
  });

  it('uses a trust ratio of 1 when the update norm is 0 (no NaN)', () => {
    withVars((track) => {
      const w = track(tf.variable(tf.tensor2d([[3, 4]]), true, 'lars_zero_g/kernel'));
      const opt = new LARS({ learningRate: 0.5, momentum: 0.9, weightDecay: 0, eta: 1e-3 });
      const g = tf.zeros([1, 2]);
      opt.applyGradients({ [w.name]: g });
      close(w, [3, 4]);
      g.dispose();
      opt.dispose();
    });
  });

  it('keys momentum by variable name, whatever order the gradients come in', () => {
    withVars((track) => {
      const a = track(tf.variable(tf.tensor1d([1]), true, 'lars_order_a'));
      const b = track(tf.variable(tf.tensor1d([1]), true, 'lars_order_b'));
      const opt = new LARS({ learningRate: 1, momentum: 0.5 });
      const ga = tf.tensor1d([1]);
      const gb = tf.tensor1d([10]);
      opt.applyGradients({ [a.name]: ga, [b.name]: gb });
      opt.applyGradients([
        { name: b.name, tensor: gb },
        { name: a.name, tensor: ga },
      ]);
      // a: v = 1 then 0.5*1+1 = 1.5 -> 1 - 1 - 1.5 = -1.5; b: v = 10 then 15 -> 1 - 10 - 15 = -24
      close(a, [-1.5]);
      close(b, [-24]);
      tf.dispose([ga, gb]);
      opt.dispose();
    });
  });

  it('follows setLearningRate from the next step', () => {
    withVars((track) => {
      const b = track(tf.variable(tf.tensor1d([0]), true, 'lars_lr/bias'));
      const opt = new LARS({ learningRate: 1, momentum: 0.5 });
      const g = tf.tensor1d([1]);
      opt.applyGradients({ [b.name]: g }); // v = 1, b = 0 - 1*1 = -1
      opt.setLearningRate(0.25);
      expect(opt.learningRate).toBe(0.25);
      opt.applyGradients({ [b.name]: g });
      // v = 0.5*1 + 1 = 1.5 (lr is not folded into v), b = -1 - 0.25*1.5 = -1.375
      close(b, [-1.375]);
      g.dispose();
      opt.dispose();
    });
  });

  it('trains through minimize and does not leak tensors over 50 steps', () => {
    withVars((track) => {
      const w = track(
        tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 1), true, 'lars_leak/kernel'),
      );
      const b = track(tf.variable(tf.zeros([3]), true, 'lars_leak/bias'));
      const x = tf.randomNormal([8, 4], 0, 1, 'float32', 2);
      const opt = new LARS({ learningRate: 0.5, eta: 0.02 });
      const loss = () => tf.tidy(() => tf.mean(tf.square(tf.add(tf.matMul(x, w), b))) as tf.Scalar);
      const first = loss().dataSync()[0] as number;
      opt.minimize(loss, false, [w, b]);
      const after1 = tf.memory().numTensors;
      for (let i = 1; i < 50; i++) opt.minimize(loss, false, [w, b]);
      expect(tf.memory().numTensors).toBe(after1);
      const last = tf.tidy(() => loss().dataSync()[0] as number);
      expect(last).toBeLessThan(first);
      x.dispose();
      opt.dispose();
    });
  });

  it('rejects bad options, naming them', () => {
    expect(() => new LARS({ learningRate: -0.1 })).toThrow(
      /LARS learningRate must be a number in \[0, Infinity\], got -0.1/,
    );
    expect(() => new LARS({ learningRate: NaN })).toThrow(/learningRate.*got NaN/);
    expect(() => new LARS({ learningRate: 1, momentum: 1.5 })).toThrow(/LARS momentum .* got 1.5/);
    expect(() => new LARS({ learningRate: 1, weightDecay: -1 })).toThrow(
      /LARS weightDecay .* got -1/,
    );
    expect(() => new LARS({ learningRate: 1, eta: 0 })).toThrow(/LARS eta .* got 0/);
    expect(() => new LARS({ learningRate: 1, exclude: 'bias' as never })).toThrow(
      /LARS exclude must be a function/,
    );
    const opt = new LARS({ learningRate: 1 });
    expect(() => opt.setLearningRate(-2)).toThrow(/learningRate .* got -2/);
  });

  it('rejects unknown variables and mis-shaped gradients, naming them', () => {
    withVars((track) => {
      const w = track(tf.variable(tf.zeros([2, 2]), true, 'lars_bad/kernel'));
      const opt = new LARS({ learningRate: 1 });
      const g = tf.zeros([2, 3]);
      expect(() => opt.applyGradients({ 'no/such/var': g })).toThrow(
        /no tf.Variable named 'no\/such\/var'/,
      );
      expect(() => opt.applyGradients({ [w.name]: g })).toThrow(
        /gradient of 'lars_bad\/kernel' has shape \[2,3\], expected the variable's shape \[2,2\]/,
      );
      g.dispose();
      opt.dispose();
    });
  });
});

describe('LARS state', () => {
  it('round-trips through getWeights/setWeights and gives identical next steps', async () => {
    const w1 = tf.variable(tf.tensor2d([[3, 4]]), true, 'lars_rt/kernel');
    const b1 = tf.variable(tf.tensor1d([1, -1]), true, 'lars_rt/bias');
    const gw = tf.tensor2d([[0.3, -0.2]]);
    const gb = tf.tensor1d([0.1, 0.4]);
    const a = new LARS({ learningRate: 0.2, weightDecay: 0.01, eta: 0.1 });
    a.applyGradients({ [w1.name]: gw, [b1.name]: gb });
    a.applyGradients({ [w1.name]: gw, [b1.name]: gb });
    const state = await a.getWeights();
    expect(state.map((s) => s.name)).toEqual([
      'iter',
      'lars_rt/kernel/momentum',
      'lars_rt/bias/momentum',
    ]);
    expect(Array.from(state[0]?.tensor.dataSync() ?? [])).toEqual([2]);

    // A second optimiser, restored from the state, on copies of the variables:
    const w2 = tf.variable(w1.clone(), true, 'lars_rt2/kernel');
    const b2 = tf.variable(b1.clone(), true, 'lars_rt2/bias');
    const w3 = tf.variable(w1.clone(), true, 'lars_rt3/kernel');
    const renamed = state.map((s) => ({
      name: s.name.replace('lars_rt/', 'lars_rt2/'),
      tensor: s.tensor,
    }));
    const b = new LARS({ learningRate: 0.2, weightDecay: 0.01, eta: 0.1 });
    await b.setWeights(renamed);
    tf.dispose(state.map((s) => s.tensor)); // the optimiser keeps its own reference
    expect(b.iterations).toBe(2);

    a.applyGradients({ [w1.name]: gw, [b1.name]: gb });
    b.applyGradients({ [w2.name]: gw, [b2.name]: gb });
    expect(Array.from(w2.dataSync())).toEqual(Array.from(w1.dataSync()));
    expect(Array.from(b2.dataSync())).toEqual(Array.from(b1.dataSync()));

    // without the momentum state the same step gives a different result:
    const c = new LARS({ learningRate: 0.2, weightDecay: 0.01, eta: 0.1 });
    c.applyGradients({ [w3.name]: gw });
    expect(Array.from(w3.dataSync())).not.toEqual(Array.from(w1.dataSync()));
    tf.dispose([w1, b1, w2, b2, w3, gw, gb]);
    a.dispose();
    b.dispose();
    c.dispose();
  });

  it('returns copies from getWeights that the caller disposes, without leaking', async () => {
    const w = tf.variable(tf.tensor1d([1, 2]), true, 'lars_copy/bias');
    const g = tf.tensor1d([1, 1]);
    const opt = new LARS({ learningRate: 0.1 });
    opt.applyGradients({ [w.name]: g });
    const before = tf.memory().numTensors;
    const state = await opt.getWeights();
    tf.dispose(state.map((s) => s.tensor));
    expect(tf.memory().numTensors).toBe(before);
    opt.applyGradients({ [w.name]: g }); // the buffers survive the caller's dispose
    close(w, [1 - 0.1 - 0.19, 2 - 0.1 - 0.19]); // v2 = 0.9*1 + 1 = 1.9
    tf.dispose([w, g]);
    opt.dispose();
  });

  it('rejects a corrupt state, naming the entry', async () => {
    const opt = new LARS({ learningRate: 0.1 });
    const m = tf.tensor1d([1, NaN]);
    const iter = tf.scalar(3, 'int32');
    await expect(opt.setWeights([{ name: 'x/momentum', tensor: m }])).rejects.toThrow(
      /no 'iter' entry among \[x\/momentum\]/,
    );
    await expect(
      opt.setWeights([
        { name: 'iter', tensor: iter },
        { name: 'x/velocity', tensor: m },
      ]),
    ).rejects.toThrow(/entry 'x\/velocity' is not a momentum buffer/);
    await expect(
      opt.setWeights([
        { name: 'iter', tensor: iter },
        { name: 'x/momentum', tensor: m },
      ]),
    ).rejects.toThrow(/momentum 'x\/momentum' must be finite/);
    tf.dispose([m, iter]);
  });

  it('names both shapes when restored momentum does not fit the variable', async () => {
    const w = tf.variable(tf.zeros([2]), true, 'lars_fit/bias');
    const m = tf.zeros([3]);
    const iter = tf.scalar(1, 'int32');
    const g = tf.zeros([2]);
    const opt = new LARS({ learningRate: 0.1 });
    await opt.setWeights([
      { name: 'iter', tensor: iter },
      { name: 'lars_fit/bias/momentum', tensor: m },
    ]);
    expect(() => opt.applyGradients({ [w.name]: g })).toThrow(
      /momentum state of 'lars_fit\/bias' has shape \[3\] but the variable has shape \[2\]/,
    );
    tf.dispose([w, m, iter, g]);
    opt.dispose();
  });

  it('serialises its config and is registered with tfjs', () => {
    const opt = new LARS({ learningRate: 0.3, momentum: 0.8, weightDecay: 1e-4, eta: 2e-3 });
    const config = opt.getConfig();
    expect(config).toEqual({
      learningRate: 0.3,
      momentum: 0.8,
      weightDecay: 1e-4,
      eta: 2e-3,
      clip: false,
      exclude: 'excludeBiasAndNorm',
    });
    const entry = tf.serialization.SerializationMap.getMap().classNameMap['LARS'];
    expect(entry?.[0]).toBe(LARS);
    const copy = LARS.fromConfig(LARS, config);
    expect(copy).toBeInstanceOf(LARS);
    expect(copy.getConfig()).toEqual(config);
    const custom = new LARS({ learningRate: 1, exclude: () => false });
    expect(custom.getConfig().exclude).toBe('custom');
    expect(() => LARS.fromConfig(LARS, custom.getConfig())).toThrow(/exclude is "custom"/);
  });
});

describe('LARS on tfjs-layers weights', () => {
  it('sees weight.name (= weight.read().name) and excludes the bias and BatchNorm parameters', () => {
    const input = tfl.input({ shape: [3] });
    const dense = tfl.layers
      .dense({ units: 2, name: 'lars_layers_dense' })
      .apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers
      .batchNormalization({ name: 'lars_layers_bn' })
      .apply(dense) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const seen: Array<[string, boolean]> = [];
    const opt = new LARS({
      learningRate: 0.1,
      exclude: (name, shape) => {
        const ex = excludeBiasAndNorm(name, shape);
        seen.push([name, ex]);
        return ex;
      },
    });
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 3);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    expect(model.trainableWeights.map((w) => w.name)).toEqual(vars.map((v) => v.name));
    opt.minimize(
      () => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
      false,
      vars,
    );
    expect(seen).toEqual([
      [model.trainableWeights[0]?.name, false], // lars_layers_dense/kernel (maybe with a _N suffix)
      [model.trainableWeights[1]?.name, true], // lars_layers_dense/bias
      [model.trainableWeights[2]?.name, true], // lars_layers_bn/gamma
      [model.trainableWeights[3]?.name, true], // lars_layers_bn/beta
    ]);
    expect(seen[0]?.[0]).toMatch(/^lars_layers_dense\/kernel/);
    x.dispose();
    model.dispose();
    opt.dispose();
  });
});

describe('excludeBiasAndNorm', () => {
  it('excludes rank <= 1 parameters and bias/norm names, adapts kernels', () => {
    expect(excludeBiasAndNorm('proj_l0_dense/kernel', [8, 4])).toBe(false);
    expect(excludeBiasAndNorm('conv1/kernel', [3, 3, 3, 16])).toBe(false);
    expect(excludeBiasAndNorm('proj_l0_dense/bias', [4])).toBe(true);
    expect(excludeBiasAndNorm('bn/gamma', [4])).toBe(true);
    expect(excludeBiasAndNorm('scalar_param', [])).toBe(true);
    expect(excludeBiasAndNorm('some/bias_matrix', [2, 2])).toBe(true);
    expect(excludeBiasAndNorm('BatchNorm_3/scale', [1, 4])).toBe(true);
    expect(excludeBiasAndNorm('layer/Beta', [2, 2])).toBe(true);
  });
});
