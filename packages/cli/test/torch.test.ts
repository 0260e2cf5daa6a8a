import * as tf from '@tensorflow/tfjs-core';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  exportTorchvisionWeights,
  inferTorchvisionConfig,
  readSafetensors,
} from '@ediy/backbones/interop';
import { loadModelFromDir } from '@ediy/backbones/node';
import type { ReproducePlan } from '@ediy/cli';
import { ediyProcess } from './same-results.js';
import { tempDir } from './helpers.js';

const TOOLS = fileURLToPath(new URL('../../../tools/torch/', import.meta.url));
// Debian's python3-torch lives in the system interpreter, which may not be first on PATH.
const PYTHON =
  process.env.EDIY_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Why the PyTorch trainer cannot run here, or undefined. */
function torchMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torch.distributed'], {
      stdio: 'pipe',
      timeout: 60_000,
    });
    return undefined;
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    const why = (e.stderr?.toString() ?? e.message).trim().split('\n').pop();
    return `${PYTHON} cannot import torch (${why}); apt-get install python3-torch`;
  }
}

const missing = torchMissing();
if (missing) console.warn(`torch.test.ts: skipped: ${missing}`);
const run = promisify(execFile);

async function python(args: readonly string[]): Promise<string> {
  try {
    const { stderr } = await run(PYTHON, args, {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    return stderr;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${PYTHON} ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

async function pythonStdout(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, args, { encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(
      `${PYTHON} ${args.join(' ')} failed: ${e.stderr ?? e.message} ${e.stdout ?? ''}`,
      { cause: err },
    );
  }
}

interface StepRecord {
  step: number;
  loss: number;
  terms: Record<string, number>;
  processes: number;
}

function readLog(path: string): StepRecord[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);
}

describe.skipIf(missing !== undefined)(
  `tools/torch: E-DIY under torchrun${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('takes the TypeScript step, trains a smoke E-DIY row on two gloo processes as on one, and its backbone comes back bit-exact', async () => {
      const out = tempDir('ediy-torch-');
      const common = [
        'reproduce',
        'table1',
        '--preset',
        'smoke',
        '--rows',
        'byol,ediy',
        '--backend',
        'wasm',
      ];
      await ediyProcess([...common, '--out', out, '--teacher-only']);
      const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as ReproducePlan;
      const job = plan.jobs.find((j) => j.id === 'ediy/seed-0');
      expect(job?.config.teacher).toEqual({ run: join(out, 'teacher') });
      const config = join(out, 'ediy-config.json');
      writeFileSync(config, JSON.stringify(job?.config, null, 2));
      const teacher = join(out, 'teacher.safetensors');
      await ediyProcess([
        'export',
        join(out, 'teacher'),
        '--format',
        'torchvision',
        '--out',
        teacher,
      ]);
      const images = join(out, 'images.safetensors');
      await run(process.execPath, [
        join(TOOLS, 'write-images.mjs'),
        join(out, 'plan.json'),
        '--job',
        'ediy/seed-0',
        images,
      ]);

      const trainer = join(TOOLS, 'ediy_train.py');
      // One micro-step of the TypeScript trainer, and PyTorch's on its very weights and views.
      const tsStep = join(out, 'ts-step.safetensors');
      await run(process.execPath, [join(TOOLS, 'ts-step.mjs'), config, tsStep]);
      const check = JSON.parse(
        await pythonStdout([trainer, '--config', config, '--check-step', tsStep]),
      ) as {
        torch: Record<string, number>;
        ts: Record<string, number>;
        gradients: number;
        worstGradientRelDiff: number;
      };
      console.log(`PyTorch step vs TypeScript step: ${JSON.stringify(check)}`);
      // Every online weight's gradient: the backbone's 60 tensors and the heads' 20.
      expect(check.gradients).toBe(80);
      expect(check.worstGradientRelDiff).toBeLessThan(1e-3);
      expect(Object.keys(check.ts).sort()).toEqual(['byol', 'loss', 'r-dem', 'r-iem']);
      for (const [k, v] of Object.entries(check.ts))
        expect(Math.abs((check.torch[k] as number) - v), k).toBeLessThan(1e-5);

      const flags = ['--config', config, '--images', images, '--teacher-weights', teacher];
      const t0 = performance.now();
      // torchrun of Debian's torch 1.13 on Python 3.11 needs an explicit --redirects (its default trips on an IntFlag).
      const log = await python([
        '-m',
        'torch.distributed.run',
        '--nproc_per_node',
        '2',
        '--redirects',
        '2',
        '--tee',
        '2',
        '--log_dir',
        join(out, 'torchrun'),
        trainer,
        ...flags,
        '--out',
        join(out, 'two'),
      ]);
      console.log(
        `torchrun --nproc_per_node 2, smoke E-DIY (3 steps): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      expect(log).toMatch(/step 3\/3 loss [\d.]+ \([\d.]+ images\/s, 2 x gloo\)/);
      await python([trainer, ...flags, '--out', join(out, 'one')]);

      // DDP with BatchNorm over both processes' halves is the one-process step on the whole batch.
      const two = readLog(join(out, 'two', 'log.jsonl'));
      const one = readLog(join(out, 'one', 'log.jsonl'));
      expect(two.map((r) => r.processes)).toEqual([2, 2, 2]);
      expect(one.map((r) => r.processes)).toEqual([1, 1, 1]);
      expect(Object.keys(two[0]?.terms ?? {})).toEqual(['byol', 'r-dem', 'r-iem']);
      for (const [i, r] of two.entries()) {
        const o = one[i] as StepRecord;
        expect(Math.abs(r.loss - o.loss)).toBeLessThan(1e-5 * Math.abs(o.loss));
        for (const [k, v] of Object.entries(r.terms))
          expect(Math.abs(v - (o.terms[k] as number))).toBeLessThan(1e-5);
      }
      const w2 = readSafetensors(
        new Uint8Array(readFileSync(join(out, 'two', 'backbone.safetensors'))),
      );
      const w1 = readSafetensors(
        new Uint8Array(readFileSync(join(out, 'one', 'backbone.safetensors'))),
      );
      let worst = 0;
      for (const [k, t] of w2) {
        if (t.dtype !== 'F32') continue;
        const o = w1.get(k)?.data as Float32Array;
        t.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(Number(v) - (o[i] as number)))));
      }
      expect(worst).toBeLessThan(1e-4);

      // The backbone through `ediy import-weights` and back out: every tensor bit for bit.
      const file = join(out, 'two', 'backbone.safetensors');
      const modelDir = join(out, 'imported');
      const imported = await ediyProcess([
        'import-weights',
        file,
        '--arch',
        'resnet18',
        '--out',
        modelDir,
        '--backend',
        'wasm',
      ]);
      expect(imported.stderr).toMatch(
        /loaded \d+ tensors, ignored \d+ \(fc, num_batches_tracked\)/,
      );
      await initBackend({ prefer: 'wasm' });
      const before = tf.memory().numTensors;
      const original = readSafetensors(new Uint8Array(readFileSync(file)), file);
      const model = await loadModelFromDir(modelDir);
      try {
        const back = exportTorchvisionWeights(model, inferTorchvisionConfig(original));
        const floats = [...original].filter(([, t]) => t.dtype === 'F32');
        expect(floats.length).toBeGreaterThan(50);
        expect([...back.keys()].sort()).toEqual([...original.keys()].sort());
        for (const [k, t] of floats) {
          const b = back.get(k);
          expect(b?.shape, k).toEqual(t.shape);
          const bits = (x: Float32Array | Float64Array | BigInt64Array | undefined): Uint8Array =>
            new Uint8Array(x?.buffer ?? new ArrayBuffer(0), x?.byteOffset, x?.byteLength);
          expect(Buffer.compare(bits(b?.data), bits(t.data)), k).toBe(0);
        }
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }, 300_000);
  },
);
