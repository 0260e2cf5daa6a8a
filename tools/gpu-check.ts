/**
 * GPU check: one command a maintainer runs on a machine with a GPU (no network, a few
 * minutes). It finds the WebGPU adapter (and tfjs-node-gpu's device when installed),
 * runs the backend's webgpu kernel grid and ResNet-gradient tests against cpu, times a
 * backbone training step at the `mini` scale and at ResNet-50 224 px, tries one E-DIY
 * step and a smoke reproduce on webgpu (on the software adapter: one row, one step, with
 * its evaluation), times the PyTorch peer (tools/bench/torch_step.py) on CUDA beside each
 * of those steps when `torch.cuda.is_available()` (else its rows say why they are absent),
 * and prints one table. Without a
 * GPU it runs on the SwiftShader software adapter (Debian's chromium) and says so: its
 * timings are then CPU timings of the GPU code path.
 *
 * Usage: npx tsx --tsconfig tsconfig.check.json tools/gpu-check.ts [--quick]
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { readFileSync, rm } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  describeAdapter,
  initBackend,
  SWIFTSHADER_ICD,
  type BackendPreference,
  type GpuAdapterReport,
} from '@ediy/backend';
import { hasSwiftShader, probeWebGpuAdapter } from '@ediy/backend/node';
import { resnet } from '@ediy/backbones';
import { useFastBatchNorm } from '@ediy/trainer';
import {
  formatTable,
  parseTorchProbe,
  peerArgs,
  peerRow,
  TORCH_PROBE,
  torchPython,
  type PeerScale,
  type Row,
  type TorchProbe,
} from './gpu-check-peer.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TSX = ['tsx', '--tsconfig', `${root}tsconfig.check.json`];
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    child: { type: 'string' },
    backend: { type: 'string', default: 'webgpu' },
    depth: { type: 'string', default: '18' },
    size: { type: 'string', default: '32' },
    batch: { type: 'string', default: '64' },
    width: { type: 'string', default: '0.25' },
    steps: { type: 'string', default: '3' },
    bn: { type: 'string', default: 'fast' },
  },
});

interface Run {
  ok: boolean;
  out: string;
  seconds: number;
}

/** Runs a command in its own process group with a time limit (then the whole group is killed); never throws. */
function run(cmd: string, args: string[], cwd: string, timeoutS: number): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: process.env, detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        ok: code === 0 && !timedOut,
        out: timedOut ? `${out}\nfailed: timed out after ${timeoutS} s` : out,
        seconds: (performance.now() - t0) / 1000,
      });
    });
  });
}

/** The first line of `out` that reads as an error, for the table. */
function firstError(out: string): string {
  const lines = out.split('\n');
  const line =
    lines.find((l) => /^\s*(\w*Error|ediy: error):? /.test(l)) ??
    lines.find((l) => /error|failed/i.test(l) && !/^\s+at /.test(l));
  return (line ?? out.trim().split('\n').pop() ?? 'failed').trim().slice(0, 160);
}

/**
 * Child mode: images/s of a backbone training step (forward of the ResNet with the
 * trainer's fast BatchNorm, a loss on both outputs, backward, SGD) on one backend.
 */
async function backboneStep(): Promise<void> {
  const info = await initBackend({ prefer: values.backend as BackendPreference });
  const size = Number(values.size);
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const model = resnet({
    depth: Number(values.depth) as 18 | 50,
    stem: size >= 128 ? 'imagenet' : 'small',
    widthMultiplier: Number(values.width),
    inputShape: [size, size, 3],
  });
  if (values.bn === 'fast') useFastBatchNorm(model);
  const images = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const optimizer = tf.train.sgd(0.01);
  const step = async () => {
    const loss = optimizer.minimize(() => {
      const [map, pooled] = model.apply(images, { training: true }) as tf.Tensor[];
      return tf.add(
        tf.mean(tf.square(map as tf.Tensor)),
        tf.mean(pooled as tf.Tensor),
      ) as tf.Scalar;
    }, true) as tf.Scalar;
    await loss.data();
    loss.dispose();
  };
  await step(); // shaders compiled, buffers allocated
  const tensors = tf.memory().numTensors;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const ms = (performance.now() - t0) / steps;
  const leaked = tf.memory().numTensors - tensors;
  console.log(
    JSON.stringify({
      backend: info.name,
      device: info.device,
      ms,
      imagesPerSecond: (batch * 1000) / ms,
      leaked,
    }),
  );
  process.exit(0);
}

