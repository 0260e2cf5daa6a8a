/**
 * The evaluation budget of each preset, for `ediy eval` and `ediy reproduce`. The
 * evaluation itself (`evaluateRun`, `evaluateUntrained`) is `@ediy/eval/node`'s.
 */
import { DEFAULT_EVAL_SETTINGS, type EvalSettings } from '@ediy/eval/node';
import { presetScale, PRESET_NAMES, type ExperimentConfig, type PresetName } from '@ediy/trainer';

/**
 * Evaluation budget of each preset. `mini` and `paper` score at most 10,000 held-out
 * images (Fashion-MNIST: all of its 10k test images); `mini` takes 10,000 training
 * images as memory (`ediy eval --memory all` uses all 60k: feature extraction dominates,
 * and 70k images instead of 20k took 3.5x as long), `paper` 20,000.
 */
export const EVAL_SETTINGS: Readonly<Record<PresetName, EvalSettings>> = {
  smoke: {
    memory: 256,
    test: 256,
    knnK: 20,
    knnTemperature: 0.07,
    linearEpochs: 10,
    linearBatch: 64,
    denseTrain: 256,
    denseEpochs: 3,
    diversityImages: 256,
    bnBatches: 2,
    bnBatchSize: 32,
    bootstrap: 200,
  },
  mini: { ...DEFAULT_EVAL_SETTINGS }, // @ediy/eval's defaults are the mini budget
  paper: {
    memory: 20_000,
    test: 10_000,
    knnK: 20,
    knnTemperature: 0.07,
    linearEpochs: 50,
    linearBatch: 256,
    denseTrain: 2000,
    denseEpochs: 20,
    diversityImages: 2000,
    bnBatches: 32,
    bnBatchSize: 64,
    bootstrap: 1000,
  },
};

/** The preset whose scale a config has (by backbone and image size), default `mini`. */
export function presetOf(config: ExperimentConfig): PresetName {
  for (const name of PRESET_NAMES) {
    const s = presetScale(name);
    const b = config.scale.backbone;
    if (
      s.backbone.depth === b.depth &&
      s.backbone.stem === b.stem &&
      s.backbone.widthMultiplier === b.widthMultiplier &&
      s.imageSize === config.scale.imageSize
    ) {
      return name;
    }
  }
  return 'mini';
}
