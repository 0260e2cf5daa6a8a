/**
 * Data parallelism over two threads. tfjs-backend-wasm runs one thread under Node, so a
 * second core is used by a worker thread with its own backend and copy of the networks:
 * each micro-batch is split in halves, the training thread computes the first half's
 * gradients while the worker computes the second's, and the two are summed in order.
 *
 * The result is the same as gradient accumulation over the two halves in one thread:
 * replica `k` of micro-batch `m` draws from the random stream `micro-${2m + k}`, which is
 * what the halves get as micro-batches `2m` and `2m + 1` of a run with half the batch and
 * twice the accumulation. As in PyTorch's DistributedDataParallel without SyncBatchNorm,
 * each replica's BatchNorm normalises with the statistics of its own half; the moving
 * statistics kept (and checkpointed) are those of the first replica.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { currentBackend } from '@ediy/backend';
import type { Rng, RngState } from '@ediy/core';
import type { ViewParams } from '@ediy/augment';
import type { ExperimentConfig } from './config.js';
import type { MethodSource } from './method.js';
import { variables, type MethodNetworks } from './state.js';
import {
  replicaVariables,
  type InitMessage,
  type ReplyMessage,
  type StepMessage,
} from './replica-protocol.js';
import { ownedValues } from './replica-values.js';
import { addTiming, microStep, microStepAsync, type MicroStepResult } from './step.js';

/** How many threads compute gradients: 1, 2, or `auto` (see {@link resolveWorkers}). */
export type WorkersOption = 1 | 2 | 'auto';

/** The backends a CPU worker thread can replicate (ediy's native engine, tfjs's wasm and cpu). */
const CPU_REPLICA_BACKENDS: readonly string[] = ['native', 'wasm', 'cpu'];

/** The smallest micro-batch `auto` splits over two threads (each half then has 16 images or more). */
export const AUTO_WORKERS_MIN_BATCH = 32;

/**
 * The number of gradient threads for a config: an explicit 1 or 2 as given (2 needs an
 * even `batchSize`), and for `auto` 2 when the machine has two cores or more and the
 * micro-batch has at least {@link AUTO_WORKERS_MIN_BATCH} images (smaller steps spend
 * more on copying weights than they gain), else 1. The second thread is a CPU replica, so
 * on any other backend (webgpu, webgl, tfjs-node) `auto` is 1 and an explicit 2 is an error:
 * half of each step would run on the CPU beside the GPU, with other numerics.
 *
 * @param backend - The tfjs backend the run trains on (the current one when omitted).
 */
export function resolveWorkers(
  option: WorkersOption,
  config: ExperimentConfig,
  cores = availableParallelism(),
  backend: string = currentBackend()?.name ?? tf.getBackend(),
): 1 | 2 {
  if (option !== 1 && option !== 2 && option !== 'auto') {
    throw new Error(`workers must be 1, 2 or 'auto', got ${JSON.stringify(option)}`);
  }
  const cpuBackend = CPU_REPLICA_BACKENDS.includes(backend);
  if (option === 2 && !cpuBackend) {
    throw new Error(
      `workers: 2 runs half of each step in a CPU worker thread, which needs a CPU backend (${CPU_REPLICA_BACKENDS.join(', ')}); this run trains on ${JSON.stringify(backend)}: use workers: 1`,
    );
  }
  if (!cpuBackend) return 1;
  const batch = config.scale.batchSize;
  if (option === 2 && batch % 2 !== 0) {
    throw new Error(
      `workers: 2 splits each micro-batch in halves: config.scale.batchSize must be even, got ${batch}`,
    );
  }
  if (option !== 'auto') return option;
  return cores >= 2 && batch % 2 === 0 && batch >= AUTO_WORKERS_MIN_BATCH ? 2 : 1;
}

/** Options of {@link ReplicaPool.start}. */
export interface ReplicaPoolOptions {
  /** The run's config (the worker builds the same networks). */
  config: ExperimentConfig;
  /** The view parameters of the run. */
  views: readonly [ViewParams, ViewParams];
  /** The frozen teacher, copied to the worker once. */
  teacher?: LayersModel;
  /**
   * Modules the worker imports before building anything: a region loss or matcher
   * registered in this thread must be registered in the worker too.
   */
  imports?: readonly string[];
  /**
   * A module whose `importModule(path)` export the worker imports {@link imports} with
   * (e.g. one that compiles TypeScript); default the runtime's `import()`.
   */
  loader?: string;
  /** Where the worker imports the run's method from (default: E-DIY, built in). */
  method?: MethodSource;
}

/** A worker replica's result: its gradients as tensors of this thread (the caller owns them). */
export interface ReplicaResult extends MicroStepResult {
  /** Tensors alive in the worker after the step. */
  numTensors: number;
  /** Size of the worker's wasm heap after the step (wasm backend only). */
  heapBytes?: number;
}

