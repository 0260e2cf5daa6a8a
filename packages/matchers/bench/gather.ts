/**
 * Cost of gatherRegions (one-hot batched matmul) against tf.gather, forward and
 * forward+backward, on wasm, for region grids of 4x4 and 7x7 (N = 16 and 49).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@ediy/backend';
import { gatherRegions } from '@ediy/matchers';

function time(fn: () => void, repeats: number): number {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) fn();
  return (performance.now() - t0) / repeats;
}

const info = await initBackend({ prefer: 'wasm' });
console.log(`gatherRegions on ${info.name}; B=64, C=256, M=N; ms per call (mean of 20)`);
console.log('N   | gather fwd | oneHot fwd | oneHot fwd+bwd | gather fwd+bwd');
for (const n of [16, 49]) {
  const f = tf.randomNormal([64, n, 256]) as tf.Tensor3D;
  const raw = Array.from({ length: 64 * n }, (_, i) => (i * 7919) % n);
  const idx = tf.tensor2d(raw, [64, n], 'int32');
  // tf.gather over the flattened [B*N, C] rows (batchDims 0)
  const flatIdx = tf.tensor1d(
    raw.map((z, i) => Math.floor(i / n) * n + z),
    'int32',
  );
  const flat = tf.reshape(f, [64 * n, 256]);
  const fwdGather = time(() => tf.tidy(() => void tf.gather(flat, flatIdx).dataSync()), 20);
  const fwdHot = time(
    () => tf.tidy(() => void gatherRegions(f, idx, { checkRange: false }).dataSync()),
    20,
  );
  const loss = (x: tf.Tensor): tf.Scalar =>
    tf.sum(gatherRegions(x as tf.Tensor3D, idx, { checkRange: false }));
  const bwdHot = time(() => tf.tidy(() => void tf.grad(loss)(f).dataSync()), 20);
  let bwdGather = 'n/a (no UnsortedSegmentSum)';
  try {
    bwdGather = time(
      () =>
        tf.tidy(
          () =>
            void tf
              .grad((x: tf.Tensor) => tf.sum(tf.gather(x, flatIdx)))(flat)
              .dataSync(),
        ),
      20,
    ).toFixed(2);
  } catch {
    // wasm without UnsortedSegmentSum cannot differentiate tf.gather
  }
  console.log(
    `${String(n).padEnd(3)} | ${fwdGather.toFixed(2).padStart(10)} | ${fwdHot.toFixed(2).padStart(10)} | ${bwdHot
      .toFixed(2)
      .padStart(14)} | ${bwdGather}`,
  );
  tf.dispose([f, idx, flatIdx, flat]);
}
