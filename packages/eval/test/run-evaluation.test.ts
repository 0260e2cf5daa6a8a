import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { resnet } from '@ediy/backbones';
import { writeSafetensors, type SafeTensor } from '@ediy/backbones/interop';
import {
  datasetStream,
  syntheticScenes,
  type DatasetBatch,
  type EvalParts,
  type ImageStream,
} from '@ediy/data';
import {
  DEFAULT_EVAL_SETTINGS,
  evaluateBackbone,
  evaluateRun,
  loadRunBackbone,
  resolveEvalSettings,
  type EvalProgress,
  type EvalSettings,
  type RunConfig,
} from '@ediy/eval/node';

beforeAll(async () => {
  // folder scans keep their header caches here, not in the user's cache folder
  process.env.EDIY_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ediy-eval-cache-'));
  await initBackend({ prefer: 'cpu' });
});

const backbone = { depth: 18, stem: 'small', widthMultiplier: 1 / 16 } as const;

const settings: EvalSettings = {
  ...DEFAULT_EVAL_SETTINGS,
  knnK: 3,
  linearEpochs: 3,
  linearBatch: 8,
  denseEpochs: 1,
  diversityImages: 8,
  bootstrap: 50,
};

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A plain folder of two classes of solid 12x12 PNGs: dark in a/, bright in b/. */
function folder(perClass: number): string {
  const dir = tempDir('ediy-eval-run-data-');
  for (const [k, cls] of ['a', 'b'].entries()) {
    mkdirSync(join(dir, cls));
    for (let i = 0; i < perClass; i++) {
      const png = new PNG({ width: 12, height: 12 });
      for (let p = 0; p < png.data.length; p += 4) {
        png.data.fill(k === 0 ? 20 + i : 200 + i, p, p + 3);
        png.data[p + 3] = 255;
      }
      writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
    }
  }
  return dir;
}

/**
 * A run directory as `@ediy/trainer` writes it: `checkpoints/step-00000007` with the
 * backbone's weights under `online.backbone/<i>` (and another model's, to be ignored).
 */
function runDir(
  config: RunConfig,
  seed: number,
): { dir: string; model: ReturnType<typeof resnet> } {
  const dir = tempDir('ediy-eval-run-');
  const ckpt = join(dir, 'checkpoints', 'step-00000007');
  mkdirSync(ckpt, { recursive: true });
  const model = resnet({ ...config.scale.backbone, seed });
  const tensors = new Map<string, SafeTensor>();
  model.getWeights().forEach((w, i) => {
    tensors.set(`online.backbone/${i}`, {
      dtype: 'F32',
      shape: w.shape.slice(),
      data: Float32Array.from(w.dataSync()),
    });
  });
  tensors.set('target.backbone/0', { dtype: 'F32', shape: [1], data: new Float32Array([5]) });
  writeFileSync(join(ckpt, 'tensors.safetensors'), writeSafetensors(tensors));
  writeFileSync(
    join(ckpt, 'state.json'),
    JSON.stringify({
      format: 1,
      step: 7,
      config,
      weights: {
        'online.backbone': model.weights.map((w) => w.originalName),
        'target.backbone': ['x'],
      },
      optimizer: [],
    }),
  );
  return { dir, model };
}

describe('loadRunBackbone', () => {
  it("reads the newest checkpoint's online backbone, and names what is missing", () => {
    const config: RunConfig = {
      seed: 1,
      scale: { backbone, data: { kind: 'scenes', count: 8, size: 16, numClasses: 2, seed: 0 } },
    };
    const { dir, model } = runDir(config, 9);
    const before = tf.memory().numTensors;
    const run = loadRunBackbone(dir);
    try {
      expect(run.step).toBe(7);
      expect(run.checkpoint).toBe(join(dir, 'checkpoints', 'step-00000007'));
      expect(run.config).toEqual(config);
      tf.tidy(() => {
        const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 3);
        const a = (model.predict(x) as tf.Tensor[])[1] as tf.Tensor;
        const b = (run.model.predict(x) as tf.Tensor[])[1] as tf.Tensor;
        expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
      });
    } finally {
      run.model.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before - model.weights.length);
    expect(() => loadRunBackbone(join(dir, 'nope'))).toThrow(/nope: run directory not found/);
    const empty = tempDir('ediy-eval-empty-');
    expect(() => loadRunBackbone(empty)).toThrow(/no checkpoint \(expected .*step-\*/);
    // another architecture than the weights': the mismatch is named
    const other = runDir(
      { ...config, scale: { ...config.scale, backbone: { ...backbone, depth: 34 } } },
      0,
    );
    other.model.dispose();
    writeFileSync(
      join(other.dir, 'checkpoints', 'step-00000007', 'tensors.safetensors'),
      writeSafetensors(new Map()),
    );
    expect(() => loadRunBackbone(other.dir)).toThrow(/tensor online\.backbone\/0 .* missing/);
  });
});

