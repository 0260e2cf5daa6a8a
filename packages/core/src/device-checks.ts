/**
 * Input checks whose values are computed on the device. On the CPU backends (cpu, wasm,
 * the native engine, tfjs-node) a check reads its few values at once, as it always did.
 * On a GPU backend a synchronous read stalls the device, and on tfjs-backend-webgpu in
 * Node it is not possible at all (Dawn maps buffers only asynchronously); there, inside a
 * {@link DeviceChecks} scope, a check keeps its values on the device and the scope's owner
 * reads every pending check in one read (e.g. together with a training step's losses)
 * and raises the first failure with the same error the immediate check would have raised.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A check's values as read: a typed array or an array of numbers. */
export type CheckValues = ArrayLike<number> & Iterable<number>;

/** Throws when `values` (the check's values, flattened) show a failure. */
export type CheckJudge = (values: CheckValues) => void;

interface Pending {
  values: tf.Tensor;
  judge: CheckJudge;
}

const open: DeviceChecks[] = [];

/** The backends on which a check's values stay on the device inside a {@link DeviceChecks} scope. */
const DEFERRING_BACKENDS: ReadonlySet<string> = new Set(['webgpu', 'webgl']);

/** Whether checks of the current backend are deferred inside a scope (a GPU backend). */
export function defersChecks(backend: string = tf.getBackend()): boolean {
  return DEFERRING_BACKENDS.has(backend);
}

/**
 * Checks `values` (a small tensor computed from the input, e.g. its min and max) with
 * `judge`, which throws on a failure. Takes ownership of `values`. Inside a
 * {@link DeviceChecks} scope on a GPU backend the check is left pending on the device;
 * otherwise `values` is read now and judged.
 */
export function checkOnDevice(values: tf.Tensor, judge: CheckJudge): void {
  if (!(values instanceof tf.Tensor)) {
    throw new TypeError(`checkOnDevice: values must be a tf.Tensor, got ${String(values)}`);
  }
  if (typeof judge !== 'function') {
    throw new TypeError(`checkOnDevice: judge must be a function, got ${String(judge)}`);
  }
  const scope = open[open.length - 1];
  if (scope && (scope.defers ?? defersChecks())) {
    scope.add(values, judge);
    return;
  }
  let read: CheckValues;
  try {
    read = values.dataSync() as Float32Array;
  } finally {
    values.dispose();
  }
  judge(read);
}

/**
 * A scope that collects the checks of {@link checkOnDevice} on a GPU backend, so that they
 * are read once: {@link DeviceChecks.packed} gives their values as one vector, to read
 * along with other values, and {@link DeviceChecks.judge} raises the first failure. Open
 * scopes nest; a check goes to the innermost. Always {@link DeviceChecks.close} it.
 */
export class DeviceChecks {
  private readonly pending: Pending[] = [];
  private closed = false;

  private constructor(
    /** Whether checks are deferred whatever the backend (`undefined`: on a GPU backend only). */
    readonly defers: boolean | undefined,
  ) {}

  /**
   * Opens a scope: until it is closed, deferred checks are collected here.
   * @param options.defer - defer on every backend (`true`), on none (`false`), or on a GPU
   *   backend only (default, {@link defersChecks}).
   */
  static open(options: { defer?: boolean } = {}): DeviceChecks {
    if (options.defer !== undefined && typeof options.defer !== 'boolean') {
      throw new TypeError(
        `DeviceChecks.open: defer must be a boolean, got ${String(options.defer)}`,
      );
    }
    const scope = new DeviceChecks(options.defer);
    open.push(scope);
    return scope;
  }

  /** The number of checks left pending. */
  get size(): number {
    return this.pending.length;
  }

  /** @internal Keeps `values` (outside any tf.tidy) until the scope is judged or closed. */
  add(values: tf.Tensor, judge: CheckJudge): void {
    this.pending.push({ values: tf.keep(values), judge });
  }

  /** Stops collecting (checks go to the enclosing scope, or run at once). Idempotent. */
  stop(): void {
    const at = open.lastIndexOf(this);
    if (at >= 0) open.splice(at, 1);
  }

  /**
   * Every pending check's values, flattened, cast to float32 and concatenated in the
   * order they were made: a new tensor the caller disposes, or `null` when none is pending.
   */
  packed(): tf.Tensor1D | null {
    if (this.pending.length === 0) return null;
    return tf.tidy(() =>
      tf.concat(this.pending.map((p) => tf.cast(tf.reshape(p.values, [-1]), 'float32'))),
    ) as tf.Tensor1D;
  }

  /**
   * Runs each pending check's judge on its part of `values` (as read from
   * {@link DeviceChecks.packed}), in order, and throws the first failure. Closes the scope.
   */
  judge(values: ArrayLike<number>): void {
    const total = this.pending.reduce((n, p) => n + p.values.size, 0);
    if (values.length !== total) {
      this.close();
      throw new RangeError(
        `DeviceChecks.judge: expected the ${total} values of packed(), got ${values.length}`,
      );
    }
    const checks = this.pending.map((p) => [p.values.size, p.judge] as const);
    this.close();
    let at = 0;
    for (const [size, judge] of checks) {
      judge(Array.prototype.slice.call(values, at, at + size) as number[]);
      at += size;
    }
  }

  /** Stops collecting and frees the pending values. Idempotent. */
  close(): void {
    this.stop();
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending) p.values.dispose();
    this.pending.length = 0;
  }
}

/**
 * Runs `f` in a {@link DeviceChecks} scope, then reads the checks it left pending (one
 * asynchronous read) and throws the first failure. On a CPU backend the checks have run
 * inside `f` already (unless `options.defer`). When a deferred check fails, what `f`
 * returned is not disposed: `options.onFailure` gets it to free it.
 */
export async function withDeviceChecks<T>(
  f: () => T,
  options: { defer?: boolean; onFailure?: (result: T) => void } = {},
): Promise<T> {
  const { onFailure, ...scopeOptions } = options;
  const scope = DeviceChecks.open(scopeOptions);
  try {
    const result = f();
    scope.stop();
    const packed = scope.packed();
    if (!packed) return result;
    let values: ArrayLike<number>;
    try {
      values = await packed.data();
    } finally {
      packed.dispose();
    }
    try {
      scope.judge(values);
    } catch (err) {
      onFailure?.(result);
      throw err;
    }
    return result;
  } finally {
    scope.close();
  }
}
