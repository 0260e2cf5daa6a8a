import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveToMemory } from './helpers.js';
import { initBackend, nativeEngineStatus } from '@ediy/backend';
import { FastConv2D, fastConv2d, isConv2D, resnet } from '@ediy/backbones';
import { exportTorchvisionWeights, importTorchvisionWeights } from '@ediy/backbones/interop';

// Plain wasm runs tfjs's convolution kernels; the native engine its oneDNN ones.
const BACKENDS = (await nativeEngineStatus()).available ? ['wasm', 'native'] : ['wasm'];

/** The largest |a - b| relative to the largest |a|. */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const scale = Math.max(tf.max(tf.abs(a)).dataSync()[0] as number, 1e-30);
    return (tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number) / scale;
  });
}

/** A model of a conv: tfjs's ZeroPadding2D + Conv2D, or one FastConv2D with `pad`. */
function convModel(
  kind: 'tfjs' | 'fast',
  inShape: number[],
  filters: number,
  kernel: number,
  stride: number,
  pad: number,
  seed: number,
): tfl.LayersModel {
  const input = tfl.input({ shape: inShape });
  const args = {
    name: 'conv',
    filters,
    kernelSize: kernel,
    strides: stride,
    useBias: false,
    kernelInitializer: tfl.initializers.glorotNormal({ seed }),
  };
  let out: tfl.SymbolicTensor;
  if (kind === 'fast') {
    out = fastConv2d({ ...args, pad }).apply(input) as tfl.SymbolicTensor;
  } else {
    const padded =
      pad > 0
        ? (tfl.layers.zeroPadding2d({ padding: [pad, pad] }).apply(input) as tfl.SymbolicTensor)
        : input;
    out = tfl.layers.conv2d(args).apply(padded) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: input, outputs: out });
}

/** Output, input gradient and kernel gradient of sum(conv(x) * w). */
function forwardBackward(model: tfl.LayersModel, x: tf.Tensor, w: tf.Tensor) {
  const kernel = model.trainableWeights[0]!.read() as tf.Variable;
  const f = (xi: tf.Tensor) => tf.sum(tf.mul(model.apply(xi) as tf.Tensor, w)) as tf.Scalar;
  const y = model.apply(x) as tf.Tensor;
  const dx = tf.grad(f)(x);
  const { grads, value } = tf.variableGrads(() => f(x), [kernel]);
  value.dispose();
  return { y, dx, dk: grads[kernel.name] as tf.Tensor };
}