/** The PyTorch peer's step at `scale` on CUDA, as a row beside ours (or why it is absent). */
async function peer(
  python: string,
  probe: TorchProbe,
  check: string,
  scale: PeerScale,
  ours: ReadonlyArray<readonly [string, string]>,
): Promise<Row> {
  if (probe.kind !== 'cuda') return peerRow(check, probe);
  const r = await run(python, peerArgs(`${root}tools/bench/torch_step.py`, scale), root, 300);
  return peerRow(check, probe, r, ours);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const t0 = performance.now();

  // The PyTorch peer: asked first, so that its rows stand beside ours.
  const python = torchPython();
  const torch = parseTorchProbe(await run(python, ['-c', TORCH_PROBE], root, 60), python);
  const peerSteps = values.quick ? 1 : 3;

  // 1. The adapter: the machine's own; else SwiftShader, said so.
  let probe = await probeWebGpuAdapter();
  if (!probe.adapter && !process.env.VK_ICD_FILENAMES && hasSwiftShader()) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    probe = await probeWebGpuAdapter();
  }
  const adapter: GpuAdapterReport | undefined = probe.adapter;
  const software = adapter?.isFallbackAdapter ?? false;
  rows.push({
    check: 'WebGPU adapter (Dawn)',
    result: adapter
      ? `${describeAdapter(adapter)}${software ? ': NO GPU, software adapter: timings below are CPU timings' : ''}`
      : `none: ${probe.reason ?? 'unknown'}`,
  });

  // 2. tfjs-node-gpu, when installed: the device libtensorflow itself reports.
  const tfng = await run(
    'npx',
    [...TSX, fileURLToPath(import.meta.url), '--child', 'tensorflow'],
    root,
    120,
  );
  const tfngLine = tfng.out.split('\n').find((l) => l.startsWith('RESULT '));
  rows.push({
    check: 'tfjs-node(-gpu)',
    result: tfngLine ? tfngLine.slice(7) : `not usable: ${firstError(tfng.out)}`,
    seconds: tfng.seconds,
  });

  if (adapter) {
    // 3. The backend's webgpu tests: kernel grid and ResNet gradients vs cpu, memory flat.
    const tests = await run(
      'npx',
      [
        'vitest',
        'run',
        'test/webgpu-kernels.test.ts',
        'test/webgpu-resnet.test.ts',
        '--reporter=json',
      ],
      `${root}packages/backend`,
      600,
    );
    const json = tests.out.slice(tests.out.indexOf('{"numTotalTestSuites"'));
    let summary = firstError(tests.out);
    try {
      const r = JSON.parse(json.slice(0, json.lastIndexOf('}') + 1)) as {
        numPassedTests: number;
        numFailedTests: number;
        numPendingTests: number;
      };
      summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped (each within 1e-4 of the largest cpu value)`;
    } catch {
      // summary stays the first error line
    }
    rows.push({
      check: 'kernel grid + ResNet grads vs cpu',
      result: summary,
      seconds: tests.seconds,
    });

    // 4. Backbone training steps, webgpu beside wasm, at the mini and the paper scale.
    const scales = [
      {
        name: 'mini: ResNet-18 small stem, 32 px, width 0.25',
        depth: 18,
        size: 32,
        width: 0.25,
        batch: software || values.quick ? 2 : 64,
      },
      {
        name: 'paper: ResNet-50, 224 px',
        depth: 50,
        size: 224,
        width: 1,
        batch: software || values.quick ? 2 : 32,
      },
    ];
    for (const s of scales) {
      const check = `backbone step, ${s.name}, batch ${s.batch}`;
      const peerScale: PeerScale = {
        step: 'backbone',
        depth: s.depth as 18 | 50,
        width: Math.round(64 * s.width),
        size: s.size,
        batch: s.batch,
        steps: peerSteps,
      };
      if (software && s.depth === 50) {
        rows.push({
          check: `backbone step, ${s.name}`,
          result: 'skipped on the software adapter (it would outlast this check)',
        });
        rows.push(await peer(python, torch, check, peerScale, []));
        continue;
      }
      const ours: [string, string][] = [];
      for (const backend of ['webgpu', 'wasm']) {
        const steps = software || values.quick ? 1 : 3;
        const r = await run(
          'npx',
          [
            ...TSX,
            fileURLToPath(import.meta.url),
            '--child',
            'backbone',
            '--backend',
            backend,
            '--depth',
            String(s.depth),
            '--size',
            String(s.size),
            '--width',
            String(s.width),
            '--batch',
            String(s.batch),
            '--steps',
            String(steps),
          ],
          root,
          240,
        );
        const line = r.out.split('\n').find((l) => l.startsWith('{"backend"'));
        const m = line
          ? (JSON.parse(line) as { imagesPerSecond: number; ms: number; leaked: number })
          : undefined;
        const result = m
          ? `${m.imagesPerSecond.toPrecision(3)} images/s (${m.ms.toFixed(0)} ms/step, ${steps} timed, ${m.leaked} tensors leaked)`
          : `failed: ${firstError(r.out)}`;
        ours.push([backend, result]);
        rows.push({ check: `${check}, ${backend}`, result, seconds: r.seconds });
      }
      rows.push(await peer(python, torch, check, peerScale, ours));
    }

    // 5. One E-DIY step (the trainer's benchmark) at the mini scale, on the software adapter
    // at the smoke scale (the mini step outlasts 300 s there), and a smoke reproduce.
    const [batch, width, size] = software ? ['8', '4', '16'] : ['64', '16', '32'];
    const edi = await run(
      'npx',
      [
        ...TSX,
        'bench/step.ts',
        '--backend',
        'webgpu',
        '--batch',
        batch,
        '--width',
        width,
        '--size',
        size,
        '--steps',
        '1',
        '--no-torch',
      ],
      `${root}packages/trainer`,
      300,
    );
    const ediLine = edi.out.split('\n').find((l) => l.includes('images/s'));
    const ediCheck = `E-DIY step, ${software ? 'smoke' : 'mini'} scale (batch ${batch}, ${size} px)`;
    const ediResult = edi.ok && ediLine ? ediLine.trim() : `blocked: ${firstError(edi.out)}`;
    rows.push({ check: `${ediCheck}, webgpu`, result: ediResult, seconds: edi.seconds });
    rows.push(
      await peer(
        python,
        torch,
        ediCheck,
        {
          step: 'edi',
          depth: 18,
          width: Number(width),
          size: Number(size),
          batch: Number(batch),
          steps: peerSteps,
        },
        [['webgpu', ediResult]],
      ),
    );
    // The whole smoke table on a GPU; on the software adapter (a CPU) its BYOL row for one
    // step, with the untrained floor, the evaluation and the saliency grid.
    const small = software || values.quick ? ['--rows', 'byol', '--max-steps', '1'] : [];
    const reproduceArgs = ['table1', '--preset', 'smoke', ...small, '--backend', 'webgpu'];
    const out = `/tmp/ediy-gpu-check-${process.pid}`;
    const smoke = await run(
      'npx',
      [...TSX, 'packages/cli/src/bin.ts', 'reproduce', ...reproduceArgs, '--out', out],
      root,
      software || values.quick ? 600 : 300,
    );
    let metrics = '';
    try {
      const results = JSON.parse(readFileSync(`${out}/results.json`, 'utf8')) as {
        rows: { id: string; summary: Record<string, { mean: number | null }> }[];
      };
      metrics = results.rows
        .map((r) => `${r.id} kNN ${r.summary.knnTop1?.mean?.toFixed(3) ?? 'n/a'}`)
        .join(', ');
    } catch {
      // no results: the row failed, and the error says why
    }
    rm(out, { recursive: true, force: true }, () => undefined);
    rows.push({
      check: `ediy reproduce ${reproduceArgs.join(' ')}`,
      result: smoke.ok ? `completed (${metrics})` : `failed: ${firstError(smoke.out)}`,
      seconds: smoke.seconds,
    });
  } else {
    // No adapter for ours: the peer's timings alone, at the scales a GPU would run.
    for (const [check, scale] of [
      [
        'backbone step, mini: ResNet-18 small stem, 32 px, width 0.25, batch 64',
        { step: 'backbone', depth: 18, width: 16, size: 32, batch: 64, steps: peerSteps },
      ],
      [
        'backbone step, paper: ResNet-50, 224 px, batch 32',
        { step: 'backbone', depth: 50, width: 64, size: 224, batch: 32, steps: peerSteps },
      ],
      [
        'E-DIY step, mini scale (batch 64, 32 px)',
        { step: 'edi', depth: 18, width: 16, size: 32, batch: 64, steps: peerSteps },
      ],
    ] as const) {
      rows.push(await peer(python, torch, check, scale, []));
    }
  }

  // 6. The PyTorch peer: what was found (its timings stand beside ours above).
  rows.push({
    check: 'PyTorch peer on CUDA',
    result:
      torch.kind === 'cuda'
        ? `torch ${torch.torch} on ${torch.device} (${python}): timed beside each step above`
        : `absent: ${torch.reason}`,
  });

  console.log(
    formatTable(
      rows,
      `ediy GPU check (${((performance.now() - t0) / 1000).toFixed(0)} s)${software ? ': SOFTWARE ADAPTER, no GPU on this machine' : ''}`,
    ),
  );
}

/** Child mode: what tfjs-node(-gpu) gives, when installed (its own process: it cannot be unloaded). */
async function tensorflowDevice(): Promise<void> {
  try {
    const info = await initBackend({ prefer: 'tensorflow' });
    console.log('RESULT', `${info.package} on ${info.device}`, info.warnings.join('; '));
  } catch (err) {
    console.log('RESULT', (err as Error).message);
  }
  process.exit(0);
}

if (values.child === 'tensorflow') await tensorflowDevice();
else if (values.child === 'backbone') await backboneStep();
else await main();
