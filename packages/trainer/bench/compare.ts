/**
 * ediy's E-DIY training step against the PyTorch peer (tools/bench/torch_step.py) in the
 * same run: per CPU-second with one thread each, and wall-clock with every core each;
 * then the per-kernel GFLOP/s table of @ediy/backend-native beside PyTorch's.
 * Each configuration runs in its own child process; ours and PyTorch's alternate, so a
 * change in the machine's load hits both. The root `npm run bench` runs this.
 *
 * Usage: npm run bench -- [--backend native] [--steps 3] [--rounds 1] [--batch 64]
 *                         [--width 32] [--size 32] [--workers] [--wasm] [--no-kernels]
 *                         [--ours-wait active|passive]
 *   --workers   also two gradient threads of one oneDNN thread each (the replica worker)
 *   --wasm      also the plain wasm backend (one thread), the path before the native engine
 *   --ours-wait OpenMP's wait policy of our step only (OMP_WAIT_POLICY in our child's
 *               environment), the peer keeping the environment's (libgomp's default: it
 *               spins a while); `OMP_WAIT_POLICY=... npm run bench` sets both sides
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runTorchStep, type TorchStepResult } from './torch.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'native' },
    steps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    workers: { type: 'boolean', default: false },
    wasm: { type: 'boolean', default: false },
    'no-kernels': { type: 'boolean', default: false },
    'ours-wait': { type: 'string' },
  },
});
const oursWait = values['ours-wait']?.toUpperCase();
if (oursWait !== undefined && oursWait !== 'ACTIVE' && oursWait !== 'PASSIVE') {
  throw new Error(
    `--ours-wait must be active or passive, got ${JSON.stringify(values['ours-wait'])}`,
  );
}
/** Our child's environment: --ours-wait over the environment's OpenMP wait policy. */
const oursEnv: NodeJS.ProcessEnv =
  oursWait === undefined ? process.env : { ...process.env, OMP_WAIT_POLICY: oursWait };
/** How each side's OpenMP threads wait, for the header. */
const waitOf = (env: NodeJS.ProcessEnv, fallback: string): string =>
  env.OMP_WAIT_POLICY !== undefined
    ? `OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY}`
    : env.GOMP_SPINCOUNT !== undefined
      ? `GOMP_SPINCOUNT=${env.GOMP_SPINCOUNT}`
      : fallback;
const shape = {
  batch: Number(values.batch),
  width: Number(values.width),
  size: Number(values.size),
};
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const cores = availableParallelism();

interface OursResult {
  engine: string;
  threads: number;
  workers: number;
  msPerStep: number;
  imagesPerSecond: number;
  cpuSecondsPerStep: number;
  /** CPU-s of the views' augmentation alone (inside cpuSecondsPerStep; the peer has none). */
  augmentCpuSecondsPerStep: number;
}

const stepScript = fileURLToPath(new URL('./step.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../tsconfig.check.json', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));

function ours(backend: string, threads: number, workers: number): OursResult {
  const out = execFileSync(
    process.execPath,
    [
      tsx,
      '--tsconfig',
      tsconfig,
      stepScript,
      '--backend',
      backend,
      '--threads',
      String(threads),
      '--workers',
      String(workers),
      '--batch',
      String(shape.batch),
      '--width',
      String(shape.width),
      '--size',
      String(shape.size),
      '--steps',
      String(steps),
      '--json',
      '--no-torch',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: oursEnv },
  );
  return JSON.parse(out.trim().split('\n').pop() ?? '') as OursResult;
}

function torch(threads: number): TorchStepResult {
  const r = runTorchStep({ ...shape, steps, threads, channelsLast: true });
  if (typeof r === 'string') throw new Error(r);
  return r;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Row {
  label: string;
  ours: OursResult[];
  torch: TorchStepResult[];
}

function measure(
  label: string,
  backend: string,
  threads: number,
  workers: number,
  torchThreads: number,
): Row {
  const row: Row = { label, ours: [], torch: [] };
  for (let r = 0; r < rounds; r++) {
    row.ours.push(ours(backend, threads, workers));
    row.torch.push(torch(torchThreads));
  }
  return row;
}

const load0 = loadavg()[0] ?? 0;
console.log(
  `E-DIY step: ResNet-18 small stem, width ${shape.width}, ${shape.size} px, batch ${shape.batch}; ${steps} steps after a warm-up, ${rounds} round(s), medians; load average ${load0.toFixed(1)} at start; OpenMP wait: ours ${waitOf(oursEnv, "the engine's default PASSIVE")}, PyTorch ${waitOf(process.env, "libgomp's default (spins, then sleeps)")}`,
);
const rows: Row[] = [
  measure('1 thread each', values.backend, 1, 1, 1),
  measure(`${cores} threads each`, values.backend, cores, 1, cores),
];
if (values.workers)
  rows.push(measure('2 gradient threads x 1 oneDNN thread', values.backend, 1, 2, cores));
if (values.wasm) rows.push(measure('plain wasm, 1 thread (before)', 'wasm', 1, 1, 1));

console.log('');
console.log(
  '| configuration | ours | ours ms/step | ours images/s | ours CPU-s/step | of which augmentation | PyTorch images/s | PyTorch CPU-s/step | ratio images/s | ratio per CPU-second | same work per CPU-second |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) {
  const o = {
    ms: median(row.ours.map((r) => r.msPerStep)),
    ips: median(row.ours.map((r) => r.imagesPerSecond)),
    cpu: median(row.ours.map((r) => r.cpuSecondsPerStep)),
    aug: median(row.ours.map((r) => r.augmentCpuSecondsPerStep)),
  };
  const t = {
    ips: median(row.torch.map((r) => r.imagesPerSecond)),
    cpu: median(row.torch.map((r) => r.cpuSecondsPerStep)),
  };
  console.log(
    `| ${row.label} | ${row.ours[0]?.engine ?? ''} | ${o.ms.toFixed(0)} | ${o.ips.toFixed(1)} | ${o.cpu.toFixed(2)} | ${o.aug.toFixed(2)} | ${t.ips.toFixed(1)} | ${t.cpu.toFixed(2)} | **${(o.ips / t.ips).toFixed(2)}** | **${(t.cpu / o.cpu).toFixed(2)}** | **${(t.cpu / (o.cpu - o.aug)).toFixed(2)}** |`,
  );
}
console.log(
  `\nratio images/s = ours / PyTorch's (wall clock); ratio per CPU-second = PyTorch's CPU-s per step / ours (> 1: ours costs less); same work = the same without our step's augmentation of the two views, which the PyTorch peer does not do (it starts from ready views); both steps are otherwise the same network work (ours updates with LARS, the peer with SGD, a few passes over the weights). PyTorch ${rows[0]?.torch[0]?.torch ?? ''}, channels-last. Load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end.`,
);

if (!values['no-kernels']) {
  console.log('');
  const kernels = fileURLToPath(new URL('../../backend/bench/native-kernels.ts', import.meta.url));
  const nativeTsconfig = fileURLToPath(
    new URL('../../backend/tsconfig.check.json', import.meta.url),
  );
  execFileSync(process.execPath, [tsx, '--tsconfig', nativeTsconfig, kernels, '--threads', '1'], {
    stdio: 'inherit',
  });
}
