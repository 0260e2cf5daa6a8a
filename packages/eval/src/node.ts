/**
 * `@ediy/eval/node`: the Node-only part of `@ediy/eval`: evaluating a run directory
 * (`evaluateRun`, the untrained floor `evaluateUntrained`, the backbone of a checkpoint
 * `loadRunBackbone`), on its data's training and held-out parts streamed from
 * `@ediy/data`; and writing PNG files: `writePng` (atomic) and `saliencyGrid`, the
 * checkpoints-by-images grid of saliency overlays (Fig. 1 of the E-DIY paper). The
 * overlays themselves (`overlayHeatmap`, `jet`) and the saliency maps are in the
 * browser-safe root entry `@ediy/eval`.
 * @packageDocumentation
 */
export * from './grid.js';
export * from './png.js';
export * from './run-evaluation.js';
