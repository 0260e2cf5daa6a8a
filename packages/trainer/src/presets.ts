/**
 * Presets: the scale of a run. `paper` is the paper's setting (for a GPU), `mini` what
 * two CPU cores finish in minutes a row, `smoke` seconds a row for tests and CI. A
 * preset changes scale only, never which loss terms, weights or matchers a row uses.
 */
import {
  BYOL_OPTIM,
  type ExperimentConfig,
  type MethodConfig,
  type OptimConfig,
  type PaperRow,
  type ScaleConfig,
} from './config.js';

/** The preset names. */
export type PresetName = 'smoke' | 'mini' | 'paper';

/** All preset names, for validation and help texts. */
export const PRESET_NAMES: readonly PresetName[] = ['smoke', 'mini', 'paper'];

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
      // Small-image ResNet-18 at a quarter width: a 4x4 layer4 map of 128 channels.
      return {
        backbone: { depth: 18, stem: 'small', widthMultiplier: 0.25 },
        projector: { hidden: 512, out: 128 },
        imageSize: 32,
        batchSize: 64,
        accumulate: 1,
        epochs: 3,
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
 * The optimiser settings of a preset: BYOL's, with the warm-up kept at the paper's
 * share of training (10 epochs of the paper's epochs) when the preset trains fewer epochs.
 */
export function presetOptim(
  preset: PresetName,
  scale: ScaleConfig,
  paperEpochs = 300,
): OptimConfig {
  if (preset === 'paper') return { ...BYOL_OPTIM };
  const share = BYOL_OPTIM.warmupEpochs / paperEpochs;
  return { ...BYOL_OPTIM, warmupEpochs: Math.min(scale.epochs, share * scale.epochs) };
}

/** Steps between checkpoints per preset: a `mini` row can stop and resume midway. */
export const CHECKPOINT_EVERY: Readonly<Record<PresetName, number>> = {
  smoke: 2,
  mini: 16,
  paper: 200,
};

/** What an example row declares: the method and the paper bookkeeping, never the scale. */
export interface RowConfig {
  /** Short name, used for the run directory. */
  name: string;
  /** The method of the row. */
  method: MethodConfig;
  /** The paper's row. */
  paper?: PaperRow;
}

/** Options of {@link resolveExperiment}. */
export interface ResolveOptions {
  /** Scale preset (default `mini`). */
  preset?: PresetName;
  /** Run seed (default 0). */
  seed?: number;
  /** Replaces the preset's training data. */
  data?: ScaleConfig['data'];
  /** The teacher, when a region loss uses the `teacher` matcher. */
  teacher?: ExperimentConfig['teacher'];
  /** Any further scale changes (e.g. fewer steps). */
  scale?: Partial<ScaleConfig>;
}

/** Combines a row (method) with a preset (scale) into a complete experiment. */
export function resolveExperiment(row: RowConfig, options: ResolveOptions = {}): ExperimentConfig {
  const preset = options.preset ?? 'mini';
  const paperEpochs = row.paper?.epochs ?? 300;
  const scale: ScaleConfig = {
    ...presetScale(preset, paperEpochs),
    ...options.scale,
    ...(options.data ? { data: options.data } : {}),
  };
  const config: ExperimentConfig = {
    name: row.name,
    seed: options.seed ?? 0,
    method: row.method,
    scale,
    optim: presetOptim(preset, scale, paperEpochs),
    checkpoint: { every: CHECKPOINT_EVERY[preset], keep: 2 },
    ...(row.paper ? { paper: row.paper } : {}),
    ...(options.teacher ? { teacher: options.teacher } : {}),
  };
  return config;
}
