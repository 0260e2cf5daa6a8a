/**
 * Runs the project's PyTorch peer of the benchmarked step (tools/bench/torch_step.py)
 * in a child process with Debian's python3-torch.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What tools/bench/torch_step.py --json prints. */
export interface TorchStepResult {
  torch: string;
  threads: number;
  msPerStep: number;
  imagesPerSecond: number;
  cpuSecondsPerStep: number;
  stepsMs: number[];
}

/** The peer script, inside this repository. */
export const TORCH_STEP = fileURLToPath(
  new URL('../../../tools/bench/torch_step.py', import.meta.url),
);

/** Debian's python3-torch lives in the system interpreter, which may not be first on PATH. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Times the PyTorch step.
 * @returns its figures, or a one-line reason it could not run.
 */
export function runTorchStep(o: {
  width: number;
  batch: number;
  size: number;
  steps: number;
  threads: number;
  channelsLast?: boolean;
}): TorchStepResult | string {
  const args = [
    TORCH_STEP,
    '--width',
    String(o.width),
    '--batch',
    String(o.batch),
    '--size',
    String(o.size),
    '--steps',
    String(o.steps),
    '--threads',
    String(o.threads),
    '--json',
    ...(o.channelsLast ? ['--channels-last'] : []),
  ];
  try {
    const out = execFileSync(PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop() ?? '') as TorchStepResult;
  } catch (err) {
    return `PyTorch peer failed (python3-torch installed? apt-get install python3-torch): ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
}
