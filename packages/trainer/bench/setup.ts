/**
 * The E-DIY step the benchmarks time: ResNet-18 small-image stem at a given width,
 * heads as the PyTorch peer's (hidden 4 x C, out C / 2 for C = 8 x width), a frozen
 * teacher, teacher-guided R-DEM + R-IEM and BYOL, on a fixed batch of random images.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { byolViewParams, type ViewParams } from '@ediy/augment';
import { resnet } from '@ediy/backbones';
import { LARS, emaUpdate } from '@ediy/optim';
import { useFastTransposedMatMul } from '@ediy/backend';
import {
  buildOnline,
  buildTarget,
  resolveExperiment,
  type ExperimentConfig,
  type OnlineNetwork,
  type RowConfig,
  type TargetNetwork,
} from '@ediy/trainer';
import { FAST_RESNET, emaPairs } from '@ediy/trainer/internal';

/** Sizes of the benchmarked step. */
export interface BenchShape {
  batch: number;
  width: number;
  size: number;
}

/** Everything one benchmarked step needs. */
export interface BenchSetup {
  config: ExperimentConfig;
  online: OnlineNetwork;
  target: TargetNetwork;
  teacher: LayersModel;
  optimizer: LARS;
  views: readonly [ViewParams, ViewParams];
  images: tf.Tensor4D;
  /** LARS on the gradients (disposed here), then the EMA of the target. */
  update(grads: tf.NamedTensorMap): void;
  dispose(): void;
}

/** The benchmark's row: BYOL + teacher-guided R-DEM and R-IEM with a local predictor. */
export const BENCH_ROW: RowConfig = {
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

/** Builds the benchmarked networks and a batch (after `initBackend`). */
export function benchSetup({ batch, width, size }: BenchShape): BenchSetup {
  useFastTransposedMatMul();
  const channels = 8 * width;
  const config = resolveExperiment(BENCH_ROW, {
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
  // Built as the trainer builds a run's teacher (loadTeacher).
  const teacher = resnet({ ...config.scale.backbone, name: 'teacher', seed: 9 }, FAST_RESNET);
  const optimizer = new LARS({ learningRate: 0.1 });
  const views = byolViewParams(size, { scaleBlurSigma: true });
  const images = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  return {
    config,
    online,
    target,
    teacher,
    optimizer,
    views,
    images,
    update(grads) {
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
      for (const [from, to] of emaPairs(online, target)) {
        emaUpdate(
          to.trainableWeights.map((w) => w.read() as tf.Variable),
          from.trainableWeights.map((w) => w.read() as tf.Variable),
          0.996,
        );
      }
    },
    dispose() {
      for (const m of [
        online.backbone,
        online.projector,
        online.predictor,
        online.localProjector,
        online.localPredictor,
        target.backbone,
        target.projector,
        target.localProjector,
        teacher,
      ])
        m?.dispose();
      optimizer.dispose();
      images.dispose();
    },
  };
}
