/**
 * Backbones that are not run folders, as `ediy export` writes them: a TF.js Layers model
 * (`model.json` + `weights.bin`, its default format) or a torchvision ResNet state dict in
 * safetensors (`--format torchvision`, or a file PyTorch wrote). Either becomes a ResNet of
 * `@ediy/backbones` with the architecture read off the weights (depth, stem and width,
 * as `inferTorchvisionConfig` reads them), so the page runs, pairs and trains it as a
 * run's backbone. Browser-safe: the page calls these on files the user picks, the server
 * on paths given to `ediy view --backbone` / `--teacher`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isConv2D, resnet } from '@ediy/backbones';
import {
  describeResNetConfig,
  importTorchvisionWeights,
  inferTorchvisionConfig,
  readSafetensors,
  writeSafetensors,
  type SafeTensor,
} from '@ediy/backbones/interop';
import type { ViewerBackbone } from './site.js';

/** The two formats of a backbone file, as `ediy export --format` names them. */
export type ModelFormat = 'tfjs' | 'torchvision';

/** A backbone read from an exported model. */
export interface ImportedBackbone {
  /** The ResNet, in inference mode (the caller disposes it). */
  model: LayersModel;
  /** Its architecture, read off the weights. */
  backbone: ViewerBackbone;
  /** The format it was read from. */
  format: ModelFormat;
}

function toViewerBackbone(config: ReturnType<typeof inferTorchvisionConfig>): ViewerBackbone {
  return {
    depth: config.depth,
    stem: config.stem,
    widthMultiplier: config.widthMultiplier ?? 1,
  };
}

/**
 * The architecture of a Layers model built by `resnet` (and saved by `ediy export`): its
 * conv layers carry torchvision's names (`conv1`, `layer1.0.conv1`, ...), so their kernel
 * shapes, read as torchvision's OIHW, give the depth, the stem and the width.
 * @throws naming `source` and what was expected when it is not such a ResNet.
 */
export function layersModelBackbone(model: LayersModel, source: string): ViewerBackbone {
  const shapes: Record<string, SafeTensor> = {};
  for (const layer of model.layers) {
    if (!isConv2D(layer)) continue;
    const kernel = layer.weights.find((w) => w.originalName.endsWith('/kernel'));
    if (!kernel || kernel.shape.length !== 4) continue;
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    shapes[`${layer.name}.weight`] = {
      dtype: 'F32',
      shape: [cout, cin, kh, kw],
      data: new Float32Array(0),
    };
  }
  try {
    return toViewerBackbone(inferTorchvisionConfig(shapes));
  } catch (err) {
    throw new Error(
      `${source}: not a ResNet of ediy (as 'ediy export' writes it): ${(err as Error).message.replace(/state dict/g, 'model')}`,
      { cause: err },
    );
  }
}

/**
 * Copies a Layers model saved from a `resnet` (loaded with `tf.loadLayersModel`, or
 * `loadModelFromDir` in Node) into a fresh `resnet` of the same architecture named
 * `name`, layer by layer; `loaded` is not changed (the caller still owns it).
 * @throws naming `source` when it is not such a ResNet, or a layer's weights differ in
 *   shape or number from what the architecture needs.
 */
export function backboneFromLayersModel(
  loaded: LayersModel,
  source: string,
  name: string,
): ImportedBackbone {
  const backbone = layersModelBackbone(loaded, source);
  const model = resnet({ ...backbone, name, seed: 0 });
  try {
    if (loaded.outputs.length !== 2)
      throw new Error(
        `${source}: expected a backbone with two outputs [layer4 map, pooled] (as 'ediy export' writes it), the model has ${loaded.outputs.length}`,
      );
    for (const layer of model.layers) {
      if (layer.weights.length === 0) continue;
      let from;
      try {
        from = loaded.getLayer(layer.name);
      } catch {
        throw new Error(
          `${source}: layer '${layer.name}' missing; a ${describeResNetConfig(backbone)} has it`,
        );
      }
      const values = from.getWeights();
      const want = layer.weights.map((w) => w.shape);
      if (
        values.length !== want.length ||
        values.some((v, i) => v.shape.join(',') !== want[i]?.join(','))
      )
        throw new Error(
          `${source}: layer '${layer.name}' has weights ${values.map((v) => `[${v.shape.join(',')}]`).join(' ')}; a ${describeResNetConfig(backbone)} needs ${want.map((s) => `[${s.join(',')}]`).join(' ')}`,
        );
      layer.setWeights(values);
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  model.trainable = false;
  return { model, backbone, format: 'tfjs' };
}

/**
 * A torchvision ResNet state dict in safetensors (`ediy export --format torchvision`, or
 * `safetensors.torch.save_file(resnet.state_dict(), ...)` in PyTorch) as a `resnet` named
 * `name`: the architecture is read off its keys and shapes, then every conv and
 * BatchNorm tensor is imported (strict; `fc.*` and `num_batches_tracked` are ignored).
 * @throws naming `source` and what was expected: not a safetensors file, not a
 *   torchvision ResNet (a prefix such as `module.`, another architecture), missing keys.
 */
export function backboneFromTorchvision(
  bytes: Uint8Array,
  source: string,
  name: string,
): ImportedBackbone {
  const state = readSafetensors(bytes, source);
  let backbone: ViewerBackbone;
  try {
    backbone = toViewerBackbone(inferTorchvisionConfig(state));
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
  const model = resnet({ ...backbone, name, seed: 0 });
  try {
    importTorchvisionWeights(model, state);
  } catch (err) {
    model.dispose();
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
  model.trainable = false;
  return { model, backbone, format: 'torchvision' };
}

/**
 * A backbone's weights as the page fetches them (see `ViewerWeights`): a safetensors
 * file holding tensors `0`, `1`, ... in the `weights` order of a trainable `resnet` (as
 * a checkpoint stores them; a frozen model lists its weights in another order).
 */
export function backboneWeightsFile(model: LayersModel): { bytes: Uint8Array; count: number } {
  const tensors = new Map<string, SafeTensor>();
  const frozen = !model.trainable;
  model.trainable = true;
  const weights = model.weights;
  if (frozen) model.trainable = false;
  weights.forEach((w, i) => {
    const data = tf.tidy(() => w.read().dataSync()) as Float32Array;
    tensors.set(String(i), { dtype: 'F32', shape: w.shape.slice() as number[], data });
  });
  return { bytes: writeSafetensors(tensors), count: weights.length };
}
