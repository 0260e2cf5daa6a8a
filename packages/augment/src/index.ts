/**
 * `@ediy/augment`: BYOL view pipeline, batched on the backend, recording crop boxes.
 * @packageDocumentation
 */
export * from './params.js';
export * from './boxes.js';
export * from './draw.js';
export * from './pipeline.js';
export { cropResizeFlip } from './crop.js';
export {
  LUMA_WEIGHTS,
  rgbToGrayscale,
  grayscale,
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  solarize,
} from './color.js';
export { rgbToHsv, hsvToRgb, adjustHue } from './hue.js';
export { gaussianKernel1d, gaussianBlur } from './blur.js';
export { normalizeImages } from './normalize.js';
export { assertImageBatch, assertUnitRange } from './check.js';
