/**
 * The PyTorch peer's part of tools/gpu-check.ts, apart from the processes it runs so
 * that it can be tested without a GPU: which python to ask, what its answer about CUDA
 * means, the arguments of tools/bench/torch_step.py at each scale of the check, the
 * table rows it gives (images/s beside ours, or why the row is absent) and the table.
 */
import { existsSync } from 'node:fs';

/** A row of the GPU check's table. */
export interface Row {
  /** What was checked. */
  check: string;
  /** What came of it. */
  result: string;
  /** Wall-clock seconds it took, when it ran a process. */
  seconds?: number;
}

/** What a child process gave: whether it exited 0 in time, and its stdout and stderr. */
export interface ProcessOutcome {
  ok: boolean;
  out: string;
}

/**
 * The interpreter that has PyTorch: `$EDIY_TORCH_PYTHON` when set, else Debian's
 * /usr/bin/python3 (where python3-torch lives, which a virtualenv or pyenv first on PATH
 * may not see), else `python3`.
 */
export function torchPython(
  env: Record<string, string | undefined> = process.env,
  exists: (path: string) => boolean = existsSync,
): string {
  const named = env['EDIY_TORCH_PYTHON'];
  if (named !== undefined && named !== '') return named;
  return exists('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** The program {@link parseTorchProbe} reads: one JSON line about torch and CUDA. */
export const TORCH_PROBE =
  'import json, torch; c = torch.cuda.is_available(); ' +
  'print("TORCH " + json.dumps({"torch": torch.__version__, "cuda": c, "build": torch.version.cuda, ' +
  '"device": torch.cuda.get_device_name(0) if c else None}))';

/** What the python of {@link torchPython} says about PyTorch and CUDA. */
export type TorchProbe =
  | { kind: 'cuda'; torch: string; device: string }
  | { kind: 'no-cuda'; torch: string; reason: string }
  | { kind: 'missing'; reason: string };

/**
 * Reads the output of {@link TORCH_PROBE} run by `python`.
 * @returns `cuda` (the peer can run on the GPU), `no-cuda` (torch without a usable CUDA
 *   device, and why) or `missing` (no torch, and what failed).
 */
export function parseTorchProbe(outcome: ProcessOutcome, python: string): TorchProbe {
  const line = outcome.out.split('\n').find((l) => l.startsWith('TORCH '));
  if (!outcome.ok || line === undefined) {
    const last = outcome.out.trim().split('\n').pop()?.trim() ?? '';
    return {
      kind: 'missing',
      reason: `PyTorch not importable by ${python}${last ? ` (${last.slice(0, 120)})` : ''}; apt-get install python3-torch, or set EDIY_TORCH_PYTHON`,
    };
  }
  const p = JSON.parse(line.slice(6)) as {
    torch: string;
    cuda: boolean;
    build: string | null;
    device: string | null;
  };
  if (p.cuda) return { kind: 'cuda', torch: p.torch, device: p.device ?? 'CUDA device' };
  return {
    kind: 'no-cuda',
    torch: p.torch,
    reason: `torch.cuda.is_available() is False (torch ${p.torch} ${p.build ? `built with CUDA ${p.build}: no usable CUDA device or driver` : 'built without CUDA'})`,
  };
}

/** One step the peer times, at one scale of the check. */
export interface PeerScale {
  /** `backbone`: the check's backbone training step; `edi`: the E-DIY step of the trainer's benchmark. */
  step: 'backbone' | 'edi';
  depth: 18 | 50;
  /** Channels of the stem (64 x the backbone's width multiplier). */
  width: number;
  size: number;
  batch: number;
  steps: number;
}

/**
 * The arguments of tools/bench/torch_step.py for `scale` on CUDA; the 7x7 stem and
 * max-pool from 128 px up, as the check's own backbone step.
 */
export function peerArgs(script: string, scale: PeerScale): string[] {
  for (const [key, value] of Object.entries(scale)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`peer scale ${key} must be a positive integer, got ${value}`);
    }
  }
  return [
    script,
    '--device',
    'cuda',
    '--step',
    scale.step,
    '--depth',
    String(scale.depth),
    '--stem',
    scale.size >= 128 ? 'imagenet' : 'small',
    '--width',
    String(scale.width),
    '--size',
    String(scale.size),
    '--batch',
    String(scale.batch),
    '--steps',
    String(scale.steps),
    '--json',
  ];
}

/** What torch_step.py --json prints (the fields the check reads). */
export interface PeerResult {
  torch: string;
  device: string;
  msPerStep: number;
  imagesPerSecond: number;
}

/** The JSON line of torch_step.py's output, or undefined when there is none. */
export function parsePeerOutput(out: string): PeerResult | undefined {
  const line = out
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (line === undefined) return undefined;
  try {
    const r = JSON.parse(line) as Partial<PeerResult>;
    return typeof r.imagesPerSecond === 'number' && typeof r.msPerStep === 'number'
      ? (r as PeerResult)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The images/s a row of ours states (`12.3 images/s`), or undefined. */
export function imagesPerSecondOf(result: string): number | undefined {
  const m = /([0-9][0-9.e+]*) images\/s/.exec(result);
  return m ? Number(m[1]) : undefined;
}

/**
 * The peer's row beside one of ours.
 * @param check - what it times, e.g. `backbone step, mini: ..., batch 64`.
 * @param probe - what {@link parseTorchProbe} found.
 * @param run - the peer's process, when it ran (only with CUDA).
 * @param ours - our rows at that scale (`[label, result]`), for the ratio.
 */
export function peerRow(
  check: string,
  probe: TorchProbe,
  run?: ProcessOutcome & { seconds: number },
  ours: ReadonlyArray<readonly [string, string]> = [],
): Row {
  const label = `${check}, PyTorch CUDA`;
  if (probe.kind !== 'cuda') return { check: label, result: `absent: ${probe.reason}` };
  if (run === undefined) return { check: label, result: 'absent: not run' };
  const r = run.ok ? parsePeerOutput(run.out) : undefined;
  if (r === undefined) {
    const lines = run.out.trim().split('\n');
    const why =
      lines.find((l) => /error|failed|timed out/i.test(l) && !/^\s+File /.test(l)) ??
      lines.pop() ??
      'no output';
    return { check: label, result: `failed: ${why.trim().slice(0, 160)}`, seconds: run.seconds };
  }
  const ratios = ours
    .map(([name, result]) => [name, imagesPerSecondOf(result)] as const)
    .filter((x): x is readonly [string, number] => x[1] !== undefined)
    .map(([name, ips]) => `${name}/PyTorch ${(ips / r.imagesPerSecond).toPrecision(3)}`);
  return {
    check: label,
    result:
      `${r.imagesPerSecond.toPrecision(3)} images/s (${r.msPerStep.toFixed(0)} ms/step, torch ${r.torch} on ${r.device})` +
      (ratios.length ? `; ${ratios.join(', ')}` : ''),
    seconds: run.seconds,
  };
}

/** The one table the check prints (Markdown), under its heading. */
export function formatTable(rows: readonly Row[], heading: string): string {
  const w = Math.max('check'.length, ...rows.map((r) => r.check.length));
  return [
    `\n${heading}\n`,
    `| ${'check'.padEnd(w)} | result | s |`,
    `| ${'-'.repeat(w)} | --- | ---: |`,
    ...rows.map((r) => `| ${r.check.padEnd(w)} | ${r.result} | ${r.seconds?.toFixed(0) ?? ''} |`),
  ].join('\n');
}
