/**
 * `@ediy/trainer/internal`: the pieces the pre-training loop is built from, for the
 * project's own benchmarks, tools and tests. They are not the stable API (that is
 * `@ediy/trainer`) and change without a major version: the replica worker's pool and
 * its data-parallel step, the run folder's durable file operations, checkpoint slot
 * naming, the finiteness checks' helpers, the fast BatchNorm's parts.
 * @packageDocumentation
 */
export {
  ReplicaPool,
  dataParallelStep,
  twoThreads,
  type ReplicaPoolOptions,
  type ReplicaResult,
} from './replica.js';
export { addTiming } from './step.js';
export { emaPairs, fromSlotNames, modelsByKey, namedModels, toSlotNames } from './state.js';
export { assertFinite, countNonFinite } from './finite.js';
export { FAST_RESNET, copyWeights, trainableVariables } from './networks.js';
export { onlineModules } from './ediy-method.js';
export { weightLabels } from './update.js';
export { channelMeans, type BatchNormTrainingResult } from './batchnorm.js';
export {
  firstDifference,
  fsCall,
  holdsRun,
  moveRunAside,
  syncFolder,
  truncateLog,
  writeFileDurably,
} from './run-dir.js';
