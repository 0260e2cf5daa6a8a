/**
 * Presets: the scale of a run. `paper` is the paper's setting (for a GPU), `mini` what
 * two CPU cores finish in minutes a row, `smoke` seconds a row for tests and CI. A
 * preset changes scale only, never which loss terms, weights or matchers a row uses; it
 * is a partial config ({@link presetLayer}) merged like any other layer.
 */
import {
  BYOL_OPTIM,
  type ExperimentConfig,
  type MethodConfig,
  type OptimConfig,
  type PaperRow,
  type ScaleConfig,
} from './config.js';
import { mergeLayers, parseExperiment, parseLayer, type ConfigLayer } from './schema.js';

/** The preset names. */
export type PresetName = 'smoke' | 'mini' | 'paper';

/** All preset names, for validation and help texts. */
export const PRESET_NAMES: readonly PresetName[] = ['smoke', 'mini', 'paper'];

/**
 * The step budget of a `mini` row of a table whose paper rows train `paperEpochs` epochs:
 * what three seeds of the whole table fit in an hour on two cores with the native engine.
 * Table 1 (300 epochs; 9 rows, the first seed's BYOL row the teacher) and the 1000-epoch
 * tables get 900 steps of 32 images: Table 1 on Fashion-MNIST at 900 steps of 32 took 54
 * minutes for its 27 runs and the untrained row on a 2-core AVX-512 machine, as two
 * single-thread shards, as it did at 450 steps of 64, and the same images in steps of 32
 * train BYOL and E-DIY better (ten seeds; docs/results/recipe.md, "Batches of 32", and
 * table1-mini.md); a CPU with AVX2 only is about 3x slower. Table 2 (100 epochs; 4 rows and
 * the teacher) gets 640, its 320 steps of 64 from an AVX2 machine (recipe.md) at the new
 * batch, not measured at 32. The embedded scenes (3 epochs of 64 steps) stay under either cap.
 */
export function miniSteps(paperEpochs: number): number {
  return paperEpochs <= 100 ? 640 : 900;
}

/**
 * The scale of each preset. `paper` trains for the epochs of the row's table (Table 1:
 * 300, Table 2: 100, Tables 3-6: 1000); the scaled presets run a fixed budget.
 */
export function presetScale(preset: PresetName, paperEpochs = 300): ScaleConfig {
  switch (preset) {
    case 'paper':
      // ResNet-50 at 224 px; 2048 images an iteration, accumulated twice to BYOL's 4096.
      return {
        backbone: { depth: 50, stem: 'imagenet', widthMultiplier: 1 },
        projector: { hidden: 4096, out: 256 },
        imageSize: 224,
        batchSize: 2048,
        accumulate: 2,
        epochs: paperEpochs,
        data: { kind: 'path', path: 'data/imagenet/train', size: 256 },
      };
    case 'mini':
      // Small-image ResNet-18 at a quarter width: a 4x4 layer4 map of 128 channels; batches
      // of 32 (twice the updates of 64 for the same images: BYOL's kNN and linear probes
      // rose by 3.5 / 2.1 points over ten seeds at Table 1's budget, recipe.md); at most
      // miniSteps(paperEpochs) steps, so a large dataset's run fits its table's hour.
      return {
        backbone: { depth: 18, stem: 'small', widthMultiplier: 0.25 },
        projector: { hidden: 512, out: 128 },
        imageSize: 32,
        batchSize: 32,
        accumulate: 1,
        epochs: 3,
        maxSteps: miniSteps(paperEpochs),
        data: { kind: 'scenes', count: 2048, size: 40, numClasses: 6, seed: 1 },
      };
    case 'smoke':
      return {
        backbone: { depth: 18, stem: 'small', widthMultiplier: 1 / 16 },
        projector: { hidden: 32, out: 16 },
        imageSize: 16,
        batchSize: 8,
        accumulate: 1,
        epochs: 1,
        maxSteps: 3,
        data: { kind: 'scenes', count: 32, size: 20, numClasses: 3, seed: 1 },
      };
    default:
      throw new Error(
        `preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(preset)}`,
      );
  }
}

/**
 * BYOL's optimiser settings for a pre-training of `paperEpochs` epochs, as BYOL's own
 * configs (deepmind-research byol/configs/byol.py) give them per length: base LR 0.45 /
 * 0.45 / 0.3 / 0.2, weight decay 1e-6 / 1e-6 / 1e-6 / 1.5e-6 and tau0 0.97 / 0.99 / 0.99 /
 * 0.996 for 40 / 100 / 300 / 1000 epochs (a length between two takes the longer one's),
 * LARS trust coefficient 1e-3, momentum 0.9, 10 warm-up epochs. The paper's Table 1
 * trains 300 epochs, Table 2 100, Tables 3-6 1000.
 */
export function byolOptim(paperEpochs: number): OptimConfig {
  if (!(paperEpochs > 0)) {
    throw new RangeError(
      `paperEpochs must be a positive number, got ${JSON.stringify(paperEpochs)}`,
    );
  }
  const [baseLr, weightDecay, tau0] =
    paperEpochs <= 40
      ? [0.45, 1e-6, 0.97]
      : paperEpochs <= 100
        ? [0.45, 1e-6, 0.99]
        : paperEpochs <= 300
          ? [0.3, 1e-6, 0.99]
          : [BYOL_OPTIM.baseLr, BYOL_OPTIM.weightDecay, BYOL_OPTIM.tau0];
  return { ...BYOL_OPTIM, baseLr, weightDecay, tau0 };
}