/** The worker thread: the compiled entry, or from TypeScript sources (tests, benchmarks) through tsx. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./replica-worker.js', self));
  // tsx compiles the sources, with the workspace's mapping of @ediy/* to them when present.
  const tsconfig = fileURLToPath(new URL('../../../tsconfig.check.json', self));
  // The ESM build of tsx's API sits beside the CommonJS one that require.resolve finds.
  let api: string;
  try {
    api = createRequire(self).resolve('tsx/esm/api');
  } catch {
    throw new Error(
      '@ediy/trainer runs from its TypeScript sources here, and its worker thread needs tsx to load them: install tsx, or use workers: 1',
    );
  }
  const tsx = pathToFileURL(api.replace(/\.cjs$/, '.mjs')).href;
  const options = existsSync(tsconfig) ? `{ tsconfig: ${JSON.stringify(tsconfig)} }` : '{}';
  const entry = new URL('./replica-worker.ts', self).href;
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(${options}); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

async function saveArtifacts(model: LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts) throw new Error(`could not serialise model ${model.name} for the replica worker`);
  return artifacts;
}

/**
 * A worker thread holding a replica of the networks. Create it with
 * {@link ReplicaPool.start}; {@link dataParallelStep} uses it; `terminate` ends it.
 */
export class ReplicaPool {
  private sentVersion: number | undefined;
  private pending: { resolve: (m: ReplyMessage) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    /** Region losses the worker knows. */
    readonly regionLosses: readonly string[],
    /** Matchers the worker knows. */
    readonly matchers: readonly string[],
  ) {}

  /**
   * Starts the worker and waits until its networks are built.
   * @throws when the worker fails to start, naming the reason.
   */
  static async start(options: ReplicaPoolOptions): Promise<ReplicaPool> {
    const teacher = options.teacher ? await saveArtifacts(options.teacher) : undefined;
    const init: InitMessage = {
      type: 'init',
      config: options.config,
      views: options.views,
      // The ediy backend (native or plain wasm both say 'wasm' to tfjs).
      backend: currentBackend()?.name ?? tf.getBackend(),
      // On the native engine the worker runs one oneDNN thread: the training thread keeps
      // its own, and a worker thread never starts an OpenMP team of its own.
      ...(currentBackend()?.name === 'native' ? { threads: 1 } : {}),
      imports: options.imports ?? [],
      ...(options.loader ? { loader: options.loader } : {}),
      ...(options.method ? { method: options.method } : {}),
      ...(teacher ? { teacher } : {}),
    };
    const worker = startWorker();
    // Only listeners added here are removed: Worker keeps internal ones of its own.
    let listeners:
      | {
          message: (m: ReplyMessage) => void;
          error: (e: Error) => void;
          exit: (code: number) => void;
        }
      | undefined;
    const ready = await new Promise<ReplyMessage>((resolve, reject) => {
      listeners = {
        message: resolve,
        error: reject,
        exit: (code) =>
          reject(new Error(`the replica worker exited with code ${code} while starting`)),
      };
      worker.on('message', listeners.message);
      worker.on('error', listeners.error);
      worker.on('exit', listeners.exit);
      worker.postMessage(init);
    })
      .catch(async (err: unknown) => {
        await worker.terminate();
        throw err;
      })
      .finally(() => {
        if (!listeners) return;
        worker.off('message', listeners.message);
        worker.off('error', listeners.error);
        worker.off('exit', listeners.exit);
      });
    if (ready.type !== 'ready') {
      await worker.terminate();
      throw new Error(
        `the replica worker failed to start: ${ready.type === 'error' ? ready.message : ready.type}`,
      );
    }
    const pool = new ReplicaPool(worker, ready.regionLosses, ready.matchers);
    worker.on('message', pool.onMessage);
    worker.on('error', pool.onError);
    worker.on('exit', pool.onExit);
    return pool;
  }

  private readonly onMessage = (m: ReplyMessage): void => this.settle(m);
  private readonly onError = (e: Error): void => this.fail(e);
  private readonly onExit = (code: number): void =>
    this.fail(new Error(`the replica worker exited with code ${code}`));

  /** The config's region losses and matchers the worker does not know (registered in this thread only). */
  missingNames(config: ExperimentConfig): string[] {
    const missing = new Set<string>();
    for (const term of config.method.regionLosses) {
      if (!this.regionLosses.includes(term.loss)) missing.add(`region loss '${term.loss}'`);
      if (!this.matchers.includes(term.matcher)) missing.add(`matcher '${term.matcher}'`);
    }
    return [...missing];
  }

