/**
 * GFLOP per CPU-second of the native engine's convolution kernels on the conv shapes of the
 * benchmarked E-DIY step (ResNet-18 small stem, width 32, 32 px, batch 64): forward,
 * input gradient (dx) and filter gradient (dw), with NHWC activations ("ours") and with
 * oneDNN's blocked layout (reorders counted), beside plain wasm (with ediy's training
 * kernels) and PyTorch (tools/bench/torch_kernels.py, channels-last) in the same run.
 *
 * Usage: npm run bench:native -w @ediy/backend -- [--threads 1] [--runs 5] [--batch 64] [--width 32] [--size 32] [--no-wasm] [--no-torch]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '@ediy/backend';
import { enableNativeEngine } from '@ediy/backend-native';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    'no-wasm': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
const n = Number(values.batch);
const w = Number(values.width);
const s = Number(values.size);

interface Shape {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: number;
  count: number;
}

const SHAPES: Shape[] = [
  { name: 'conv1 3x3', x: [n, s, s, 3], filter: [3, 3, 3, w], stride: 1, pad: 1, count: 1 },
  { name: 'layer1 3x3', x: [n, s, s, w], filter: [3, 3, w, w], stride: 1, pad: 1, count: 4 },
  {
    name: 'layer2.0.conv1 3x3/2',
    x: [n, s, s, w],
    filter: [3, 3, w, 2 * w],
    stride: 2,
    pad: 1,
    count: 1,
  },
  {
    name: 'layer2.0.down 1x1/2',
    x: [n, s, s, w],
    filter: [1, 1, w, 2 * w],
    stride: 2,
    pad: 0,
    count: 1,
  },
  {
    name: 'layer2 3x3',
    x: [n, s / 2, s / 2, 2 * w],
    filter: [3, 3, 2 * w, 2 * w],
    stride: 1,
    pad: 1,
    count: 3,
  },
  {
    name: 'layer3.0.conv1 3x3/2',
    x: [n, s / 2, s / 2, 2 * w],
    filter: [3, 3, 2 * w, 4 * w],
    stride: 2,
    pad: 1,
    count: 1,
  },
  {
    name: 'layer3 3x3',
    x: [n, s / 4, s / 4, 4 * w],
    filter: [3, 3, 4 * w, 4 * w],
    stride: 1,
    pad: 1,
    count: 3,
  },
  {
    name: 'layer4.0.conv1 3x3/2',
    x: [n, s / 4, s / 4, 4 * w],
    filter: [3, 3, 4 * w, 8 * w],
    stride: 2,
    pad: 1,
    count: 1,
  },
  {
    name: 'layer4 3x3',
    x: [n, s / 8, s / 8, 8 * w],
    filter: [3, 3, 8 * w, 8 * w],
    stride: 1,
    pad: 1,
    count: 3,
  },
  {
    name: 'local head 1x1',
    x: [n, s / 8, s / 8, 8 * w],
    filter: [1, 1, 8 * w, 32 * w],
    stride: 1,
    pad: 0,
    count: 2,
  },
];

const explicitPad = (
  p: number,
): [[number, number], [number, number], [number, number], [number, number]] => [
  [0, 0],
  [p, p],
  [p, p],
  [0, 0],
];

function outShape(sh: Shape): [number, number, number, number] {
  const [b, h, ww] = sh.x;
  const [kh, kw, , co] = sh.filter;
  return [
    b,
    Math.floor((h + 2 * sh.pad - kh) / sh.stride) + 1,
    Math.floor((ww + 2 * sh.pad - kw) / sh.stride) + 1,
    co,
  ];
}

function gflop(sh: Shape): number {
  const [b, oh, ow, co] = outShape(sh);
  const [kh, kw, ci] = sh.filter;
  return (2 * b * oh * ow * co * kh * kw * ci) / 1e9;
}

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v[v.length >> 1] as number;
}

function time(fn: () => tf.TensorInfo, reps: number): number {
  const engine = tf.engine();
  // CPU time of the process (all its threads), not wall time: on a shared machine it
  // does not count the waits for a core, and it is what a per-CPU-second comparison wants.
  const once = () => {
    const t = process.cpuUsage();
    const out = fn();
    const used = process.cpuUsage(t);
    const ms = (used.user + used.system) / 1000;
    engine.backend.disposeData(out.dataId);
    return ms;
  };
  once();
  return median(Array.from({ length: reps }, once));
}

interface Timing {
  fwd: number;
  dx: number;
  dw: number;
}

function timeKernels(sh: Shape, reps: number): Timing {
  const x = tf.randomNormal(sh.x, 0, 1, 'float32', 1);
  const f = tf.randomNormal(sh.filter, 0, 1, 'float32', 2);
  const dy = tf.randomNormal(outShape(sh), 0, 1, 'float32', 3);
  const pad = explicitPad(sh.pad);
  const common = { strides: sh.stride, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>) => () =>
    tf
      .engine()
      .runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.TensorInfo;
  const r: Timing = {
    fwd: time(run('Conv2D', { x, filter: f }, { ...common, dilations: 1 }), reps),
    dx: time(run('Conv2DBackpropInput', { dy, filter: f }, { ...common, inputShape: sh.x }), reps),
    dw: time(run('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: sh.filter }), reps),
  };
  tf.dispose([x, f, dy]);
  return r;
}

const native = await initBackend({ prefer: 'native', threads });
// Both activation layouts of the native convolutions, shape by shape in turn (so a change
// in the machine's load hits both): NHWC directly, and oneDNN's blocked layout with the
// reorders from and to NHWC counted.
const ours: Timing[] = [];
const blocked: Timing[] = [];
for (const sh of SHAPES) {
  enableNativeEngine({ threads, layout: 'nhwc' });
  ours.push(timeKernels(sh, runs));
  enableNativeEngine({ threads, layout: 'blocked' });
  blocked.push(timeKernels(sh, runs));
}
enableNativeEngine({ threads, layout: 'nhwc' });
let wasm: Timing[] | undefined;
if (!values['no-wasm']) {
  await initBackend({ prefer: 'wasm' });
  wasm = SHAPES.map((sh) => timeKernels(sh, Math.min(runs, 2)));
}

let torch:
  | {
      torch: string;
      threads: number;
      results: Array<{ fwdMs: number; dxMs: number; dwMs: number }>;
    }
  | undefined;
let torchNote = '';
const peer = fileURLToPath(new URL('../../../tools/bench/torch_kernels.py', import.meta.url));
if (!values['no-torch']) {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  try {
    const out = execFileSync(
      python,
      [peer, JSON.stringify(SHAPES), '--threads', String(threads), '--runs', String(runs)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    torch = JSON.parse(out.trim().split('\n').pop() ?? '') as typeof torch;
  } catch (err) {
    torchNote = `PyTorch peer failed (apt-get install python3-torch): ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
}

const g = (sh: Shape, ms: number | undefined) =>
  ms === undefined ? '-' : (gflop(sh) / (ms / 1000)).toFixed(0);
console.log(
  `Conv kernels of the E-DIY step (batch ${n}, width ${w}, ${s} px): GFLOP per CPU-second (process CPU time, all threads), median of ${runs} runs; ours: ${native.engine ?? native.name}; wasm: tfjs-backend-wasm with ediy's training kernels (1 thread, ${Math.min(runs, 2)} runs); PyTorch ${torch ? `${torch.torch}, ${torch.threads} thread(s), channels-last` : `not run${torchNote ? ` (${torchNote})` : ''}`}`,
);
console.log(
  '| layer | n | GFLOP | fwd ours | fwd blocked | fwd wasm | fwd torch | dx ours | dx blocked | dx wasm | dx torch | dw ours | dw blocked | dw wasm | dw torch |',
);
console.log(
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
);
const totals = { ours: 0, blocked: 0, wasm: 0, torch: 0 };
SHAPES.forEach((sh, i) => {
  const o = ours[i] as Timing;
  const b = blocked[i] as Timing;
  const wa = wasm?.[i];
  const t = torch?.results[i];
  totals.ours += sh.count * (o.fwd + o.dx + o.dw);
  totals.blocked += sh.count * (b.fwd + b.dx + b.dw);
  if (wa) totals.wasm += sh.count * (wa.fwd + wa.dx + wa.dw);
  if (t) totals.torch += sh.count * (t.fwdMs + t.dxMs + t.dwMs);
  console.log(
    `| ${sh.name} | ${sh.count} | ${gflop(sh).toFixed(2)} | ${g(sh, o.fwd)} | ${g(sh, b.fwd)} | ${g(sh, wa?.fwd)} | ${g(sh, t?.fwdMs)} | ${g(sh, o.dx)} | ${g(sh, b.dx)} | ${g(sh, wa?.dx)} | ${g(sh, t?.dxMs)} | ${g(sh, o.dw)} | ${g(sh, b.dw)} | ${g(sh, wa?.dw)} | ${g(sh, t?.dwMs)} |`,
  );
});
console.log(
  `\none forward + backward of these convs (x count), CPU ms: ours ${totals.ours.toFixed(0)} (blocked layout ${totals.blocked.toFixed(0)})${wasm ? `, wasm ${totals.wasm.toFixed(0)}` : ''}${torch ? `, PyTorch ${totals.torch.toFixed(0)} (PyTorch / ours: ${(totals.torch / totals.ours).toFixed(2)})` : ''}`,
);
