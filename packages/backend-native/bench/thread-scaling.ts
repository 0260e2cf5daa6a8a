/**
 * Where the second thread is lost: two `bench/kernel-profile.ts --json` files of the same
 * step (one with `EDIY_THREADS=1`, one with `EDIY_THREADS=2`) side by side, by part of the
 * step (convolutions, the other native kernels, the kernels left on wasm, the JavaScript
 * outside every kernel) and by kernel: calls, wall ms at each thread count, the speed-up,
 * and the wall ms the second thread saved. Wall times compare only when both runs were
 * taken on an idle machine (the load average of each run is printed).
 *
 * Usage (from packages/backend-native):
 *   EDIY_THREADS=1 npx tsx --tsconfig tsconfig.check.json bench/kernel-profile.ts --json one.json
 *   EDIY_THREADS=2 npx tsx --tsconfig tsconfig.check.json bench/kernel-profile.ts --json two.json
 *   npx tsx --tsconfig tsconfig.check.json bench/thread-scaling.ts one.json two.json [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Tally {
  calls: number;
  wall: number;
  cpu: number;
}
interface Profile {
  engine: string;
  threads: number;
  loadAverage: number;
  steps: number;
  wall: number;
  cpu: number;
  outside: Tally;
  kernels: Record<string, Tally & { engine: string }>;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
if (positionals.length !== 2) {
  throw new Error(
    `thread-scaling: expected two kernel-profile JSON files (one thread, two threads), got ${positionals.length}`,
  );
}
const [one, two] = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile) as [
  Profile,
  Profile,
];
const top = Number(values.top);
const CONV = /^(FusedConv2D|Conv2D|Conv2DBackpropInput|Conv2DBackpropFilter)$/;
const zero: Tally = { calls: 0, wall: 0, cpu: 0 };
const plus = (a: Tally, b: Tally): Tally => ({
  calls: a.calls + b.calls,
  wall: a.wall + b.wall,
  cpu: a.cpu + b.cpu,
});
const group = (p: Profile, f: (name: string, engine: string) => boolean): Tally =>
  Object.entries(p.kernels)
    .filter(([k, t]) => f(k, t.engine))
    .reduce((a, [, t]) => plus(a, t), zero);

console.log(
  `## ${one.engine}: one step ${one.wall.toFixed(0)} ms wall on ${one.threads} thread(s) (load ${one.loadAverage.toFixed(1)}), ${two.wall.toFixed(0)} ms on ${two.threads} (load ${two.loadAverage.toFixed(1)}): ${(one.wall / two.wall).toFixed(2)}x\n`,
);
const header = (first: string): void => {
  console.log(
    `| ${first} | calls | wall ms, ${one.threads} thr. | wall ms, ${two.threads} thr. | speed-up | saved ms | CPU ms, ${two.threads} thr. | share of the ${two.threads}-thread step |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
};
const row = (label: string, a: Tally, b: Tally): void =>
  console.log(
    `| ${label} | ${b.calls.toFixed(0)} | ${a.wall.toFixed(0)} | ${b.wall.toFixed(0)} | ${b.wall > 0 ? (a.wall / b.wall).toFixed(2) : '-'} | ${(a.wall - b.wall).toFixed(0)} | ${b.cpu.toFixed(0)} | ${((100 * b.wall) / two.wall).toFixed(1)}% |`,
  );
header('part of the step');
const parts: [string, (n: string, e: string) => boolean][] = [
  ['convolutions (native)', (n) => CONV.test(n)],
  ['other native kernels', (n, e) => !CONV.test(n) && e === 'native'],
  ['kernels on wasm (one thread)', (_, e) => e === 'wasm'],
];
for (const [label, f] of parts) row(label, group(one, f), group(two, f));
row('outside kernels (tfjs and trainer JavaScript)', one.outside, two.outside);
row(
  '**the step**',
  { calls: 0, wall: one.wall, cpu: one.cpu },
  {
    calls: 0,
    wall: two.wall,
    cpu: two.cpu,
  },
);

console.log('\n### by kernel, the most wall time on two threads first\n');
header('kernel (engine)');
const names = Object.keys(two.kernels).sort(
  (a, b) => (two.kernels[b]?.wall ?? 0) - (two.kernels[a]?.wall ?? 0),
);
for (const name of names.slice(0, top)) {
  const b = two.kernels[name] as Tally & { engine: string };
  row(`${name} (${b.engine})`, one.kernels[name] ?? zero, b);
}
