/**
 * Reading a run's `log.jsonl` back: one StepRecord a line. A resumed run may have
 * logged a step twice (logged, then interrupted before its checkpoint); the last
 * record of each step wins.
 */
import { readLog } from '@ediy/core/node';
import type { StepRecord } from '@ediy/trainer';

/**
 * The step records of a log file, one per step, in step order; [] when the file is absent.
 * @throws naming the file and line of a line that is not a step record with numeric
 *   `step` and `loss` (`@ediy/core/node`'s `readLog`, strict).
 */
export function readStepLog(path: string): StepRecord[] {
  return readLog(path, {
    strict: true,
    numeric: ['loss'],
    lastPerStep: true,
  }) as unknown as StepRecord[];
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
