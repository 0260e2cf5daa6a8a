/**
 * `ediy eval <run...>`: the proxy metrics of trained runs on held-out images, printed
 * as a table and written to each run's `eval.json`; with `--untrained`, the untrained
 * floor of each run's (or config file's) architecture under both BatchNorm conventions.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isRunDir, readRunConfig, runPaths, writeJsonRecord } from '@ediy/core/node';
import type { Interval } from '@ediy/eval';
import {
  BN_CONVENTIONS,
  evaluateRun,
  evaluateUntrained,
  type BackboneEvaluation,
  type EvalProgress,
  type EvaluateOptions,
} from '@ediy/eval/node';
import {
  PRESET_NAMES,
  type DataConfig,
  type ExperimentConfig,
  type PresetName,
} from '@ediy/trainer';
import { booleanFlag, stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { EVAL_SETTINGS, presetOf } from '../evaluate.js';
import { println, type CliIO } from '../io.js';
import {
  BACKEND_FLAG,
  DATA_FLAG,
  HELD_OUT_FLAG,
  backendFlag,
  choiceFlag,
  dataFlag,
  integerValue,
} from '../options.js';
import { logEvaluation } from '../reproduce.js';
import { METRICS } from '../results.js';
import { readStepLog } from '../run-log.js';
import { checkImages, STRICT_FLAG } from '../unreadable.js';

/** The `eval` command. */
export const EVAL_SPEC: CommandSpec = {
  name: 'eval',
  summary:
    "Evaluate trained runs' online backbones on held-out images: kNN and linear-probe top-1, dense-probe mIoU, region diversity.",
  positionals: '<run...>',
  arity: { min: 1, max: Infinity },
  flags: {
    data: {
      ...DATA_FLAG,
      description:
        "data whose training part is the kNN memory and probe training set and whose held-out part is scored: 'scenes' or a path; default the run's own data",
      defaultText: undefined,
    },
    'held-out': HELD_OUT_FLAG,
    backend: BACKEND_FLAG,
    budget: {
      type: 'string',
      value: PRESET_NAMES.join('|'),
      description:
        "evaluation budget (images, probe epochs) of a preset; default the preset the run's scale matches",
    },
    memory: {
      type: 'string',
      value: 'n|all',
      description:
        "most training images used as kNN memory and probe training set (a stratified sample; all: the whole training part); default the budget's (10000 for mini, 20000 for paper, 256 for smoke)",
    },
    scored: {
      type: 'string',
      value: 'n|all',
      description:
        "most held-out images scored (a stratified sample; all: the whole held-out part); default the budget's (10000 for mini and paper, 256 for smoke)",
    },
    'no-tensorboard': {
      type: 'boolean',
      description:
        "do not add the metrics to the run's TensorBoard files (<run>/tb, eval/<metric> at the step evaluated; written by default)",
    },
    strict: STRICT_FLAG,
    untrained: {
      type: 'boolean',
      description:
        "evaluate the seeded initialisation of each run's architecture instead (a run directory or a config .json), with BatchNorm's initial statistics and with statistics estimated on training images; the better is the floor",
    },
  },
  details: `Writes <run>/eval.json for each run (<run>/eval-untrained.json with --untrained), and
adds the metrics to the run's TensorBoard files as eval/<metric> (as ediy reproduce does).
kNN: cosine, k = 20, T = 0.07, the training part as memory; linear probe on standardised
pooled features; kNN and linear top-1 with a 95% bootstrap interval over the scored images.
Metrics without labels (or masks) in the data are n/a. The memory and the scored images
are capped stratified samples (--memory, --scored); an image folder's are decoded as they
are read, a few batches ahead, never all at once. Progress goes to standard error; the
seconds of each part are in eval.json (evalSeconds, timings).
Examples:
  ediy eval runs/table1-byol/seed-0 runs/table1-ediy/seed-0
  ediy eval --untrained runs/table1-byol/seed-0 --data /usr/share/datasets/fashion-mnist`,
};

/** `0.7370 [0.7100, 0.7630]`, or `n/a`. */
function formatMetric(value: number, interval: Interval | undefined): string {
  if (!Number.isFinite(value)) return 'n/a';
  const ci =
    interval && Number.isFinite(interval.low) && Number.isFinite(interval.high)
      ? ` [${interval.low.toFixed(4)}, ${interval.high.toFixed(4)}]`
      : '';
  return `${value.toFixed(4)}${ci}`;
}

