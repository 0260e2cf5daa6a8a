/**
 * The trainer's former home of the fast BatchNorm. The networks the trainer builds now
 * have `@ediy/backbones`' `FastBatchNormalization` layers (built by `resnet()`, `mlp()` and
 * `localMlp()` with `batchNormLayer: 'fast'`); these exports remain for code written
 * against the trainer's earlier API.
 */
import * as backbones from '@ediy/backbones';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** @deprecated Moved to `@ediy/backbones`; import `BatchNormTrainingResult` from there. */
export type BatchNormTrainingResult = backbones.BatchNormTrainingResult;
/** @deprecated Moved to `@ediy/backbones`; import `batchNormTraining` from there. */
export const batchNormTraining = backbones.batchNormTraining;
/** @deprecated Moved to `@ediy/backbones`; import `channelAffine` from there. */
export const channelAffine = backbones.channelAffine;
/** @deprecated Moved to `@ediy/backbones`; import `channelMeans` from there. */
export const channelMeans = backbones.channelMeans;

const PATCHED = Symbol('ediy.fastBatchNorm');

/**
 * Makes every tfjs-layers `BatchNormalization` layer of `model` with centre and scale compute as a
 * `FastBatchNormalization` by replacing its `call` method on the live object. Calling it
 * again on the same model changes nothing.
 * @deprecated Build networks with `FastBatchNormalization` layers instead (`resnet(config,
 * { batchNormLayer: 'fast' })`, `mlp(..., { batchNormLayer: 'fast' })`), or convert a loaded
 * model with `withFastBatchNorm(model)` from `@ediy/backbones`.
 * @returns the number of layers changed by this call.
 */
export function useFastBatchNorm(model: LayersModel): number {
  let changed = 0;
  const fastCall = backbones.FastBatchNormalization.prototype.call;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const bn = layer as typeof layer & { [PATCHED]?: true; center: boolean; scale: boolean };
    if (bn[PATCHED] || !bn.center || !bn.scale) continue;
    // FastBatchNormalization's call reads the fields every BatchNormalization has, and
    // falls back to BatchNormalization's own call where it does not apply.
    bn.call = (inputs, kwargs) =>
      fastCall.call(bn as unknown as backbones.FastBatchNormalization, inputs, kwargs);
    bn[PATCHED] = true;
    changed += 1;
  }
  return changed;
}
