/**
 * `ediy eval <run...>`: the proxy metrics of trained runs on held-out images, printed
 * as a table and written to each run's `eval.json`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PRESET_NAMES, type PresetName } from '@ediy/trainer';
import { stringFlag, type CommandSpec, type ParsedArgs } from '../args.js';
import { setupBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { EVAL_SETTINGS, evaluateRun } from '../evaluate.js';
import { println, type CliIO } from '../io.js';
import { BACKEND_FLAG, DATA_FLAG, backendFlag, choiceFlag, dataFlag } from '../options.js';
import { writeJson } from '../reproduce.js';
import { METRICS } from '../results.js';
import { readStepLog } from '../run-log.js';

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
      description: "held-out data: 'scenes' or a path; default the run's own data (its test split)",
      defaultText: undefined,
    },
    backend: BACKEND_FLAG,
    budget: {
      type: 'string',
      value: PRESET_NAMES.join('|'),
      description:
        "evaluation budget (images, probe epochs) of a preset; default the preset the run's scale matches",
    },
  },
  details: `Writes <run>/eval.json for each run. Metrics without labels (or masks) in the data are n/a.
Example:
  ediy eval runs/table1-byol/seed-0 runs/table1-ediy/seed-0`,
};

/** Runs `ediy eval`. */
export async function evalCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const cmd = 'eval';
  const data = dataFlag(args, cmd);
  const prefer = backendFlag(args, cmd);
  const budget =
    stringFlag(args, 'budget') === undefined
      ? undefined
      : choiceFlag<PresetName>(args, 'budget', PRESET_NAMES, 'mini', cmd);
  const runs = args.positionals.map((p) => resolve(p));
  for (const [i, run] of runs.entries()) {
    if (!existsSync(join(run, 'checkpoints'))) {
      throw new UsageError(
        `ediy ${cmd}: ${JSON.stringify(args.positionals[i])} is not a run directory (expected ${join(run, 'checkpoints')})`,
        cmd,
      );
    }
  }
  await setupBackend(prefer, io);
  println(io.stdout, ['run', 'step', ...METRICS.map((m) => m.label)].join('\t'));
  for (const run of runs) {
    const t0 = performance.now();
    const evaluation = await evaluateRun(run, {
      ...(data ? { data } : {}),
      ...(budget ? { settings: EVAL_SETTINGS[budget] } : {}),
    });
    const log = readStepLog(join(run, 'log.jsonl'));
    writeJson(join(run, 'eval.json'), {
      metrics: evaluation.metrics,
      steps: evaluation.step,
      finalLoss: log[log.length - 1]?.loss ?? NaN,
      checkpoint: evaluation.checkpoint,
      trainSeconds: NaN,
      evalSeconds: (performance.now() - t0) / 1000,
    });
    const values = METRICS.map((m) =>
      Number.isFinite(evaluation.metrics[m.key]) ? evaluation.metrics[m.key].toFixed(4) : 'n/a',
    );
    println(io.stdout, [run, String(evaluation.step), ...values].join('\t'));
  }
  return 0;
}
