/**
 * `@ediy/trainer`: the E-DIY pre-training loop. The online network (backbone, global
 * projector + predictor, local projector + predictor), its EMA target, an optional
 * frozen teacher; gradient accumulation, LARS with warm-up + cosine, checkpoints that
 * resume exactly, JSONL logs and a progress display.
 *
 * This entry point is the stable API. `@ediy/trainer/internal` holds the pieces the
 * loop is built from (the replica worker's pool, the run folder's file operations,
 * checkpoint slot naming, the finiteness checks' helpers): they change without notice.
 * @packageDocumentation
 */
export * from './config.js';
export * from './presets.js';
export * from './progress.js';
export * from './checkpoint.js';
export {
  buildOnline,
  buildTarget,
  disposeModels,
  headSpecs,
  type OnlineNetwork,
  type TargetNetwork,
} from './networks.js';
export * from './method.js';
export { EDIY, termNames } from './ediy-method.js';
export {
  disposeState,
  restoreState,
  saveState,
  variables,
  type DataPosition,
  type MethodNetworks,
  type StateVariables,
  type TrainState,
} from './state.js';
export {
  microStep,
  microStepAsync,
  type MicroStepResult,
  type PhaseTimings,
  type StepPhase,
} from './step.js';
export { batchNormTraining, channelAffine, useFastBatchNorm } from './batchnorm.js';
export * from './pretrain.js';
export {
  NonFiniteLossError,
  trainStep,
  update,
  type StepBatch,
  type StepNetworks,
  type TrainStepContext,
  type TrainStepInput,
  type TrainStepResult,
  type UpdateContext,
  type UpdateInput,
} from './update.js';
export { NonFiniteTensorError, assertWeightsFinite, assertWeightsFiniteAsync } from './finite.js';
export {
  AUTO_WORKERS_MIN_BATCH,
  oneThread,
  resolveWorkers,
  type GradientStrategy,
  type WorkersOption,
} from './replica.js';
export * from './data.js';
export * from './views.js';
export * from './memory.js';
export * from './teacher-map.js';
export * from './schema.js';
export * from './schedule.js';
export * from './loggers/logger.js';
export * from './loggers/tensorboard.js';
export * from './loggers/knn-monitor.js';
