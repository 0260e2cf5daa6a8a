/**
 * The `untrained` row of a reproduced table: for every seed, the seeded initialisation
 * of the table's architecture evaluated exactly like the trained rows (same data, budget
 * and probe seed), under both BatchNorm conventions, the better being the floor
 * ({@link evaluateUntrained}).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateUntrained, type BnConvention } from '@ediy/eval/node';
import { EVAL_SETTINGS } from './evaluate.js';
import type { ReproducePlan } from './plan.js';
import { readEvalJson, writeJson } from './reproduce.js';
import { summarizeRuns, type EvalMetrics, type RowResult, type RunResult } from './results.js';

/** The id of the untrained row in every table's results. */
export const UNTRAINED_ROW = 'untrained';

/** What `<out>/untrained/seed-<n>/eval.json` holds. */
export interface UntrainedRecord {
  /** What was evaluated: the architecture, seed and data (a rerun with others re-evaluates). */
  key: string;
  /** The floor's BatchNorm convention. */
  floor: BnConvention;
  /** The floor's metrics. */
  metrics: EvalMetrics;
  /** The floor's intervals (bootstrap over scored images). */
  intervals: RunResult['intervals'];
  /** Both conventions' metrics. */
  conventions: Record<BnConvention, { metrics: EvalMetrics; seconds: number }>;
  /** Seconds of the evaluation. */
  evalSeconds: number;
}

function readRecord(path: string): UntrainedRecord | undefined {
  return existsSync(path) ? readEvalJson<UntrainedRecord>(path) : undefined;
}

/**
 * Evaluates (or reads back, when already evaluated with the same architecture, seed and
 * data) the untrained floor of every seed of a plan and returns it as a table row with
 * id {@link UNTRAINED_ROW}. The backend must be initialised.
 */
export async function untrainedRow(plan: ReproducePlan): Promise<RowResult & { untrained: true }> {
  const runs: RunResult[] = [];
  for (const seed of plan.seeds) {
    const job = plan.jobs.find((j) => j.seed === seed) ?? plan.teacher;
    if (!job) throw new Error(`${plan.out}: the plan has no run of seed ${seed}`);
    const config = job.config;
    const data = plan.data ?? config.scale.data;
    const key = JSON.stringify({
      backbone: config.scale.backbone,
      seed: config.seed,
      data,
      preset: plan.preset,
    });
    const dir = join(plan.out, UNTRAINED_ROW, `seed-${seed}`);
    const path = join(dir, 'eval.json');
    let record = readRecord(path);
    if (record?.key !== key) {
      const u = await evaluateUntrained(config, { settings: EVAL_SETTINGS[plan.preset], data });
      record = {
        key,
        floor: u.floor,
        metrics: u.best.metrics,
        intervals: u.best.intervals,
        conventions: {
          initial: {
            metrics: u.conventions.initial.metrics,
            seconds: u.conventions.initial.seconds,
          },
          estimated: {
            metrics: u.conventions.estimated.metrics,
            seconds: u.conventions.estimated.seconds,
          },
        },
        evalSeconds: u.seconds,
      };
      mkdirSync(dir, { recursive: true });
      writeJson(path, record);
    }
    runs.push({
      seed,
      runDir: dir,
      steps: 0,
      finalLoss: NaN,
      metrics: record.metrics,
      ...(record.intervals ? { intervals: record.intervals } : {}),
    });
  }
  return {
    id: UNTRAINED_ROW,
    name: `${plan.table}-${UNTRAINED_ROW}`,
    label: 'untrained (seeded initialisation)',
    untrained: true,
    runs,
    summary: summarizeRuns(runs),
  };
}
