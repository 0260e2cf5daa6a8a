/**
 * Reading the architecture off a torchvision ResNet state dict's keys and shapes.
 */
import type { ResNetConfig, ResNetDepth } from './config.js';
import type { SafeTensor, StateDict } from './safetensors.js';

const DEPTHS: { depth: ResNetDepth; block: 'basic' | 'bottleneck'; blocks: string }[] = [
  { depth: 18, block: 'basic', blocks: '2,2,2,2' },
  { depth: 34, block: 'basic', blocks: '3,4,6,3' },
  { depth: 50, block: 'bottleneck', blocks: '3,4,6,3' },
];

/**
 * The {@link ResNetConfig} (depth, stem, width multiplier) a torchvision-style ResNet state
 * dict implies, read from its keys and shapes: `conv1.weight` `[w, 3, k, k]` gives the base
 * width `w` (width multiplier `w / 64`) and the stem (`k` 7: `imagenet`, 3: `small`); the
 * number of `layerS.B.conv1.weight` per stage and the presence of `conv3` give the depth
 * (basic 2,2,2,2: 18; basic 3,4,6,3: 34; bottleneck 3,4,6,3: 50). Only the keys needed for
 * that are read; {@link importTorchvisionWeights} checks all of them.
 * @throws naming what is missing or unsupported, e.g. a state dict without `conv1.weight`
 *   (not a torchvision ResNet: a prefix such as `module.encoder_q.` or another architecture),
 *   or a ResNet-101's blocks 3,4,23,3.
 */
export function inferTorchvisionConfig(
  state: StateDict | Readonly<Record<string, SafeTensor>>,
): ResNetConfig {
  const keys = new Set(state instanceof Map ? state.keys() : Object.keys(state));
  const shapeOf = (key: string): number[] | undefined => {
    const t = state instanceof Map ? state.get(key) : state[key];
    return t && Array.isArray(t.shape) ? t.shape : undefined;
  };
  const sample = [...keys].slice(0, 4).join(', ');
  const conv1 = shapeOf('conv1.weight');
  if (!conv1) {
    throw new Error(
      `not a torchvision ResNet state dict: no key 'conv1.weight' (${keys.size} keys, e.g. ${sample || 'none'}); expected the keys of torchvision.models.resnet<depth>().state_dict()`,
    );
  }
  const [width, inChannels, kh, kw] = conv1;
  if (conv1.length !== 4 || inChannels !== 3 || kh !== kw || (kh !== 7 && kh !== 3) || !width) {
    throw new Error(
      `not a supported ResNet stem: 'conv1.weight' has shape [${conv1.join(', ')}]; expected [width, 3, 7, 7] (imagenet stem) or [width, 3, 3, 3] (small stem)`,
    );
  }
  const blocks: number[] = [];
  for (let s = 1; s <= 4; s++) {
    let n = 0;
    while (keys.has(`layer${s}.${n}.conv1.weight`)) n++;
    blocks.push(n);
  }
  const block = keys.has('layer1.0.conv3.weight') ? 'bottleneck' : 'basic';
  const found = DEPTHS.find((d) => d.block === block && d.blocks === blocks.join(','));
  if (!found) {
    throw new Error(
      `not a supported ResNet: the state dict has ${block} blocks ${blocks.join(',')} in layer1..layer4; expected basic 2,2,2,2 (ResNet-18), basic 3,4,6,3 (ResNet-34) or bottleneck 3,4,6,3 (ResNet-50)`,
    );
  }
  return { depth: found.depth, stem: kh === 7 ? 'imagenet' : 'small', widthMultiplier: width / 64 };
}

/** A short description of a config, e.g. `ResNet-50, imagenet stem, width multiplier 1`. */
export function describeResNetConfig(config: ResNetConfig): string {
  return `ResNet-${config.depth}, ${config.stem} stem, width multiplier ${config.widthMultiplier ?? 1}`;
}
