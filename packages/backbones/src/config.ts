/**
 * ResNet configurations and the shapes they imply.
 */

/** The ResNet depths provided: basic blocks for 18 and 34, bottlenecks for 50. */
export type ResNetDepth = 18 | 34 | 50;

/**
 * The stem (the layers before `layer1`).
 * - `imagenet`: 7x7 stride-2 conv (padding 3) + BN + ReLU + 3x3 stride-2 max-pool (padding 1),
 *   as torchvision; output stride 32.
 * - `small`: 3x3 stride-1 conv (padding 1) + BN + ReLU, no pool (the usual CIFAR variant);
 *   output stride 8.
 */
export type ResNetStem = 'imagenet' | 'small';

/** What {@link resnet} builds. */
export interface ResNetConfig {
  /** 18, 34 or 50. */
  depth: ResNetDepth;
  /** `imagenet` or `small`, see {@link ResNetStem}. */
  stem: ResNetStem;
  /**
   * Multiplies every width: the stem and `layer1` have `round(64 * widthMultiplier)` channels,
   * `layer2..4` two, four and eight times that (times 4 at the bottleneck outputs of ResNet-50).
   * Default 1. `64 * widthMultiplier` must round to at least 1.
   */
  widthMultiplier?: number;
  /** `[height, width, 3]`, `null` for a size fixed at call time. Default `[null, null, 3]`. */
  inputShape?: [number | null, number | null, 3];
  /** The model's name. Default `resnet<depth>`. */
  name?: string;
  /**
   * Seed of the weight initialisation: the same seed gives the same weights. Default 0.
   */
  seed?: number;
}

/** A {@link ResNetConfig} with every default filled in and checked. */
export interface ResolvedResNetConfig {
  /** As {@link ResNetConfig.depth}. */
  depth: ResNetDepth;
  /** As {@link ResNetConfig.stem}. */
  stem: ResNetStem;
  /** As {@link ResNetConfig.widthMultiplier}, default 1. */
  widthMultiplier: number;
  /** As {@link ResNetConfig.inputShape}, default `[null, null, 3]`. */
  inputShape: [number | null, number | null, 3];
  /** As {@link ResNetConfig.name}, default `resnet<depth>`. */
  name: string;
  /** As {@link ResNetConfig.seed}, default 0. */
  seed: number;
  /** Channels of the stem and of `layer1`'s 3x3 convs: `round(64 * widthMultiplier)`. */
  baseWidth: number;
  /** `basic` (expansion 1) for 18/34, `bottleneck` (expansion 4) for 50. */
  block: 'basic' | 'bottleneck';
  /** Output channels of a block over its inner width: 1 (basic) or 4 (bottleneck). */
  expansion: number;
  /** Blocks in layer1..layer4. */
  blocks: [number, number, number, number];
}

const BLOCKS: Record<ResNetDepth, [number, number, number, number]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
};

/**
 * Checks a {@link ResNetConfig} and fills in its defaults.
 * @throws an error naming the bad field and what was expected.
 */
export function resolveResNetConfig(config: ResNetConfig): ResolvedResNetConfig {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`ResNet config must be an object, got ${String(config)}`);
  }
  const { depth, stem } = config;
  if (depth !== 18 && depth !== 34 && depth !== 50) {
    throw new RangeError(`ResNet config.depth must be 18, 34 or 50, got ${JSON.stringify(depth)}`);
  }
  if (stem !== 'imagenet' && stem !== 'small') {
    throw new RangeError(
      `ResNet config.stem must be 'imagenet' or 'small', got ${JSON.stringify(stem)}`,
    );
  }
  const widthMultiplier = config.widthMultiplier ?? 1;
  if (
    typeof widthMultiplier !== 'number' ||
    !Number.isFinite(widthMultiplier) ||
    widthMultiplier <= 0
  ) {
    throw new RangeError(
      `ResNet config.widthMultiplier must be a finite number > 0, got ${String(widthMultiplier)}`,
    );
  }
  const baseWidth = Math.round(64 * widthMultiplier);
  if (baseWidth < 1) {
    throw new RangeError(
      `ResNet config.widthMultiplier ${widthMultiplier} gives a base width round(64 * ${widthMultiplier}) = 0; expected >= 1/128`,
    );
  }
  const inputShape = config.inputShape ?? [null, null, 3];
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    inputShape[2] !== 3 ||
    inputShape.slice(0, 2).some((d) => d !== null && !(Number.isInteger(d) && d > 0))
  ) {
    throw new RangeError(
      `ResNet config.inputShape must be [height|null, width|null, 3] with positive integer sizes, got ${JSON.stringify(inputShape)}`,
    );
  }
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new RangeError(`ResNet config.seed must be an integer, got ${String(seed)}`);
  }
  const name = config.name ?? `resnet${depth}`;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][-A-Za-z0-9._]*$/.test(name)) {
    throw new RangeError(
      `ResNet config.name must match /^[A-Za-z0-9][-A-Za-z0-9._]*$/, got ${JSON.stringify(name)}`,
    );
  }
  const block = depth === 50 ? 'bottleneck' : 'basic';
  return {
    depth,
    stem,
    widthMultiplier,
    inputShape: [inputShape[0], inputShape[1], 3],
    name,
    seed,
    baseWidth,
    block,
    expansion: block === 'bottleneck' ? 4 : 1,
    blocks: BLOCKS[depth],
  };
}

/**
 * Channels of the layer4 map (and of the pooled feature): `8 * round(64 * widthMultiplier)`
 * times 4 for ResNet-50. ResNet-18/34: 512, ResNet-50: 2048 at width 1.
 */
export function featureChannels(config: ResNetConfig): number {
  const c = resolveResNetConfig(config);
  return c.baseWidth * 8 * c.expansion;
}

/**
 * How many input pixels one layer4 cell spans along each axis: 32 with the `imagenet`
 * stem, 8 with the `small` stem. For an input of size H the map has
 * `ceil(H / outputStride)` rows (each stride-2 step maps n to ceil(n / 2)).
 */
export function outputStride(config: ResNetConfig): number {
  return resolveResNetConfig(config).stem === 'imagenet' ? 32 : 8;
}
