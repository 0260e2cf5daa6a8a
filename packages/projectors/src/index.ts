/**
 * `@ediy/projectors`: global MLP and local 1x1-conv projectors and predictors built
 * from layer specs, with BYOL's heads as named presets.
 * @packageDocumentation
 */
export { mlp } from './mlp.js';
export { localMlp } from './local-mlp.js';
export { checkSpecs } from './spec.js';
export type { LayerSpec, ProjectorOptions } from './spec.js';
export { BYOL_PREDICTOR, BYOL_PROJECTOR, scaleSpecs } from './presets.js';
export type { SpecSizes } from './presets.js';
