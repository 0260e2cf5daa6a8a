/**
 * `@ediy/cli`: the `ediy` command (pretrain, eval, reproduce, import-weights, export,
 * saliency) and its programmatic API: {@link main} and {@link reproduce}, the results
 * tables and their plots (Vega-Lite specs, drawn to SVG and PNG).
 * @packageDocumentation
 */
export { main, mainHelp, COMMANDS, type Command } from './main.js';
export { UsageError, EXIT_USAGE, EXIT_FAILURE } from './errors.js';
export { processIO, type CliIO } from './io.js';
export {
  parseCommandArgs,
  commandHelp,
  usageLine,
  type CommandSpec,
  type FlagSpec,
  type ParsedArgs,
} from './args.js';
export {
  loadConfig,
  CONFIG_EXTENSIONS,
  MODULE_EXTENSIONS,
  type LoadedConfig,
  type ConfigFile,
  type ConfigFileKeys,
} from './rows.js';
export { importModule } from './config-module.js';
export { overridesOf, setLayer, OVERRIDE_FLAGS, ARCHS, type Override } from './overrides.js';
export {
  reproduce,
  reproduceShard,
  collect,
  planReproduce,
  writePlan,
  trainTeacher,
  runJobs,
  reproduceOut,
  drawSaliencyGrid,
  saliencyPair,
  saliencyColumns,
  logTableImage,
  logEvaluation,
  monitorOf,
  SALIENCY_TAG,
  MAX_SALIENCY_COLUMNS,
  tableName,
  assertSameConfig,
  withCheckpointEvery,
  tableRows,
  readRunEval,
  REPRODUCIBLE_TABLES,
  DEFAULT_SEEDS,
  type ReproduceOptions,
  type CollectOptions,
  type ReproduceOutput,
  type ReproducibleTable,
  type RunEvalRecord,
  type SaliencyRun,
} from './reproduce.js';
export {
  loadTableFile,
  looksLikeTableFile,
  tableRow,
  rowOverPreset,
  ROW_ID_PATTERN,
  TABLE_NAME_PATTERN,
  type TableFile,
  type TableRowEntry,
  type TableSource,
  type RowOverPreset,
} from './table-module.js';
export {
  planJobs,
  parseShard,
  shardJobs,
  withTeacherLock,
  type PlanInput,
  type ReproduceJob,
  type ReproducePlan,
  type Shard,
  type TeacherLockOptions,
} from './plan.js';
export {
  submitSlurm,
  batchScript,
  shellQuote,
  parseJobId,
  EDIY_BIN,
  type SlurmOptions,
  type SlurmSubmission,
} from './slurm.js';
export * from './evaluate.js';
export * from './untrained-row.js';
export * from './results.js';
export { readStepLog, meanLossCurve } from './run-log.js';
export {
  writePlots,
  metricPoints,
  lossPoints,
  monitorPoints,
  portableResults,
  rowsFromRuns,
  floorFromRuns,
  buildReport,
  TOTAL_TERM,
  type BuildReportOptions,
  type BuiltReport,
  type PlotInput,
  type StepRecordLike,
  type MonitorRecordLike,
} from './report.js';
export {
  metricDotPlotSpec,
  lossCurvesSpec,
  monitorCurvesSpec,
  PLOT_COLOURS,
  type MetricPoint,
  type MetricDotPlotOptions,
  type LossPoint,
  type LossCurvesOptions,
  type MonitorPoint,
  type MonitorCurvesOptions,
} from './plot/specs.js';
export { renderSvg, savePlot, type SavedPlot } from './plot/render.js';
export { closestMatch, didYouMean } from './suggest.js';
export {
  DEFAULT_MONITOR,
  DEFAULT_MONITOR_IMAGES,
  MONITOR_FLAGS,
  describeData,
  monitorFlag,
} from './options.js';
