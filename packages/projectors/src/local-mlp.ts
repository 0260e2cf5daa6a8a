/**
 * The local projector/predictor: the same MLP applied to every region of a feature map.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { buildHead } from './build.js';
import type { LayerSpec, ProjectorOptions } from './spec.js';

/**
 * An MLP applied to every pixel of a feature map, mapping `[B, H, W, inputChannels]` to
 * `[B, H, W, last units]`: per spec, a 1x1 convolution, then BatchNorm (statistics over
 * B, H and W) if `norm: 'bn'`, then ReLU if `act: 'relu'`. H and W are left unknown,
 * so one model serves every map size. E-DIY's local projector is
 * `localMlp(2048, BYOL_PROJECTOR)` on ResNet-50's layer4 map.
 *
 * Pixel for pixel it computes what {@link mlp} with the same specs computes, given the
 * same weights (a Dense kernel [C, U] is the 1x1 kernel [1, 1, C, U] reshaped), and
 * with the same `seed` it starts from those same weights. In training mode its
 * BatchNorm uses the statistics `mlp` would compute on the [B*H*W, C] batch of all
 * regions of all images. The caller owns the model and every tensor it returns.
 *
 * @param inputChannels - channels C of the input map, an integer >= 1.
 * @param specs - the layers; see {@link LayerSpec}. Bad specs throw, naming the field.
 */
export function localMlp(
  inputChannels: number,
  specs: readonly LayerSpec[],
  options: ProjectorOptions = {},
): tfl.LayersModel {
  return buildHead(
    [null, null, inputChannels],
    inputChannels,
    specs,
    options,
    ({ units, ...args }) =>
      tfl.layers.conv2d({
        filters: units,
        kernelSize: 1,
        strides: 1,
        padding: 'valid',
        ...args,
        biasInitializer: 'zeros',
      }),
    'conv',
    'localMlp',
  );
}
