/**
 * `@ediy/trainer`: the E-DIY pre-training loop. The online network (backbone, global
 * projector + predictor, local projector + predictor), its EMA target, an optional
 * frozen teacher; gradient accumulation, LARS with warm-up + cosine, checkpoints that
 * resume exactly, JSONL logs and a progress display.
 * @packageDocumentation
 */
export * from './config.js';
export * from './presets.js';
export * from './progress.js';
export * from './checkpoint.js';
export * from './networks.js';
export * from './method.js';
export * from './ediy-method.js';
export * from './state.js';
export * from './step.js';
export * from './batchnorm.js';
export * from './pretrain.js';
export * from './update.js';
export * from './finite.js';
export * from './run-dir.js';
export * from './replica.js';
export * from './data.js';
export * from './views.js';
export * from './memory.js';
export * from './teacher-map.js';
export * from './schema.js';
export * from './schedule.js';
export * from './loggers/logger.js';
export * from './loggers/tensorboard.js';
export * from './loggers/knn-monitor.js';
