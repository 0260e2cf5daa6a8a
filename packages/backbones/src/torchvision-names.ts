/**
 * The torchvision ResNet state-dict keys of a config, in torchvision's order, and the
 * tfjs layer and weight each maps to.
 */
import { resolveResNetConfig } from './config.js';
import type { ResNetConfig } from './config.js';

/** The tfjs weight a torchvision parameter maps to (`null`: a torch-only buffer). */
export type TfjsWeightName =
  'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

/** One entry of a torchvision state dict. */
export interface TorchvisionKey {
  /** The state-dict key, e.g. `layer1.0.bn1.running_var`. */
  key: string;
  /** The tfjs layer holding it: the key without its last component, e.g. `layer1.0.bn1`. */
  layer: string;
  /** The tfjs weight it maps to, or `null` for `num_batches_tracked`. */
  weight: TfjsWeightName | null;
  /** The PyTorch shape (conv weights OIHW; the tfjs kernel is HWIO). */
  shape: number[];
}

/**
 * The keys of torchvision's `resnet<depth>().state_dict()` without `fc.*`, in its order,
 * for a (possibly narrower) ResNet: `conv1.weight`, `bn1.{weight,bias,running_mean,running_var,
 * num_batches_tracked}`, then per block `layerS.B.conv1.weight`, `layerS.B.bn1.*`, ...,
 * `layerS.B.downsample.0.weight`, `layerS.B.downsample.1.*`.
 *
 * Mapping: `<m>.weight` of a conv is the kernel of layer `<m>` (OIHW <-> HWIO); of a BN,
 * `weight` -> gamma, `bias` -> beta, `running_mean` -> moving_mean, `running_var` ->
 * moving_variance; `num_batches_tracked` has no tfjs counterpart.
 */
export function torchvisionStateKeys(config: ResNetConfig): TorchvisionKey[] {
  const c = resolveResNetConfig(config);
  const keys: TorchvisionKey[] = [];
  const conv = (layer: string, out: number, inp: number, k: number): void => {
    keys.push({ key: `${layer}.weight`, layer, weight: 'kernel', shape: [out, inp, k, k] });
  };
  const bn = (layer: string, ch: number): void => {
    keys.push({ key: `${layer}.weight`, layer, weight: 'gamma', shape: [ch] });
    keys.push({ key: `${layer}.bias`, layer, weight: 'beta', shape: [ch] });
    keys.push({ key: `${layer}.running_mean`, layer, weight: 'moving_mean', shape: [ch] });
    keys.push({ key: `${layer}.running_var`, layer, weight: 'moving_variance', shape: [ch] });
    keys.push({ key: `${layer}.num_batches_tracked`, layer, weight: null, shape: [] });
  };
  conv('conv1', c.baseWidth, 3, c.stem === 'imagenet' ? 7 : 3);
  bn('bn1', c.baseWidth);
  let channels = c.baseWidth;
  for (let stage = 0; stage < 4; stage++) {
    const width = c.baseWidth * 2 ** stage;
    const out = width * c.expansion;
    for (let i = 0; i < (c.blocks[stage] as number); i++) {
      const p = `layer${stage + 1}.${i}`;
      if (c.block === 'basic') {
        conv(`${p}.conv1`, width, channels, 3);
        bn(`${p}.bn1`, width);
        conv(`${p}.conv2`, width, width, 3);
        bn(`${p}.bn2`, width);
      } else {
        conv(`${p}.conv1`, width, channels, 1);
        bn(`${p}.bn1`, width);
        conv(`${p}.conv2`, width, width, 3);
        bn(`${p}.bn2`, width);
        conv(`${p}.conv3`, out, width, 1);
        bn(`${p}.bn3`, out);
      }
      const stride = stage > 0 && i === 0 ? 2 : 1;
      if (stride !== 1 || channels !== out) {
        conv(`${p}.downsample.0`, out, channels, 1);
        bn(`${p}.downsample.1`, out);
      }
      channels = out;
    }
  }
  return keys;
}
