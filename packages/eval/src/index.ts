/**
 * `@ediy/eval`: evaluation of frozen, pre-trained backbones at small scale: weighted
 * kNN, linear probe, dense (segmentation) probe, region-diversity metrics and
 * saliency maps (Fig. 1 of the E-DIY paper). This entry imports no Node built-in and
 * bundles for the browser; writing PNG files (`writePng`, `saliencyGrid`) is
 * `@ediy/eval/node`.
 * @packageDocumentation
 */
export * from './accuracy.js';
export * from './batches.js';
export * from './dense-probe.js';
export * from './extract.js';
export * from './extractor.js';
/**
 * Host arrays and their readers live in `@ediy/core` now; `@ediy/eval` re-exports them, as
 * its results are host arrays.
 */
export {
  batchItem,
  readFloat,
  readLabels,
  readMask,
  type FloatInput,
  type FloatRead,
  type HostArray,
  type MaskInput,
  type MaskRead,
} from '@ediy/core';
export * from './intervals.js';
export * from './jacobi.js';
export * from './knn.js';
export * from './linear-probe.js';
export * from './overlay.js';
export * from './region-metrics.js';
export * from './saliency.js';
export * from './sgd.js';
export * from './standardize.js';
export * from './upsample.js';
