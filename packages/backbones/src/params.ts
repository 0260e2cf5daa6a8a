/**
 * Parameter counting.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';

/**
 * The number of trainable scalars of a model: conv kernels and BN gamma/beta for a
 * {@link resnet}, i.e. torchvision's `sum(p.numel() for p in model.parameters())` without
 * `fc` (BN running statistics are buffers in PyTorch and non-trainable weights in tfjs, so
 * neither counts them). ResNet-18: 11,176,512; ResNet-34: 21,284,672; ResNet-50: 23,508,032.
 */
export function trainableParameterCount(model: LayersModel): number {
  let n = 0;
  for (const w of model.trainableWeights) n += w.shape.reduce<number>((a, b) => a * (b ?? 0), 1);
  return n;
}
