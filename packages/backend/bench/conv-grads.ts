/**
 * Conv gradient speed on wasm: for the conv layers of a ResNet-18 with the small-image
 * (3x3, stride 1) stem at 32 px, batch 32, width 64, prints per layer and in total the
 * forward time and GFLOP/s, and the backward input and filter times with ediy's kernels,
 * with wasm's built-in Conv2DBackpropInput, and with the cpu backend.
 *
 * Usage: npm run bench [-- --batch 32 --repeats 5 --cpu-batch 2 --only <layer name part>]
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ediy/core';
import { initBackend, replacedWasmKernel } from '../src/index.js';

interface Layer {
  name: string;
  /** How many convs of this shape ResNet-18 has. */
  count: number;
  /** Also time the (very slow) cpu backend on this layer. */
  cpu?: boolean;
  size: number;
  k: number;
  stride: number;
  cin: number;
  cout: number;
}

const LAYERS: Layer[] = [
  { name: 'conv1 3x3', count: 1, cpu: true, size: 32, k: 3, stride: 1, cin: 3, cout: 64 },
  { name: 'layer1 3x3', count: 4, size: 32, k: 3, stride: 1, cin: 64, cout: 64 },
  {
    name: 'layer2.0.conv1 3x3/2',
    count: 1,
    cpu: true,
    size: 32,
    k: 3,
    stride: 2,
    cin: 64,
    cout: 128,
  },
  { name: 'layer2.0.downsample 1x1/2', count: 1, size: 32, k: 1, stride: 2, cin: 64, cout: 128 },
  { name: 'layer2 3x3', count: 3, size: 16, k: 3, stride: 1, cin: 128, cout: 128 },
  { name: 'layer3.0.conv1 3x3/2', count: 1, size: 16, k: 3, stride: 2, cin: 128, cout: 256 },
  {
    name: 'layer3.0.downsample 1x1/2',
    count: 1,
    cpu: true,
    size: 16,
    k: 1,
    stride: 2,
    cin: 128,
    cout: 256,
  },
  { name: 'layer3 3x3', count: 3, size: 8, k: 3, stride: 1, cin: 256, cout: 256 },
  { name: 'layer4.0.conv1 3x3/2', count: 1, size: 8, k: 3, stride: 2, cin: 256, cout: 512 },
  { name: 'layer4.0.downsample 1x1/2', count: 1, size: 8, k: 1, stride: 2, cin: 256, cout: 512 },
  { name: 'layer4 3x3', count: 3, cpu: true, size: 4, k: 3, stride: 1, cin: 512, cout: 512 },
];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${process.argv[i + 1]}`);
  return v;
}

const BATCH = arg('batch', 32);
const REPEATS = Math.max(1, arg('repeats', 5));
const CPU_BATCH = Math.max(1, arg('cpu-batch', 2));
const onlyAt = process.argv.indexOf('--only');
const ONLY = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '') : '';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Row {
  layer: Layer;
  flops: number;
  fwd: number;
  input: number;
  filter: number;
  builtin: number;
  cpuInput?: number;
  cpuFilter?: number;
}

type Inputs = { x: tf.Tensor; w: tf.Tensor; dy: tf.Tensor };
type Run = (t: Inputs) => tf.TensorInfo;

/** ms of one call of `run` on fresh inputs (made outside the timing, as a training step would have them). */
function once(make: () => Inputs, run: Run): number {
  const inputs = make();
  const t0 = performance.now();
  const out = run(inputs);
  const ms = performance.now() - t0;
  tf.backend().disposeData(out.dataId);
  tf.dispose([inputs.x, inputs.w, inputs.dy]);
  return ms;
}

function kernelRun(
  name: string,
  backendName: string,
  pick: (t: Inputs) => tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): Run {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`no ${name} kernel on ${backendName}`);
  return (t) => k.kernelFunc({ inputs: pick(t), backend: tf.backend(), attrs }) as tf.TensorInfo;
}

function problem(layer: Layer, batch: number) {
  const rng = new Rng(layer.cin * 1000 + layer.cout + layer.stride);
  const out = Math.ceil(layer.size / layer.stride);
  const xShape = [batch, layer.size, layer.size, layer.cin];
  const wShape = [layer.k, layer.k, layer.cin, layer.cout];
  const dyShape = [batch, out, out, layer.cout];
  const flops = 2 * batch * out * out * layer.k * layer.k * layer.cin * layer.cout;
  const seeds = [rng.seed(), rng.seed(), rng.seed()];
  const attrs = { strides: layer.stride, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  // a fresh filter each run, as in training: wasm's conv repacks new weights
  const make = (): Inputs => ({
    x: tf.randomNormal(xShape, 0, 1, 'float32', seeds[0]),
    w: tf.randomNormal(wShape, 0, 0.1, 'float32', seeds[1]),
    dy: tf.randomNormal(dyShape, 0, 1, 'float32', seeds[2]),
  });
  const runs = (backendName: string) => ({
    fwd: kernelRun('Conv2D', backendName, (t) => ({ x: t.x, filter: t.w }), attrs),
    input: kernelRun('Conv2DBackpropInput', backendName, (t) => ({ dy: t.dy, filter: t.w }), {
      ...attrs,
      inputShape: xShape,
    }),
    filter: kernelRun('Conv2DBackpropFilter', backendName, (t) => ({ x: t.x, dy: t.dy }), {
      ...attrs,
      filterShape: wShape,
    }),
  });
  return { xShape, flops, attrs, make, runs };
}

async function measure(layer: Layer, withCpu: boolean): Promise<Row> {
  const { xShape, flops, attrs, make, runs } = problem(layer, BATCH);
  await tf.setBackend('wasm');
  const wasm = runs('wasm');
  const times = { fwd: [] as number[], input: [] as number[], filter: [] as number[] };
  // forward, input and filter gradients take turns, so a change in machine load hits all three
  for (let r = 0; r <= REPEATS; r++) {
    const fwd = once(make, wasm.fwd);
    const input = once(make, wasm.input);
    const filter = once(make, wasm.filter);
    if (r === 0) continue; // warm-up
    times.fwd.push(fwd);
    times.input.push(input);
    times.filter.push(filter);
  }
  let builtin = NaN;
  const old = replacedWasmKernel('Conv2DBackpropInput');
  if (old) {
    old.setupFunc?.(tf.backend());
    builtin = once(
      make,
      (t) =>
        old.kernelFunc({
          inputs: { dy: t.dy, filter: t.w },
          backend: tf.backend(),
          attrs: { ...attrs, inputShape: xShape },
        }) as tf.TensorInfo,
    );
  }
  const row: Row = {
    layer,
    flops,
    fwd: median(times.fwd),
    input: median(times.input),
    filter: median(times.filter),
    builtin,
  };
  if (withCpu) {
    // cpu time is linear in the batch: measured on CPU_BATCH images, scaled to BATCH
    await tf.setBackend('cpu');
    const small = problem(layer, CPU_BATCH);
    const cpu = small.runs('cpu');
    row.cpuInput = (once(small.make, cpu.input) * BATCH) / CPU_BATCH;
    row.cpuFilter = (once(small.make, cpu.filter) * BATCH) / CPU_BATCH;
  }
  return row;
}

const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1));
const pad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  await initBackend({ prefer: 'cpu' });
  await initBackend({ prefer: 'wasm' });
  console.log(
    `ResNet-18 conv layers, small-image stem, 32 px, batch ${BATCH}, width 64; tfjs ${tf.version_core}, wasm backend (1 thread, XNNPACK)`,
  );
  console.log(
    `ms: median of ${REPEATS} runs after a warm-up, a fresh filter each run; dx old (wasm's built-in Conv2DBackpropInput): 1 run`,
  );
  console.log(
    `cpu dx/dw: the cpu backend on 4 layers only (it is very slow), 1 run at batch ${CPU_BATCH} scaled x${BATCH / CPU_BATCH} to batch ${BATCH}`,
  );
  const header = [
    'layer'.padEnd(27),
    pad('n', 2),
    pad('fwd ms', 8),
    pad('GFLOP/s', 8),
    pad('dx ms', 8),
    pad('dw ms', 8),
    pad('bwd/fwd', 8),
    pad('dx old', 8),
    pad('cpu dx', 9),
    pad('cpu dw', 9),
  ].join(' ');
  console.log(header);
  console.log('-'.repeat(header.length));
  const total = { fwd: 0, input: 0, filter: 0, builtin: 0, flops: 0 };
  for (const layer of LAYERS.filter((l) => l.name.startsWith(ONLY))) {
    const r = await measure(layer, layer.cpu === true);
    const n = layer.count;
    total.fwd += n * r.fwd;
    total.input += n * r.input;
    total.filter += n * r.filter;
    total.builtin += n * r.builtin;
    total.flops += n * r.flops;
    console.log(
      [
        layer.name.padEnd(27),
        pad(String(n), 2),
        pad(f1(r.fwd), 8),
        pad(f1(r.flops / r.fwd / 1e6), 8),
        pad(f1(r.input), 8),
        pad(f1(r.filter), 8),
        pad(((r.input + r.filter) / r.fwd).toFixed(2), 8),
        pad(f1(r.builtin), 8),
        pad(f1(r.cpuInput), 9),
        pad(f1(r.cpuFilter), 9),
      ].join(' '),
    );
  }
  console.log('-'.repeat(header.length));
  const ratio = (total.input + total.filter) / total.fwd;
  console.log(
    [
      'total (x count)'.padEnd(27),
      pad('', 2),
      pad(f1(total.fwd), 8),
      pad(f1(total.flops / total.fwd / 1e6), 8),
      pad(f1(total.input), 8),
      pad(f1(total.filter), 8),
      pad(ratio.toFixed(2), 8),
      pad(f1(total.builtin), 8),
    ].join(' '),
  );
  console.log(
    `target backward(input + filter) <= 3x forward: ${ratio <= 3 ? 'MET' : 'NOT MET'} (${ratio.toFixed(2)}x); ` +
      `built-in wasm dx + new dw would be ${((total.builtin + total.filter) / total.fwd).toFixed(2)}x`,
  );
}

await main();
