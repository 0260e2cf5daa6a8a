/**
 * Entry point of a replica worker thread ({@link ReplicaPool}): its own tfjs backend and
 * copy of the networks; per step it takes the current weights, computes its share of
 * the micro-batch with {@link microStep} and sends the gradients back.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initBackend, type BackendPreference, useFastTransposedMatMul } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { regionLossNames } from '@ediy/losses';
import { matcherNames } from '@ediy/matchers';
import { EDIY } from './ediy-method.js';
import type { Method, MethodSource } from './method.js';
import { variables, type MethodNetworks } from './state.js';
import {
  replicaVariables,
  type InitMessage,
  type ReplyMessage,
  type StepMessage,
} from './replica-protocol.js';
import { microStep } from './step.js';
import { ownedValues } from './replica-values.js';

interface Replica {
  init: InitMessage;
  nets: MethodNetworks<unknown, unknown>;
  variables: ReturnType<typeof replicaVariables>;
}

const port = parentPort;
if (!port) throw new Error('replica-worker must run in a worker thread');
let replica: Replica | undefined;

/** The wasm heap's size, on the wasm backend. */
function heapBytes(): { heapBytes?: number } {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? { heapBytes: heap.length } : {};
}

function reply(message: ReplyMessage, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

/** Imports a module (a path or a URL). */
type Load = (specifier: string) => Promise<unknown>;

/** Absolute paths as file URLs (what `import()` takes on every platform), URLs as they are. */
function asUrl(specifier: string): string {
  return isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
}

/** `import()`, or the `importModule` export of the module `loader`. */
async function loaderOf(loader: string | undefined): Promise<Load> {
  if (loader === undefined) return (specifier) => import(asUrl(specifier));
  const mod: unknown = await import(asUrl(loader));
  const importModule =
    typeof mod === 'object' && mod !== null && 'importModule' in mod ? mod.importModule : undefined;
  if (typeof importModule !== 'function')
    throw new Error(`worker loader ${loader} must export a function importModule(path)`);
  return (specifier) => Promise.resolve(importModule(specifier));
}

function isMethod(value: unknown): value is Method<unknown, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.name === 'string' &&
    ['build', 'modules', 'targets', 'terms', 'weights'].every((k) => typeof m[k] === 'function')
  );
}

/** The method a source names, checked to be one. */
async function importMethod(load: Load, source: MethodSource): Promise<Method<unknown, unknown>> {
  const mod = await load(source.module);
  const value =
    typeof mod === 'object' && mod !== null
      ? (mod as Record<string, unknown>)[source.export]
      : undefined;
  if (!isMethod(value))
    throw new Error(
      `${source.module} must export a method (name, build, modules, targets, terms, weights) as '${source.export}', got ${value === undefined ? 'nothing' : typeof value}`,
    );
  return value;
}

async function setUp(init: InitMessage): Promise<void> {
  await initBackend({
    prefer: (init.backend === 'native' || init.backend === 'wasm' || init.backend === 'cpu'
      ? init.backend
      : 'auto') as BackendPreference,
    ...(init.threads !== undefined ? { threads: init.threads } : {}),
  });
  useFastTransposedMatMul();
  const load = await loaderOf(init.loader);
  for (const specifier of init.imports) await load(specifier);
  const method = init.method ? await importMethod(load, init.method) : EDIY;
  const { online, target } = method.build(init.config, 'replica');
  let teacher: LayersModel | undefined;
  if (init.teacher) {
    // The main thread's teacher, serialised with its FastBatchNormalization layers.
    teacher = await tfl.loadLayersModel(tf.io.fromMemory(init.teacher));
    teacher.trainable = false;
  }
  const nets: MethodNetworks<unknown, unknown> = {
    method,
    online,
    target,
    ...(teacher ? { teacher } : {}),
  };
  replica = { init, nets, variables: replicaVariables(variables(nets)) };
  reply({ type: 'ready', regionLosses: regionLossNames(), matchers: matcherNames() });
}

function step(message: StepMessage): void {
  if (!replica) throw new Error('replica-worker: step before init');
  const { variables, nets, init } = replica;
  if (message.weights) {
    const all = [...variables.online, ...variables.target];
    if (message.weights.length !== all.length)
      throw new Error(
        `replica-worker: got ${message.weights.length} weights, the networks have ${all.length}`,
      );
    all.forEach((v, i) => {
      const value = tf.tensor(message.weights?.[i] as Float32Array, v.shape, 'float32');
      v.assign(value);
      value.dispose();
    });
  }
  const images = tf.tensor4d(message.images.data, message.images.shape);
  let result: ReturnType<typeof microStep>;
  try {
    result = microStep(init.config, nets, images, Rng.fromState(message.rng), init.views);
  } finally {
    images.dispose();
  }
  let grads: Array<Float32Array | null>;
  try {
    // A variable the loss does not depend on (e.g. a head no term uses) has no gradient.
    grads = variables.online.map((v) => {
      const g = result.grads[v.name];
      return g ? ownedValues(g) : null;
    });
  } finally {
    tf.dispose(Object.values(result.grads));
  }
  reply(
    {
      type: 'result',
      grads,
      loss: result.loss,
      terms: result.terms,
      timings: result.timings,
      numTensors: tf.memory().numTensors,
      ...heapBytes(),
    },
    grads.flatMap((g) => (g ? [g.buffer as ArrayBuffer] : [])),
  );
}

port.on('message', (message: InitMessage | StepMessage) => {
  const run =
    message.type === 'init' ? setUp(message) : Promise.resolve().then(() => step(message));
  run.catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    reply({ type: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
  });
});