  private settle(message: ReplyMessage): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  /**
   * Sends the worker its share of a micro-batch; the weights go along when
   * `weightsVersion` differs from the last one sent. Posts at once, so the worker
   * computes while this thread does its own share.
   * @returns the worker's result, its gradients as new tensors (the caller owns them).
   */
  step<Online, Target>(
    images: tf.Tensor4D,
    rng: RngState,
    nets: MethodNetworks<Online, Target>,
    weightsVersion: number,
  ): Promise<ReplicaResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending)
      return Promise.reject(new Error('ReplicaPool.step: the previous step has not finished'));
    const sent = replicaVariables(variables(nets));
    const weights =
      this.sentVersion === weightsVersion
        ? undefined
        : [...sent.online, ...sent.target].map(ownedValues);
    const message: StepMessage = {
      type: 'step',
      images: { data: ownedValues(images), shape: images.shape },
      rng,
      ...(weights ? { weights } : {}),
    };
    const reply = new Promise<ReplyMessage>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.worker.postMessage(message, [
      message.images.data.buffer as ArrayBuffer,
      ...(weights ?? []).map((w) => w.buffer as ArrayBuffer),
    ]);
    this.sentVersion = weightsVersion;
    return reply.then((m) => {
      if (m.type === 'error') {
        this.sentVersion = undefined;
        throw new Error(`replica worker: ${m.message}`);
      }
      if (m.type !== 'result') throw new Error(`replica worker: unexpected reply '${m.type}'`);
      const grads: tf.NamedTensorMap = {};
      sent.online.forEach((v, i) => {
        const values = m.grads[i];
        if (values) grads[v.name] = tf.tensor(values, v.shape, 'float32');
      });
      return {
        grads,
        loss: m.loss,
        terms: m.terms,
        timings: m.timings,
        numTensors: m.numTensors,
        ...(m.heapBytes === undefined ? {} : { heapBytes: m.heapBytes }),
      };
    });
  }

  /** Ends the worker thread. */
  async terminate(): Promise<void> {
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    this.failure ??= new Error('the replica worker was terminated');
    await this.worker.terminate();
  }
}

/**
 * One micro-batch's gradients on one thread, or split over the thread and a
 * {@link ReplicaPool}'s worker. Replica `k` draws from `rngFor(k)`.
 * @param weightsVersion - changes whenever the weights changed (e.g. the optimiser step).
 * @returns one result per replica, in replica order; the caller owns their gradients.
 *   Replica 0's timings gain a `sync` phase: the time spent waiting for and copying
 *   to and from the worker.
 */
export async function dataParallelStep<Online, Target>(
  config: ExperimentConfig,
  nets: MethodNetworks<Online, Target>,
  images: tf.Tensor4D,
  rngFor: (replica: number) => Rng,
  views: readonly [ViewParams, ViewParams],
  pool: ReplicaPool | undefined,
  weightsVersion: number,
): Promise<MicroStepResult[]> {
  if (!pool) return [await microStepAsync(config, nets, images, rngFor(0), views)];
  const batch = images.shape[0];
  if (batch % 2 !== 0)
    throw new Error(
      `dataParallelStep: the micro-batch must have an even size to split in halves, got ${batch}`,
    );
  const start = performance.now();
  const [mine, theirs] = tf.tidy(() => [
    tf.slice(images, [0, 0, 0, 0], [batch / 2, -1, -1, -1]),
    tf.slice(images, [batch / 2, 0, 0, 0], [-1, -1, -1, -1]),
  ]) as [tf.Tensor4D, tf.Tensor4D];
  let remote: Promise<ReplicaResult>;
  try {
    remote = pool.step(theirs, rngFor(1).state(), nets, weightsVersion);
  } finally {
    theirs.dispose();
  }
  const posted = performance.now();
  let local: MicroStepResult;
  try {
    local = microStep(config, nets, mine, rngFor(0), views);
  } catch (err) {
    await remote.then((r) => tf.dispose(Object.values(r.grads))).catch(() => undefined);
    throw err;
  } finally {
    mine.dispose();
  }
  const computed = performance.now();
  let other: ReplicaResult;
  try {
    other = await remote;
  } catch (err) {
    tf.dispose(Object.values(local.grads));
    throw err;
  }
  addTiming(local.timings, 'sync', posted - start + (performance.now() - computed));
  return [local, other];
}

/**
 * How a step computes a micro-batch's gradients: on this thread ({@link oneThread}) or
 * split over this thread and a worker ({@link twoThreads}). `trainStep` and `update` take
 * one; the rest of the step (averaging, LARS, EMA) does not depend on it.
 */
export interface GradientStrategy {
  /** Results per micro-batch (replica r of micro-batch m draws from stream `micro-(m * replicas + r)`). */
  readonly replicas: 1 | 2;
  /**
   * One micro-batch's gradients, one result per replica (the caller owns their gradients).
   * @param weightsVersion - changes whenever the weights changed (the step number).
   */
  compute<Online, Target>(
    config: ExperimentConfig,
    nets: MethodNetworks<Online, Target>,
    images: tf.Tensor4D,
    rngFor: (replica: number) => Rng,
    views: readonly [ViewParams, ViewParams],
    weightsVersion: number,
  ): Promise<MicroStepResult[]>;
}

/** Every micro-batch's gradients on this thread ({@link microStepAsync}: it runs on every backend). */
export const oneThread: GradientStrategy = {
  replicas: 1,
  compute: async (config, nets, images, rngFor, views) => [
    await microStepAsync(config, nets, images, rngFor(0), views),
  ],
};

/** Each micro-batch split in halves over this thread and `pool`'s worker ({@link dataParallelStep}). */
export function twoThreads(pool: ReplicaPool): GradientStrategy {
  return {
    replicas: 2,
    compute: (config, nets, images, rngFor, views, version) =>
      dataParallelStep(config, nets, images, rngFor, views, pool, version),
  };
}
