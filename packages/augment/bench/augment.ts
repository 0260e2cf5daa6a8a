/**
 * Throughput of byolViews on the wasm backend: images per second (one image = both of
 * its views) for 64 images at 32 -> 32 px and 96 -> 64 px, with BYOL's view params at
 * the output size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { byolViewParams, byolViews } from '../src/index.js';

const info = await initBackend({ prefer: 'wasm' });
console.log(`backend ${info.name} on ${info.device}`);

for (const [input, output] of [
  [32, 32],
  [96, 64],
] as const) {
  const batch = 64;
  const images = tf.randomUniform([batch, input, input, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const views = byolViewParams(output);
  const rng = new Rng(0);
  const run = () => {
    const [a, b] = byolViews(images, rng, views);
    b.images.dataSync(); // wait for the backend
    tf.dispose([a.images, b.images]);
  };
  run(); // warm-up
  const reps = 5;
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const median = times[Math.floor(reps / 2)] as number;
  console.log(
    `byolViews ${batch} images ${input}x${input} -> ${output}x${output}: median ${median.toFixed(1)} ms/batch, ` +
      `${((batch * 1000) / median).toFixed(0)} images/s (min ${(times[0] as number).toFixed(1)} ms)`,
  );
  images.dispose();
}
