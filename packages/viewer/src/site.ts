/**
 * What the viewer's server hands the page: one JSON document (`site.json`) describing
 * the runs, their weight files, losses and evaluations, and the held-out images.
 */

/** The backbone settings of a run (its config's `scale.backbone`). */
export interface ViewerBackbone {
  /** ResNet depth: 18, 34 or 50. */
  depth: 18 | 34 | 50;
  /** `imagenet` or `small` stem. */
  stem: 'imagenet' | 'small';
  /** Channel width multiplier. */
  widthMultiplier: number;
}

/** A backbone's weights as the page fetches them. */
export interface ViewerWeights {
  /** URL of a safetensors file holding tensors `0`, `1`, ... in `getWeights()` order. */
  url: string;
  /** How many tensors it holds. */
  count: number;
  /** The architecture they belong to. */
  backbone: ViewerBackbone;
  /** Optimiser steps of the checkpoint they come from (unknown for an exported model). */
  step?: number;
  /** The checkpoint folder, or the exported model's path, they come from. */
  checkpoint: string;
}

/** One point of a loss curve (a `log.jsonl` record). */
export interface LossPoint {
  /** Optimiser step. */
  step: number;
  /** The weighted total loss. */
  loss: number;
  /** Each term before weighting (`byol`, `r-dem`, `r-iem`, ...). */
  terms: Record<string, number>;
}

/** One run folder, as the page sees it. */
export interface ViewerRun {
  /** Index in the site's run list. */
  id: number;
  /** Short label: `table1-ediy` for `runs/table1-ediy/seed-0`. */
  label: string;
  /** The run folder (or the exported model's path) as given. */
  dir: string;
  /**
   * Set when this is not a run folder but an exported backbone (`ediy view --backbone`,
   * or files picked in the page): its format; it then has no method, log or evaluation.
   */
  model?: { format: 'tfjs' | 'torchvision' };
  /** The config's name. */
  name: string;
  /** Side of each augmented view in pixels (`scale.imageSize`). */
  imageSize: number;
  /** The region terms of the method (`r-dem` with matcher `teacher`, ...); empty for BYOL. */
  regionLosses: Array<{ loss: string; weight: number; matcher: string }>;
  /** The BYOL term's weight. */
  byolWeight: number;
  /** The run's online backbone at its newest checkpoint. */
  backbone: ViewerWeights;
  /**
   * The frozen teacher that chose the run's region pairs (config `teacher.run`), when it
   * has one; without it, the page pairs regions with the run's own backbone.
   */
  teacher?: ViewerWeights & { label: string };
  /** Why a configured teacher is not shown (a model directory, a missing run), if so. */
  teacherNote?: string;
  /** The loss curve from `log.jsonl` (empty when there is no log). */
  log: LossPoint[];
  /** `eval.json`'s metrics, when the run has been evaluated. */
  eval?: { metrics: Record<string, number>; steps?: number };
}

/** The held-out images the page offers to pick from. */
export interface ViewerImages {
  /** URL of the pixels: float32 little-endian, `[N,H,W,3]` in [0, 1]. */
  url: string;
  /** `[N,H,W,3]`. */
  shape: [number, number, number, number];
  /** Class labels, when the data has them. */
  labels?: number[];
  /** Where they come from (`scenes (held-out part)`, a path). */
  source: string;
}

/** The document the page loads first. */
export interface ViewerSite {
  /** The runs, side by side in this order. */
  runs: ViewerRun[];
  /** The held-out images. */
  images: ViewerImages;
  /** The seed of the first pair of views (the page can draw others). */
  seed: number;
}

/** The site's fixed paths (relative to its root). */
export const SITE_PATHS = Object.freeze({
  page: 'index.html',
  script: 'viewer.js',
  site: 'site.json',
  images: 'images.f32',
});