function metricCells(e: BackboneEvaluation): string[] {
  return METRICS.map((m) => formatMetric(e.metrics[m.key], e.intervals[m.key]));
}

/** The config of a run directory (`config.json`) or of a config `.json` file. */
function readConfig(arg: string, command: string): { config: ExperimentConfig; runDir?: string } {
  const path = resolve(arg);
  const isDir = existsSync(path) && statSync(path).isDirectory();
  const file = isDir ? runPaths(path).config : path;
  if (!existsSync(file) || !file.endsWith('.json')) {
    throw new UsageError(
      `ediy ${command}: ${JSON.stringify(arg)} is neither a run directory with config.json nor a config .json file`,
      command,
    );
  }
  let config: ExperimentConfig;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as ExperimentConfig;
  } catch (e) {
    throw new UsageError(`ediy ${command}: ${file} is not valid JSON (${String(e)})`, command);
  }
  if (typeof config?.scale?.backbone !== 'object' || typeof config.seed !== 'number') {
    throw new UsageError(
      `ediy ${command}: ${file} is not an experiment config (expected scale.backbone and seed)`,
      command,
    );
  }
  return isDir ? { config, runDir: path } : { config };
}

/** A run's data config (its `config.json`), or undefined when it has none to read. */
function runData(run: string): DataConfig | undefined {
  if (!existsSync(runPaths(run).config)) return undefined;
  try {
    return readRunConfig<ExperimentConfig>(run).scale.data;
  } catch {
    return undefined; // the evaluation reports it
  }
}

/** The unreadable images of every image folder evaluated (`--data`, else each run's own), each folder once. */
async function checkEvalImages(
  data: DataConfig | undefined,
  runs: readonly (DataConfig | undefined)[],
  strict: boolean,
  io: CliIO,
  command: string,
): Promise<void> {
  const all = data ? [data] : runs.filter((d): d is DataConfig => d !== undefined);
  const seen = new Set<string>();
  for (const d of all) {
    const key = d.kind === 'scenes' ? 'scenes' : d.path;
    if (seen.has(key) || (d.kind !== 'scenes' && !existsSync(d.path))) continue;
    seen.add(key);
    await checkImages(d, strict, io, command);
  }
}

/** `open 3.1 s, features 80.2 s, kNN 1.9 s, ...`: the seconds of each part of an evaluation. */
function timingLine(t: BackboneEvaluation['timings']): string {
  const parts: [string, number][] = [
    ['open', t.open],
    ['features', t.features],
    ['kNN', t.knn],
    ['linear', t.linear],
    ['dense', t.dense],
    ['diversity', t.diversity],
  ];
  return parts.map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
}

/** Seconds between two progress lines of the same phase. */
const PROGRESS_INTERVAL = 15;

/**
 * Prints an evaluation's progress on standard error: the start of every phase, and the
 * features' count with their rate and an estimate of the time left every
 * {@link PROGRESS_INTERVAL} seconds and at the end of each sample.
 */
function progressPrinter(io: CliIO, label: string): (p: EvalProgress) => void {
  let phase = '';
  let last = -Infinity;
  let phaseStart = 0;
  let phaseDone = 0;
  return (p) => {
    const fresh = p.phase !== phase;
    if (fresh) {
      // the rate is measured from the phase's first report on
      phase = p.phase;
      phaseStart = p.seconds;
      phaseDone = p.done;
      last = -Infinity;
    }
    const features = p.phase === 'memory' || p.phase === 'scored';
    if (!features) {
      if (fresh) println(io.stderr, `ediy: ${label}: ${p.phase} (${p.seconds.toFixed(0)} s)`);
      return;
    }
    if (p.done < p.total && p.seconds - last < PROGRESS_INTERVAL) return;
    last = p.seconds;
    const what = p.phase === 'memory' ? 'memory (training) images' : 'held-out images scored';
    const span = p.seconds - phaseStart;
    const rate = span > 0 ? (p.done - phaseDone) / span : NaN;
    const pace =
      Number.isFinite(rate) && rate > 0
        ? `, ${rate.toFixed(1)} images/s${p.done < p.total ? `, about ${((p.total - p.done) / rate).toFixed(0)} s left` : ''}`
        : '';
    println(
      io.stderr,
      `ediy: ${label}: features of ${p.done}/${p.total} ${what}${pace} (${p.seconds.toFixed(0)} s)`,
    );
  };
}

