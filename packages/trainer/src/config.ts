/**
 * Experiment configuration: what a run trains (the method: which loss terms, their
 * weights, which matcher each region loss uses) and at what scale (a preset: backbone
 * size, image size, batch, epochs). An ablation row of the paper states only the method;
 * a preset changes scale only, never which modules or weights a row uses.
 */
import type { PastedScenesSpec } from '@ediy/data';
import type { RegionTerm } from '@ediy/losses';
import { parseExperiment } from './schema.js';
import type { AugmentConfig } from './views.js';

/**
 * One region loss term of Eq. 3: a registered region loss, its weight, its matcher and
 * the loss's options (`@ediy/losses`' `RegionTerm`, derived from its `RegionLossRegistry`
 * and `@ediy/matchers`' `MatcherRegistry`). A misspelt loss, matcher or option fails to
 * compile; a user's loss declared in the registry is checked the same way. A config read
 * from a file is checked at run time: an unknown name is an error listing the known ones.
 */
export type RegionTermConfig = RegionTerm;

/** The method of a run: the terms of Eq. 3 and how regions are paired. */
export interface MethodConfig {
  /** lambda3 of Eq. 3, the BYOL term's weight; 0 leaves BYOL out. */
  byolWeight: number;
  /** The region terms (R-DEM, R-IEM, ...). Empty for plain BYOL. */
  regionLosses: readonly RegionTermConfig[];
  /**
   * Whether the local branch has a predictor (DESIGN.md: yes, R-IEM compares the
   * online local prediction with the target local projection). With `false` R-IEM
   * compares the online local projection itself (the other reading of Eq. 7).
   */
  localPredictor: boolean;
}

/** ResNet backbone settings. */
export interface BackboneConfig {
  /** 18, 34 or 50. */
  depth: 18 | 34 | 50;
  /** `imagenet`: 7x7/2 conv + max-pool; `small`: 3x3/1 conv, no pool. */
  stem: 'imagenet' | 'small';
  /** Channels are 64 x this at the stem (1 = the standard ResNet). */
  widthMultiplier: number;
}

/** Where training images come from. */
export type DataConfig =
  | {
      /** The embedded, seeded synthetic scenes of `@ediy/data`. */
      kind: 'scenes';
      /** Number of images. */
      count: number;
      /** Side of the square images in pixels. */
      size: number;
      /** Number of object classes. */
      numClasses: number;
      /** Dataset seed (independent of the run seed, so every row sees the same data). */
      seed: number;
    }
  | {
      /** A path in any format `@ediy/data` reads (IDX, CIFAR, image folder). */
      kind: 'path';
      /** File or folder. */
      path: string;
      /** Side images are resized to (image folders). */
      size?: number;
    }
  /**
   * Scenes pasted from the items of a dataset on disk onto backgrounds, with their masks
   * (`@ediy/data`'s `PastedScenesSpec`; `ediy --data scenes:<path>`).
   */
  | PastedScenesSpec;

/** The scale of a run: what a preset sets. */
export interface ScaleConfig {
  /** Backbone architecture. */
  backbone: BackboneConfig;
  /** Hidden and output widths of the global and local projectors and predictors. */
  projector: { hidden: number; out: number };
  /** Side of each augmented view in pixels. */
  imageSize: number;
  /** Images per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients are summed per optimiser step (effective batch = batchSize x accumulate). */
  accumulate: number;
  /** Training epochs over the data. */
  epochs: number;
  /** Cap on optimiser steps (the scaled presets stop early; undefined: epochs decide). */
  maxSteps?: number;
  /** Training data. */
  data: DataConfig;
}

/** Optimiser and schedules (DESIGN.md "Optimisation"; BYOL's defaults). */
export interface OptimConfig {
  /** LR at an effective batch of 256; scaled by batch/256 (0.2: 3.2 at 4096). */
  baseLr: number;
  /** LARS weight decay (1.5e-6). */
  weightDecay: number;
  /** LARS momentum (0.9). */
  momentum: number;
  /** LARS trust coefficient (1e-3). */
  eta: number;
  /**
   * Linear warm-up length in epochs (BYOL: 10). Give this or
   * {@link OptimConfig.warmupFraction}, not both; as a share of the epochs it is applied
   * to the run's real step count (see {@link runSchedule}), so a run capped by
   * `scale.maxSteps` warms up for the same share.
   */
  warmupEpochs?: number;
  /**
   * Linear warm-up length as a share of the run's optimiser steps, in [0, 1) (the scaled
   * presets: 10/300, the paper's share). Give this or {@link OptimConfig.warmupEpochs},
   * not both.
   */
  warmupFraction?: number;
  /** Initial EMA momentum tau0 of the target, raised to 1 on a cosine (0.996). */
  tau0: number;
  /**
   * solo-learn's LARS learning-rate clipping (`clip_lars_lr`): each layer's trust ratio
   * is capped so its step never exceeds the plain learning rate (LARS option `clip`).
   * Default false, BYOL's LARS.
   */
  larsClip?: boolean;
}

/** Paper bookkeeping of an ablation row. */
export interface PaperRow {
  /** Table number in the paper. */
  table: number;
  /** 1-based row within the table. */
  row: number;
  /** The row's label as the table writes it. */
  label: string;
  /** Epochs the paper pre-trained this row for. */
  epochs: number;
  /** The paper's reported numbers for the row (e.g. `APbb: 41.1`). */
  numbers: Readonly<Record<string, number>>;
}

/** A complete, resolved experiment: what `pretrain` runs. */
export interface ExperimentConfig {
  /** Short name, used for the run directory. */
  name: string;
  /** Seed of every random stream of the run. */
  seed: number;
  /** The method. */
  method: MethodConfig;
  /** The scale. */
  scale: ScaleConfig;
  /** Optimisation. */
  optim: OptimConfig;
  /**
   * The frozen teacher that chooses region pairs: a run directory of a BYOL run (its
   * last checkpoint's online backbone) or a TF.js Layers model directory (e.g. imported
   * torchvision weights). Required when a region loss uses the `teacher` matcher.
   */
  teacher?: { run: string } | { modelDir: string };
  /** Checkpoint every N optimiser steps (and at the end); keep the last K. */
  checkpoint: { every: number; keep: number };
  /**
   * Changes to BYOL's two augmented views (crop scale, flip, colour jitter, grayscale,
   * blur, solarize, per view); absent: BYOL's views ({@link viewParamsOf}).
   */
  augment?: AugmentConfig;
  /** The paper row this experiment reproduces, if any. */
  paper?: PaperRow;
}

/** BYOL's optimisation defaults (DESIGN.md). */
export const BYOL_OPTIM: OptimConfig = {
  baseLr: 0.2,
  weightDecay: 1.5e-6,
  momentum: 0.9,
  eta: 1e-3,
  warmupEpochs: 10,
  tau0: 0.996,
};

/**
 * Checks a resolved config against the experiment schema ({@link experimentSchema}).
 * @throws ConfigError naming every bad or unknown field (`config.scale.batchSize must
 *   be an integer >= 2, got 1`), its value and what was expected.
 */
export function validateConfig(config: ExperimentConfig): void {
  parseExperiment(config);
}