/**
 * The short-run recipe of the `mini` preset, chosen by measurement on Fashion-MNIST
 * (docs/results/recipe.md): solo-learn's CIFAR BYOL recipe at the run's batch, LARS with
 * trust coefficient 0.02 and solo-learn's learning-rate clipping, base LR 1.0, weight
 * decay 1e-5, tau0 0.99, a linear warm-up over 1% of the run's steps. With it the linear
 * probe beats the untrained network's; the kNN probe does not at these budgets. BYOL's
 * per-length settings ({@link byolOptim}) are for hundreds of epochs; at a few hundred
 * steps with them the weights hardly move (LARS's 1e-3 trust coefficient) and the target
 * stays near its initialisation (tau0 0.996).
 */
export const SHORT_RUN_OPTIM: OptimConfig = {
  baseLr: 1.0,
  weightDecay: 1e-5,
  momentum: 0.9,
  eta: 0.02,
  larsClip: true,
  warmupFraction: 0.01,
  tau0: 0.99,
};

/**
 * The optimiser settings of a preset. `paper`: BYOL's for the table's length
 * ({@link byolOptim}), warming up for 10 epochs. `mini`: the short-run recipe
 * ({@link SHORT_RUN_OPTIM}), for every table, since every table's `mini` run is a few
 * hundred steps. `smoke` only checks that a run goes through: BYOL's 1000-epoch values
 * with the paper's share of warm-up (10 of `paperEpochs`) as a share of the run's steps.
 */
export function presetOptim(preset: PresetName, paperEpochs = 300): OptimConfig {
  if (preset === 'paper') return byolOptim(paperEpochs);
  if (preset === 'mini') return { ...SHORT_RUN_OPTIM };
  const { warmupEpochs, ...rest } = BYOL_OPTIM;
  return { ...rest, warmupFraction: (warmupEpochs ?? 0) / paperEpochs };
}

/** Steps between checkpoints per preset: a `mini` row can stop and resume midway. */
export const CHECKPOINT_EVERY: Readonly<Record<PresetName, number>> = {
  smoke: 2,
  mini: 16,
  paper: 200,
};

/**
 * A preset as a partial config like any other: its scale, optimiser and checkpoint
 * interval. `paperEpochs` is the epochs of the row's table (the `paper` preset's epochs).
 */
export function presetLayer(preset: PresetName, paperEpochs = 300): ConfigLayer {
  return {
    scale: presetScale(preset, paperEpochs),
    optim: presetOptim(preset, paperEpochs),
    checkpoint: { every: CHECKPOINT_EVERY[preset], keep: 2 },
  };
}

/**
 * What an example row declares: its name, its method and the paper bookkeeping; any
 * other field it states (e.g. `scale: { maxSteps: 100 }`) is a partial config, checked
 * by the schema like every layer.
 */
export type RowConfig = ConfigLayer & {
  /** Short name, used for the run directory. */
  name: string;
  /** The method of the row. */
  method: MethodConfig;
  /** The paper's row. */
  paper?: PaperRow;
};

/** Options of {@link resolveExperiment}. */
export interface ResolveOptions {
  /** Scale preset (default `mini`). */
  preset?: PresetName;
  /**
   * Layers over the preset, in order (later wins): e.g. a config file, then the
   * command line's overrides. Each is checked with {@link parseLayer} first.
   */
  layers?: ReadonlyArray<{ layer: ConfigLayer; source: string }>;
  /** Run seed (default 0). */
  seed?: number;
  /** Replaces the training data. */
  data?: ScaleConfig['data'];
  /** The teacher, when a region loss uses the `teacher` matcher. */
  teacher?: ExperimentConfig['teacher'];
  /** Any further scale changes (e.g. fewer steps). */
  scale?: Partial<ScaleConfig>;
  /**
   * The paper epochs whose preset settings apply when no layer states a `paper` row
   * (default 300, Table 1's): e.g. 100 for a changed Table 2 row that dropped the
   * paper's numbers.
   */
  paperEpochs?: number;
}

/**
 * Combines a row (its method), a preset (its scale), further layers (a config file, the
 * command line) and the options into a complete experiment, in the order row < preset
 * < layers < `seed`/`data`/`teacher`/`scale` options; each layer states only what it
 * changes ({@link mergeLayers}). The preset's epochs follow the paper row's table.
 * @throws ConfigError naming the layer, the field, its value and what was expected.
 */
export function resolveExperiment(
  row: ConfigLayer,
  options: ResolveOptions = {},
): ExperimentConfig {
  const preset = options.preset ?? 'mini';
  const layers = options.layers ?? [];
  const checked = [
    parseLayer(row, row.name ? `row ${row.name}` : 'row'),
    ...layers.map(({ layer, source }) => parseLayer(layer, source)),
  ];
  const paperEpochs = mergeLayers(...checked).paper?.epochs ?? options.paperEpochs ?? 300;
  const [first, ...rest] = checked;
  const merged = mergeLayers({ seed: 0 }, first ?? {}, presetLayer(preset, paperEpochs), ...rest, {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.teacher ? { teacher: options.teacher } : {}),
    scale: { ...options.scale, ...(options.data ? { data: options.data } : {}) },
  });
  return parseExperiment(merged);
}
