/**
 * `@ediy/optim`: LARS, warm-up + cosine learning rate, cosine EMA momentum.
 * @packageDocumentation
 */
export { LARS, ITERATIONS_NAME, MOMENTUM_SUFFIX } from './lars.js';
export type { LarsConfig, LarsOptions, NamedTensor } from './lars.js';
export { clippedTrustRatio, larsStep, trustRatio } from './lars-step.js';
export type { LarsHyper } from './lars-step.js';
export { excludeBiasAndNorm } from './exclude.js';
export type { ExcludePredicate } from './exclude.js';
export { warmupCosineLr } from './lr-schedule.js';
export type { WarmupCosineLrConfig } from './lr-schedule.js';
export { emaTau, emaUpdate } from './ema.js';
export type { EmaTauConfig, EmaVariable } from './ema.js';
export { FUSED_UPDATE_KERNELS } from './fused.js';