/** Runs `ediy eval`. */
export async function evalCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'eval';
  const data = dataFlag(args, cmd);
  const prefer = backendFlag(args, cmd);
  const strict = booleanFlag(args, 'strict');
  const budget =
    stringFlag(args, 'budget') === undefined
      ? undefined
      : choiceFlag<PresetName>(args, 'budget', PRESET_NAMES, 'mini', cmd);
  const cap = (name: 'memory' | 'scored'): number | undefined => {
    const arg = stringFlag(args, name);
    return arg === undefined
      ? undefined
      : arg === 'all'
        ? Infinity
        : integerValue(arg, name, cmd, 1);
  };
  const memory = cap('memory');
  const scored = cap('scored');
  const optionsFor = (config: ExperimentConfig, label: string): EvaluateOptions => ({
    ...(data ? { data } : {}),
    settings: EVAL_SETTINGS[budget ?? presetOf(config)],
    ...(memory !== undefined ? { memory } : {}),
    ...(scored !== undefined ? { test: scored } : {}),
    strict,
    onProgress: progressPrinter(io, label),
  });
  if (booleanFlag(args, 'untrained')) {
    const targets = args.positionals.map((p) => ({ arg: p, ...readConfig(p, cmd) }));
    await checkEvalImages(
      data,
      targets.map((t) => t.config.scale.data),
      strict,
      io,
      cmd,
    );
    await setupBackend(prefer, io);
    println(io.stdout, ['run', 'batchnorm', ...METRICS.map((m) => m.label), 'seconds'].join('\t'));
    for (const { arg, config, runDir } of targets) {
      const u = await evaluateUntrained(config, optionsFor(config, arg));
      for (const convention of BN_CONVENTIONS) {
        const e = u.conventions[convention];
        println(io.stdout, [arg, convention, ...metricCells(e), e.seconds.toFixed(1)].join('\t'));
      }
      println(
        io.stdout,
        `${arg}: untrained floor = ${u.floor} BatchNorm statistics (${u.best.memory} training images as memory, ${u.best.test} held-out images scored; ${u.seconds.toFixed(1)} s)`,
      );
      if (runDir) {
        writeJsonRecord(runPaths(runDir).evalUntrained, {
          floor: u.floor,
          metrics: u.best.metrics,
          intervals: u.best.intervals,
          conventions: u.conventions,
          heldOut: u.heldOut,
          evalSeconds: u.seconds,
        });
      }
    }
    return 0;
  }
  const runs = args.positionals.map((p) => resolve(p));
  for (const [i, run] of runs.entries()) {
    if (!isRunDir(run)) {
      throw new UsageError(
        `ediy ${cmd}: ${JSON.stringify(args.positionals[i])} is not a run directory (expected ${runPaths(run).checkpoints}); for an untrained network, add --untrained`,
        cmd,
      );
    }
  }
  await checkEvalImages(data, runs.map(runData), strict, io, cmd);
  await setupBackend(prefer, io);
  println(io.stdout, ['run', 'step', ...METRICS.map((m) => m.label), 'seconds'].join('\t'));
  for (const run of runs) {
    const { config } = readConfig(run, cmd);
    const evaluation = await evaluateRun(run, optionsFor(config, run));
    println(
      io.stderr,
      `ediy: ${run}: evaluated in ${evaluation.seconds.toFixed(1)} s (${timingLine(evaluation.timings)})`,
    );
    const log = readStepLog(runPaths(run).log);
    writeJsonRecord(runPaths(run).eval, {
      metrics: evaluation.metrics,
      intervals: evaluation.intervals,
      steps: evaluation.step,
      finalLoss: log[log.length - 1]?.loss ?? NaN,
      checkpoint: evaluation.checkpoint,
      trainSeconds: NaN,
      evalSeconds: evaluation.seconds,
      timings: evaluation.timings,
      memory: evaluation.memory,
      test: evaluation.test,
      heldOut: evaluation.heldOut,
      sizes: evaluation.sizes,
    });
    if (!booleanFlag(args, 'no-tensorboard'))
      logEvaluation(run, evaluation.step, evaluation.metrics);
    println(
      io.stdout,
      [
        run,
        String(evaluation.step),
        ...metricCells(evaluation),
        evaluation.seconds.toFixed(1),
      ].join('\t'),
    );
  }
  return 0;
}