describe.each(BACKENDS)('FastConv2D on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ prefer: backend as 'wasm' | 'native' });
  });

  it.each([
    ['3x3 stride 2, pad 1 (the strided ResNet conv)', [9, 9, 5], 6, 3, 2, 1],
    ['3x3 stride 2, pad 1, even input', [8, 8, 4], 5, 3, 2, 1],
    ['7x7 stride 2, pad 3 (the ImageNet stem)', [12, 12, 3], 4, 7, 2, 3],
    ['3x3 stride 1, pad 2', [6, 6, 3], 2, 3, 1, 2],
    ['1x1 stride 2, no padding', [7, 7, 6], 3, 1, 2, 0],
  ])(
    '%s: the outputs and gradients of ZeroPadding2D + Conv2D',
    (_, inShape, filters, kernel, stride, pad) => {
      const a = convModel('tfjs', inShape, filters, kernel, stride, pad, 3);
      const b = convModel('fast', inShape, filters, kernel, stride, pad, 3);
      expect(b.layers).toHaveLength(2);
      expect(b.layers[1]).toBeInstanceOf(FastConv2D);
      expect(b.outputs[0]!.shape).toEqual(a.outputs[0]!.shape);
      const x = tf.randomNormal([2, ...inShape], 0, 1, 'float32', 4);
      const w = tf.randomNormal(
        a.outputs[0]!.shape.map((d) => d ?? 2),
        0,
        1,
        'float32',
        5,
      );
      const ra = forwardBackward(a, x, w);
      const rb = forwardBackward(b, x, w);
      expect(rb.y.shape).toEqual(ra.y.shape);
      expect(relDiff(ra.y, rb.y)).toBeLessThan(1e-5);
      expect(relDiff(ra.dx, rb.dx)).toBeLessThan(1e-5);
      expect(relDiff(ra.dk, rb.dk)).toBeLessThan(1e-5);
      // The padding acted: the same conv without it gives another output shape.
      if (pad > 0) {
        const c = convModel('fast', inShape, filters, kernel, stride, 0, 3);
        expect(c.outputs[0]!.shape).not.toEqual(b.outputs[0]!.shape);
        c.dispose();
      }
      tf.dispose([x, w, ra.y, ra.dx, ra.dk, rb.y, rb.dx, rb.dk]);
      a.dispose();
      b.dispose();
    },
  );

  it("without pad, with 'same' or 'valid': the bits of tfjs's Conv2D (to rounding with a bias and a ReLU)", () => {
    for (const [padding, useBias] of [
      ['same', false],
      ['valid', false],
      ['same', true],
      ['valid', true],
    ] as const) {
      const make = (fast: boolean) => {
        const input = tfl.input({ shape: [7, 7, 3] });
        const args = {
          filters: 4,
          kernelSize: 3,
          strides: 1,
          padding,
          useBias,
          activation: useBias ? ('relu' as const) : ('linear' as const),
          kernelInitializer: tfl.initializers.glorotNormal({ seed: 6 }),
          biasInitializer: tfl.initializers.randomNormal({ seed: 7 }),
        };
        const layer = fast ? fastConv2d(args) : tfl.layers.conv2d(args);
        return tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
      };
      const a = make(false);
      const b = make(true);
      const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 8);
      const ya = a.predict(x) as tf.Tensor;
      const yb = b.predict(x) as tf.Tensor;
      if (useBias) {
        // tfjs fuses the bias and the ReLU into the convolution outside a gradient tape; the
        // FastConv2D adds them as their own ops (as tfjs does under a tape): rounding apart.
        expect(tf.sum(tf.equal(yb, 0)).dataSync()[0], 'the ReLU acted').toBeGreaterThan(0);
        expect(relDiff(ya, yb), padding).toBeLessThan(1e-6);
      } else {
        expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0], padding).toBe(0);
      }
      tf.dispose([x, ya, yb]);
      a.dispose();
      b.dispose();
    }
  });

  it('saves pad in its configuration and loads it back', async () => {
    const model = convModel('fast', [9, 9, 3], 4, 3, 2, 1, 9);
    const saved = await saveToMemory(model);
    expect(JSON.stringify(saved.modelTopology)).toContain('"class_name":"FastConv2D"');
    expect(JSON.stringify(saved.modelTopology)).toContain('"pad":1');
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    expect((loaded.layers[1] as FastConv2D).pad).toBe(1);
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 10);
    const ya = model.predict(x) as tf.Tensor;
    const yb = loaded.predict(x) as tf.Tensor;
    expect(yb.shape).toEqual([2, 5, 5, 4]);
    expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]).toBe(0);
    tf.dispose([x, ya, yb]);
    model.dispose();
    loaded.dispose();
  });

  it('lets resnet() pad inside its convolutions: the same weights, results to rounding, no stem input gradient', async () => {
    const config = { depth: 18, stem: 'small', widthMultiplier: 1 / 16, seed: 4 } as const;
    const options = { batchNormLayer: 'fast', fuseReLU: true } as const;
    const plain = resnet(config, options);
    const fast = resnet(config, { ...options, convLayer: 'fast' });
    const weights = (m: tfl.LayersModel) => m.weights.map((w) => [w.originalName, w.shape]);
    expect(weights(fast)).toEqual(weights(plain));
    plain.weights.forEach((w, i) => {
      expect(relDiff(w.read(), fast.weights[i]!.read()), w.originalName).toBe(0);
    });
    const names = fast.layers.map((l) => l.name);
    expect(names.filter((n) => n.endsWith('.pad'))).toEqual([]);
    expect(plain.layers.map((l) => l.name)).toContain('layer2.0.conv1.pad');
    expect(fast.layers.filter(isConv2D)).toHaveLength(plain.layers.filter(isConv2D).length);
    expect(fast.layers.length).toBe(plain.layers.length - 3);
    const x = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 11);
    for (const training of [false, true]) {
      const a = plain.apply(x, { training }) as tf.Tensor[];
      const b = fast.apply(x, { training }) as tf.Tensor[];
      expect(b[0]!.shape).toEqual(a[0]!.shape);
      expect(relDiff(a[0]!, b[0]!), `training ${training}`).toBeLessThan(1e-4);
      tf.dispose([...a, ...b]);
    }
    const loss = (m: tfl.LayersModel) => () =>
      tf.sum(tf.square((m.apply(x, { training: true }) as tf.Tensor[])[0]!)) as tf.Scalar;
    const gradients = async (m: tfl.LayersModel) => {
      let grads: tf.NamedTensorMap = {};
      const profile = await tf.profile(() => {
        const r = tf.variableGrads(
          loss(m),
          m.trainableWeights.map((v) => v.read() as tf.Variable),
        );
        r.value.dispose();
        grads = r.grads;
        return Object.values(grads);
      });
      const inputGrads = profile.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length;
      return { grads: Object.values(grads), inputGrads };
    };
    const ga = await gradients(plain);
    const gb = await gradients(fast);
    expect(gb.grads).toHaveLength(ga.grads.length);
    ga.grads.forEach((g, i) => expect(relDiff(g, gb.grads[i]!)).toBeLessThan(1e-3));
    // Twenty convolutions; the stem's input (the image) needs no gradient.
    expect(ga.inputGrads).toBe(20);
    expect(gb.inputGrads).toBe(19);
    // torchvision weights move across as from the plain network.
    const exported = exportTorchvisionWeights(fast, config);
    importTorchvisionWeights(plain, exported);
    tf.dispose([x, ...ga.grads, ...gb.grads]);
    plain.dispose();
    fast.dispose();
  });

  it('names a bad pad, padding or input', () => {
    expect(() => fastConv2d({ filters: 2, kernelSize: 3, pad: -1 })).toThrow(
      'FastConv2D: pad must be a whole number >= 0, got -1',
    );
    expect(() => fastConv2d({ filters: 2, kernelSize: 3, pad: 1.5 })).toThrow(
      'FastConv2D: pad must be a whole number >= 0, got 1.5',
    );
    expect(() => fastConv2d({ filters: 2, kernelSize: 3, pad: 1, padding: 'same' })).toThrow(
      `FastConv2D: pad 1 needs padding 'valid' (the explicit padding replaces it), got "same"`,
    );
    expect(() => fastConv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' })).toThrow(
      `FastConv2D: dataFormat must be 'channelsLast', got "channelsFirst"`,
    );
    expect(() =>
      resnet({ depth: 18, stem: 'small' }, { convLayer: 'slow' as unknown as 'fast' }),
    ).toThrow(`resnet: options.convLayer must be 'tfjs' or 'fast', got "slow"`);
  });
});
