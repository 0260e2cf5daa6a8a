/**
 * Time of one LARS step against tfjs's plain momentum optimiser on the same
 * parameters: a ResNet-18-shaped parameter set at width 1/4 (kernels, biases and
 * BatchNorm vectors), on the wasm backend. Prints milliseconds per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@ediy/backend';
import { LARS } from '@ediy/optim';

const info = await initBackend({ prefer: 'wasm' });

/** ResNet-18 parameter shapes (3x3 convs per stage, BN gamma/beta per conv) at width w. */
function resnet18Shapes(w: number): Array<[string, number[]]> {
  const shapes: Array<[string, number[]]> = [['stem/kernel', [7, 7, 3, 64 * w]]];
  let cin = 64 * w;
  [64, 128, 256, 512].forEach((c, s) => {
    const cout = c * w;
    for (let b = 0; b < 2; b++) {
      shapes.push(
        [`s${s}b${b}/conv1/kernel`, [3, 3, cin, cout]],
        [`s${s}b${b}/conv2/kernel`, [3, 3, cout, cout]],
      );
      shapes.push([`s${s}b${b}/bn1/gamma`, [cout]], [`s${s}b${b}/bn1/beta`, [cout]]);
      shapes.push([`s${s}b${b}/bn2/gamma`, [cout]], [`s${s}b${b}/bn2/beta`, [cout]]);
      cin = cout;
    }
  });
  return shapes;
}

const shapes = resnet18Shapes(0.25);
const vars = shapes.map(([name, shape], i) =>
  tf.variable(tf.randomNormal(shape, 0, 0.05, 'float32', i), true, `bench/${name}`),
);
const grads = Object.fromEntries(
  vars.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 0.01, 'float32', 1000 + i)]),
);
const params = vars.reduce((s, v) => s + v.size, 0);

function time(opt: tf.Optimizer, steps: number): number {
  opt.applyGradients(grads); // warm-up: allocates state
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) opt.applyGradients(grads);
  vars[0]?.dataSync();
  return (performance.now() - t0) / steps;
}

const steps = 20;
const lars = new LARS({ learningRate: 0.1 });
const momentum = tf.train.momentum(0.1, 0.9);
const larsMs = time(lars, steps);
const momentumMs = time(momentum, steps);
console.log(`backend ${info.name}; ${vars.length} variables, ${params} parameters, ${steps} steps`);
console.log(`LARS step:     ${larsMs.toFixed(2)} ms`);
console.log(`momentum step: ${momentumMs.toFixed(2)} ms (tf.train.momentum, for reference)`);
lars.dispose();
momentum.dispose();
tf.dispose([...vars, ...Object.values(grads)]);
