/**
 * The step check the schedules share.
 */

/** Checks that `step` is an integer in [0, totalSteps]; the error names `where`. */
export function checkStep(step: number, totalSteps: number, where: string): void {
  if (!Number.isInteger(step) || step < 0 || step > totalSteps) {
    throw new RangeError(
      `${where} step must be an integer in [0, ${totalSteps}] (totalSteps), got ${String(step)}`,
    );
  }
}
