/**
 * Reading a run's `log.jsonl` back: one StepRecord a line. A resumed run may have
 * logged a step twice (logged, then interrupted before its checkpoint); the last
 * record of each step wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { StepRecord } from '@ediy/trainer';

/** The step records of a log file, one per step, in step order; [] when the file is absent. */
export function readStepLog(path: string): StepRecord[] {
  if (!existsSync(path)) return [];
  const bySteps = new Map<number, StepRecord>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let record: StepRecord;
      try {
        record = JSON.parse(line) as StepRecord;
      } catch (err) {
        throw new Error(`${path}:${i + 1}: not a JSON step record (${(err as Error).message})`, {
          cause: err,
        });
      }
      if (typeof record.step !== 'number' || typeof record.loss !== 'number') {
        throw new Error(
          `${path}:${i + 1}: a step record needs numeric 'step' and 'loss', got ${line.slice(0, 80)}`,
        );
      }
      bySteps.set(record.step, record);
    });
  return [...bySteps.values()].sort((a, b) => a.step - b.step);
}

/** The mean loss per step over several runs' logs (steps present in any log). */
export function meanLossCurve(
  logs: ReadonlyArray<ReadonlyArray<Pick<StepRecord, 'step' | 'loss'>>>,
): { x: number[]; y: number[] } {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const log of logs) {
    for (const r of log) {
      const s = sums.get(r.step) ?? { sum: 0, n: 0 };
      s.sum += r.loss;
      s.n += 1;
      sums.set(r.step, s);
    }
  }
  const steps = [...sums.keys()].sort((a, b) => a - b);
  return {
    x: steps,
    y: steps.map((k) => {
      const s = sums.get(k) as { sum: number; n: number };
      return s.sum / s.n;
    }),
  };
}
