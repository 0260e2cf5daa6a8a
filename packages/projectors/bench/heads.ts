/**
 * Forward and forward+backward time of the heads on the wasm backend: a `mini`-sized
 * global and local projector, and BYOL's full-size local projector on a ResNet-50
 * layer4 map. Prints milliseconds per call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@ediy/backend';
import { BYOL_PROJECTOR, localMlp, mlp, scaleSpecs } from '@ediy/projectors';

const info = await initBackend({ prefer: 'wasm' });

function time(label: string, model: tfl.LayersModel, x: tf.Tensor, reps: number): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const forward = () => tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).dataSync());
  const backward = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        vars,
      );
      Object.values(grads).forEach((g) => g.dataSync());
    });
  forward();
  backward();
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) forward();
  const fwd = (performance.now() - t0) / reps;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) backward();
  const both = (performance.now() - t0) / reps;
  console.log(
    `${label.padEnd(46)} ${model.countParams().toString().padStart(9)} params  forward ${fwd.toFixed(1).padStart(7)} ms  forward+backward ${both.toFixed(1).padStart(7)} ms`,
  );
}

console.log(`backend ${info.name}`);
const mini = scaleSpecs(BYOL_PROJECTOR, { hidden: 512, out: 128 });
const cases: Array<[string, tfl.LayersModel, tf.Tensor, number]> = [
  ['mini global mlp(256), x [64,256]', mlp(256, mini, { seed: 1 }), tf.randomNormal([64, 256]), 10],
  [
    'mini localMlp(256), x [16,4,4,256]',
    localMlp(256, mini, { seed: 2 }),
    tf.randomNormal([16, 4, 4, 256]),
    10,
  ],
  [
    'BYOL localMlp(2048), x [2,7,7,2048]',
    localMlp(2048, BYOL_PROJECTOR, { seed: 3 }),
    tf.randomNormal([2, 7, 7, 2048]),
    2,
  ],
];
for (const [label, model, x, reps] of cases) {
  time(label, model, x, reps);
  x.dispose();
  model.dispose();
}