/** Evaluation data whose streams record when each batch is handed out. */
function recorded(events: string[]): EvalParts {
  const wrap = (d: ReturnType<typeof syntheticScenes>, tag: string): ImageStream => {
    const inner = datasetStream(d);
    return {
      ...inner,
      async *batches(batchSize: number): AsyncGenerator<DatasetBatch, void, undefined> {
        for await (const b of inner.batches(batchSize)) {
          events.push(`${tag} batch`);
          yield b;
        }
      },
    };
  };
  const train = syntheticScenes({ count: 20, size: 16, numClasses: 3, seed: 5 });
  const test = syntheticScenes({ count: 10, size: 16, numClasses: 3, seed: 6 });
  return {
    train: wrap(train, 'train'),
    heldOut: wrap(test, 'test'),
    how: 'seed',
    sizes: { train: 20, heldOut: 10 },
    unreadable: [],
    report: '',
  };
}

describe('evaluateBackbone', () => {
  it('streams the images through the forward passes batch by batch, with progress and timings, leaving no tensors', async () => {
    const model = resnet({ ...backbone, seed: 2 });
    try {
      const events: string[] = [];
      const progress: EvalProgress[] = [];
      const before = tf.memory().numTensors;
      const e = await evaluateBackbone(model, recorded(events), settings, 0, {
        batchSize: 4,
        onProgress: (p) => {
          progress.push(p);
          events.push(`${p.phase} ${p.done}`);
        },
      });
      expect(tf.memory().numTensors).toBe(before);
      // each batch is extracted before the next one is read: never the whole set at once
      expect(events.slice(0, 6)).toEqual([
        'train batch',
        'memory 4',
        'train batch',
        'memory 8',
        'train batch',
        'memory 12',
      ]);
      const scored = progress.filter((p) => p.phase === 'scored').map((p) => p.done);
      expect(scored).toEqual([4, 8, 10]);
      expect(progress.map((p) => p.phase)).toEqual(
        expect.arrayContaining(['memory', 'scored', 'knn', 'linear', 'dense', 'diversity']),
      );
      for (let i = 1; i < progress.length; i++)
        expect(progress[i]!.seconds).toBeGreaterThanOrEqual(progress[i - 1]!.seconds);
      expect([e.memory, e.test]).toEqual([20, 10]);
      const t = e.timings;
      expect(t.features).toBeGreaterThan(0);
      expect(t.features + t.knn + t.linear + t.dense + t.diversity).toBeLessThanOrEqual(
        e.seconds + 1e-6,
      );
      for (const v of [e.metrics.knnTop1, e.metrics.linearTop1, e.metrics.denseMIoU]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('evaluateRun', () => {
  it("scores capped samples of a run's held-out part, not images it trained on, and says how long each part took", async () => {
    const data = folder(10); // 16 training and 4 held-out images
    const config: RunConfig = {
      seed: 3,
      scale: { backbone, data: { kind: 'path', path: data, size: 12 } },
    };
    const { dir, model } = runDir(config, 4);
    model.dispose();
    const before = tf.memory().numTensors;
    const phases = new Set<string>();
    const e = await evaluateRun(dir, {
      settings: { ...settings, memory: 6, test: 1000 },
      batchSize: 4,
      onProgress: (p) => phases.add(p.phase),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect([e.memory, e.test, e.step, e.heldOut]).toEqual([6, 4, 7, 'split']);
    expect(e.sizes).toEqual({ train: 16, heldOut: 4 });
    expect(e.report).toMatch(/evaluation: 6 training images as memory, 4 held-out images scored/);
    expect(e.timings.open).toBeGreaterThan(0);
    expect(e.seconds).toBeGreaterThanOrEqual(e.timings.open + e.timings.features);
    expect([...phases]).toEqual(['memory', 'scored', 'knn', 'linear', 'diversity']);
    // dark and bright images: trivially separable, whatever the weights
    expect(e.metrics.knnTop1).toBe(1);
    // the caps of the options replace the budget's
    const capped = await evaluateRun(dir, { settings, memory: 4, test: 2, batchSize: 4 });
    expect([capped.memory, capped.test]).toEqual([4, 2]);
  });

  it('names a bad cap', () => {
    expect(() => resolveEvalSettings({ memory: 0 })).toThrow(
      /evaluation memory must be an integer >= 1 or Infinity, got 0/,
    );
    expect(() => resolveEvalSettings({ test: 2.5 })).toThrow(/evaluation test must be .*, got 2.5/);
    expect(resolveEvalSettings({ test: Infinity }).test).toBe(Infinity);
    expect([resolveEvalSettings().memory, resolveEvalSettings().test]).toEqual([10_000, 10_000]);
  });
});
