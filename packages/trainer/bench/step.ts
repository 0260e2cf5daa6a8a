/**
 * Images/s of one E-DIY training step (ResNet-18 small-image stem, width 32, 32 px views,
 * batch 64: two views, frozen teacher, EMA target, online forward + backward, LARS, EMA)
 * on the chosen backend, beside the PyTorch peer of the same step
 * (shared/bench/torch_ediy_step.py) run in a child process.
 *
 * Usage: npm run bench -- [--backend wasm] [--batch 64] [--width 32] [--size 32] [--steps 3]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend, Rng, type BackendPreference } from '@ediy/backend';
import { byolViewParams } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { LARS, emaUpdate } from '@ediy/optim';
import { buildOnline, buildTarget, emaPairs, microStep, resolveExperiment, type RowConfig } from '@ediy/trainer';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    steps: { type: 'string', default: '3' },
  },
});
const batch = Number(values.batch);
const width = Number(values.width);
const size = Number(values.size);
const steps = Number(values.steps);

const info = await initBackend({ prefer: values.backend as BackendPreference });
const row: RowConfig = {
  name: 'bench',
  method: {
    byolWeight: 1,
    regionLosses: [
      { loss: 'r-dem', weight: 1, matcher: 'teacher' },
      { loss: 'r-iem', weight: 1, matcher: 'teacher' },
    ],
    localPredictor: true,
  },
};
// The peer's heads: hidden 4 x C, out C / 2 for C = 8 x width layer4 channels.
const channels = 8 * width;
const config = resolveExperiment(row, {
  preset: 'mini',
  scale: {
    backbone: { depth: 18, stem: 'small', widthMultiplier: width / 64 },
    projector: { hidden: 4 * channels, out: channels / 2 },
    imageSize: size,
    batchSize: batch,
  },
});
const online = buildOnline(config);
const target = buildTarget(config, online);
const teacher = resnet({ ...config.scale.backbone, name: 'teacher', seed: 9 });
const optimizer = new LARS({ learningRate: 0.1 });
const views = byolViewParams(size, { scaleBlurSigma: true });
const images = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const rng = new Rng(0);

function step(i: number): void {
  const { grads } = microStep(config, { online, target, teacher }, images, rng.fork(`s${i}`), views);
  optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  for (const [from, to] of emaPairs(online, target)) {
    emaUpdate(
      to.trainableWeights.map((w) => w.read() as tf.Variable),
      from.trainableWeights.map((w) => w.read() as tf.Variable),
      0.996,
    );
  }
}

step(0); // warm-up: kernel compilation, allocation
const t0 = performance.now();
for (let i = 1; i <= steps; i++) step(i);
const ms = (performance.now() - t0) / steps;
const ours = batch / (ms / 1000);
console.log(`ediy ${info.name} (${info.package}) width=${width} batch=${batch} size=${size} ediy=true: ${ms.toFixed(1)} ms/step, ${ours.toFixed(1)} images/s`);

const peer = fileURLToPath(new URL('../../../../shared/bench/torch_ediy_step.py', import.meta.url));
if (!existsSync(peer)) {
  console.log(`PyTorch peer not found at ${peer}: ratio not measured`);
} else {
  // Debian's python3-torch lives in the system interpreter, which may not be first on PATH.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  try {
    const out = execFileSync(python, [peer, '--width', String(width), '--batch', String(batch), '--size', String(size), '--steps', String(steps), '--threads', '2', '--ediy'], { encoding: 'utf8' }).trim();
    console.log(out);
    const m = /([\d.]+) images\/s/.exec(out);
    if (m) console.log(`ratio ediy/torch: ${(ours / Number(m[1])).toFixed(3)}`);
  } catch (err) {
    console.log(`PyTorch peer failed (python3-torch installed? apt-get install python3-torch): ${(err as Error).message.split('\n')[0]}`);
  }
}
