/**
 * The three networks of E-DIY (DESIGN.md "The method, pinned down"): the online
 * network f (backbone, global projector + predictor, local projector + predictor), the
 * target g (an EMA copy of the backbone and both projectors, no gradient) and the
 * frozen teacher T that chooses region pairs.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { featureChannels, resnet } from '@ediy/backbones';
import {
  BYOL_PREDICTOR,
  BYOL_PROJECTOR,
  localMlp,
  mlp,
  scaleSpecs,
  type LayerSpec,
} from '@ediy/projectors';
import type { ExperimentConfig } from './config.js';

/**
 * Every network the trainer builds has `@ediy/backbones`' `FastBatchNormalization` layers
 * (tfjs-layers' BatchNorm is slow to train on wasm: see that class).
 */
const FAST_BN = { batchNormLayer: 'fast' } as const;

/**
 * The backbones' options: fast BatchNorm, each ReLU after a BatchNorm folded into it
 * (`fuseReLU`: the same weights and values, fewer kernel calls and passes over the maps),
 * and convolutions that pad inside themselves (`convLayer: 'fast'`: the same weights, no
 * padding copies, no input gradient for the stem).
 * @internal
 */
export const FAST_RESNET = { batchNormLayer: 'fast', fuseReLU: true, convLayer: 'fast' } as const;

/** The online network's modules. */
export interface OnlineNetwork {
  /** ResNet: outputs `[layer4 map, pooled vector]`. */
  backbone: LayersModel;
  /** Global projector on the pooled vector. */
  projector: LayersModel;
  /** Global predictor q on the projection. */
  predictor: LayersModel;
  /** Local projector: 1x1 convs on the layer4 map. */
  localProjector: LayersModel;
  /** Local predictor: 1x1 convs on the local projection (absent when `localPredictor` is false). */
  localPredictor?: LayersModel;
}

/** The target network: an EMA of the online backbone and projectors. */
export interface TargetNetwork {
  /** EMA of the online backbone. */
  backbone: LayersModel;
  /** EMA of the online global projector. */
  projector: LayersModel;
  /** EMA of the online local projector. */
  localProjector: LayersModel;
}

/**
 * The heads' layers: BYOL's projector and predictor (`@ediy/projectors`' presets,
 * Linear-BN-ReLU-Linear, the last Linear without bias) at the config's widths. The
 * local projector and predictor are the same layers as 1x1 convolutions.
 */
export function headSpecs(scale: ExperimentConfig['scale']): {
  projector: LayerSpec[];
  predictor: LayerSpec[];
} {
  return {
    projector: scaleSpecs(BYOL_PROJECTOR, scale.projector),
    predictor: scaleSpecs(BYOL_PREDICTOR, scale.projector),
  };
}

/**
 * Builds the online network, with seeded initialisation and every BatchNorm a
 * `FastBatchNormalization` (`@ediy/backbones`).
 */
export function buildOnline(config: ExperimentConfig, prefix = 'online'): OnlineNetwork {
  const { scale, seed } = config;
  const channels = featureChannels(scale.backbone);
  const specs = headSpecs(scale);
  const net: OnlineNetwork = {
    backbone: resnet({ ...scale.backbone, name: `${prefix}_backbone`, seed }, FAST_RESNET),
    projector: mlp(channels, specs.projector, {
      name: `${prefix}_projector`,
      seed: seed + 1,
      ...FAST_BN,
    }),
    predictor: mlp(scale.projector.out, specs.predictor, {
      name: `${prefix}_predictor`,
      seed: seed + 2,
      ...FAST_BN,
    }),
    localProjector: localMlp(channels, specs.projector, {
      name: `${prefix}_local_projector`,
      seed: seed + 3,
      ...FAST_BN,
    }),
  };
  if (config.method.localPredictor) {
    net.localPredictor = localMlp(scale.projector.out, specs.predictor, {
      name: `${prefix}_local_predictor`,
      seed: seed + 4,
      ...FAST_BN,
    });
  }
  return net;
}

/** Builds the target network as an exact copy of the online one's EMA'd modules (fast BatchNorm too). */
export function buildTarget(config: ExperimentConfig, online: OnlineNetwork): TargetNetwork {
  const { scale, seed } = config;
  const channels = featureChannels(scale.backbone);
  const specs = headSpecs(scale);
  const target: TargetNetwork = {
    backbone: resnet({ ...scale.backbone, name: 'target_backbone', seed }, FAST_RESNET),
    projector: mlp(channels, specs.projector, {
      name: 'target_projector',
      seed: seed + 1,
      ...FAST_BN,
    }),
    localProjector: localMlp(channels, specs.projector, {
      name: 'target_local_projector',
      seed: seed + 3,
      ...FAST_BN,
    }),
  };
  copyWeights(online.backbone, target.backbone);
  copyWeights(online.projector, target.projector);
  copyWeights(online.localProjector, target.localProjector);
  return target;
}

/** Copies every weight (trainable and BatchNorm statistics) of `from` into `to`. */
export function copyWeights(from: LayersModel, to: LayersModel): void {
  // getWeights returns the variables themselves (not copies): setWeights copies their values.
  to.setWeights(from.getWeights());
}

/** The trainable variables of a module list, in a stable order. */
export function trainableVariables(models: readonly LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

/** Disposes every model's weights. */
export function disposeModels(models: Iterable<LayersModel>): void {
  for (const m of models) m.dispose();
}
