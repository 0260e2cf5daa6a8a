/**
 * LARS (layer-wise adaptive rate scaling) in the form BYOL uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange } from '@ediy/core';
import { excludeBiasAndNorm } from './exclude.js';
import { larsStep } from './lars-step.js';
import { FUSED_UPDATE_KERNELS, canFuse } from './fused.js';
import type { ExcludePredicate } from './exclude.js';

/** A `{ name, tensor }` pair, as `tf.Optimizer.getWeights` / `setWeights` use them. */
export type NamedTensor = Parameters<tf.Optimizer['setWeights']>[0][number];

/** Options of {@link LARS}. Defaults are BYOL's. */
export interface LarsOptions {
  /** The learning rate lr, >= 0. Change it every step with {@link LARS.setLearningRate}. */
  learningRate: number;
  /** Momentum coefficient m in [0, 1] (default 0.9). */
  momentum?: number;
  /** Weight decay wd >= 0 (default 1.5e-6), added to the gradient of non-excluded parameters. */
  weightDecay?: number;
  /** Trust coefficient eta > 0 (default 1e-3). */
  eta?: number;
  /**
   * solo-learn's learning-rate clipping (default false, BYOL's LARS): the trust ratio r
   * of a non-excluded parameter becomes min(r / lr, 1), so its step is min(r, lr) times
   * its weight-decayed gradient (see {@link clippedTrustRatio}). solo-learn's CIFAR BYOL
   * recipe uses it with eta 0.02.
   */
  clip?: boolean;
  /**
   * Which parameters get neither weight decay nor adaptation (default
   * {@link excludeBiasAndNorm}). Pass `() => false` to adapt every parameter.
   */
  exclude?: ExcludePredicate;
}

/** What {@link LARS.getConfig} returns: the options, with the predicate by name. */
export interface LarsConfig {
  learningRate: number;
  momentum: number;
  weightDecay: number;
  eta: number;
  /** Whether the trust ratio is clipped as solo-learn's (see {@link LarsOptions.clip}). */
  clip: boolean;
  /** `'excludeBiasAndNorm'` for the default predicate, `'custom'` for any other. */
  exclude: 'excludeBiasAndNorm' | 'custom';
}

/** The suffix of a momentum buffer's name in {@link LARS.getWeights}. */
export const MOMENTUM_SUFFIX = '/momentum';

/** The name of the step counter in {@link LARS.getWeights}, as tfjs optimisers use. */
export const ITERATIONS_NAME = 'iter';

function checkOptions(options: LarsOptions): Required<LarsOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`LARS options must be an object, got ${String(options)}`);
  }
  const resolved = {
    learningRate: options.learningRate,
    momentum: options.momentum ?? 0.9,
    weightDecay: options.weightDecay ?? 1.5e-6,
    eta: options.eta ?? 1e-3,
    clip: options.clip ?? false,
    exclude: options.exclude ?? excludeBiasAndNorm,
  };
  assertInRange(resolved.learningRate, 0, Infinity, 'LARS learningRate');
  assertInRange(resolved.momentum, 0, 1, 'LARS momentum');
  assertInRange(resolved.weightDecay, 0, Infinity, 'LARS weightDecay');
  assertInRange(resolved.eta, Number.MIN_VALUE, Infinity, 'LARS eta');
  if (typeof resolved.clip !== 'boolean') {
    throw new TypeError(`LARS clip must be true or false, got ${String(resolved.clip)}`);
  }
  if (typeof resolved.exclude !== 'function') {
    throw new TypeError(
      `LARS exclude must be a function (name, shape) => boolean, got ${String(resolved.exclude)}`,
    );
  }
  return resolved;
}

/**
 * LARS with momentum, as in BYOL (DeepMind `byol/utils/optimizers.py`: weight decay,
 * then LARS adaptation, then momentum, then the learning rate). For each parameter w
 * with gradient g and momentum buffer v (zeros at first):
 *
 * ```text
 * not excluded:  g'  = g + wd * w
 *                r   = eta * ||w|| / ||g'||    (r = 1 when ||w|| = 0 or ||g'|| = 0)
 *                g'' = r * g'
 *                (clip: r = min(r / lr, 1), solo-learn's clip_lars_lr; r stays 1 when a
 *                norm is 0, and stays BYOL's unclipped r when lr = 0)
 * excluded:      g'' = g                       (no weight decay, no adaptation)
 * then:          v   = m * v + g''
 *                w   = w - lr * v
 * ```
 *
 * ||.|| is the Euclidean norm of the whole tensor; {@link larsStep} is the same step
 * as a pure function. The learning rate multiplies the momentum buffer when it is
 * applied (not when it is accumulated), as in BYOL, so a learning-rate schedule
 * rescales past updates too.
 *
 * With {@link LarsOptions.clip} the trust ratio is clipped as in solo-learn's LARS
 * (`solo/utils/lars.py` of https://github.com/vturrisi/solo-learn, itself PyTorch
 * Lightning Bolts' `pl_bolts/optimizers/lars.py`, option `clip_lars_lr`): a layer's step
 * is lr * min(r / lr, 1) * g' = min(r, lr) * g', its adaptive rate capped at the global
 * learning rate. The trust ratio itself stays BYOL's eta * ||w|| / ||g + wd * w|| (solo-learn
 * divides by ||g|| + wd * ||w|| + 1e-8), and which parameters are excluded is unchanged.
 *
 * Use it as any tfjs optimiser: `optimizer.minimize(f, false, vars)` or
 * `optimizer.applyGradients({ [variable.name]: grad })`. Keys are registered
 * `tf.Variable` names; for a tfjs-layers weight `w` pass `w.name` (equal to
 * `w.read().name`); {@link LarsOptions.exclude} sees that same name. Gradients of
 * `null` are skipped. Gradients are not checked for NaN (that would cost a device
 * sync per variable and step).
 *
 * The optimiser owns its momentum buffers; {@link LARS.dispose} frees them.
 */
export class LARS extends tf.Optimizer {
  /** The name tfjs serialisation knows this class by. */
  static get className(): string {
    return 'LARS';
  }

  private lr: number;
  private readonly momentum: number;
  private readonly weightDecay: number;
  private readonly eta: number;
  private readonly clip: boolean;
  private readonly exclude: ExcludePredicate;
  private readonly buffers = new Map<string, tf.Variable>();
  private readonly excluded = new Map<string, boolean>();

  /** @param options - see {@link LarsOptions}; bad values throw, naming the option. */
  constructor(options: LarsOptions) {
    super();
    const o = checkOptions(options);
    this.lr = o.learningRate;
    this.momentum = o.momentum;
    this.weightDecay = o.weightDecay;
    this.eta = o.eta;
    this.clip = o.clip;
    this.exclude = o.exclude;
  }

  /** The current learning rate. */
  get learningRate(): number {
    return this.lr;
  }

  /** Sets the learning rate used from the next step on (finite, >= 0). */
  setLearningRate(learningRate: number): void {
    assertInRange(learningRate, 0, Infinity, 'LARS learningRate');
    this.lr = learningRate;
  }

  /** Whether the parameter `name` of shape `shape` is excluded (cached per name). */
  isExcluded(name: string, shape: readonly number[]): boolean {
    let ex = this.excluded.get(name);
    if (ex === undefined) {
      ex = this.exclude(name, shape) === true;
      this.excluded.set(name, ex);
    }
    return ex;
  }

  /**
   * One LARS step on the variables named in `variableGradients` (see the class
   * comment for the formula). The caller keeps ownership of the gradients.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: Array<[string, tf.Tensor | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((item) => [item.name, item.tensor])
      : Object.entries(variableGradients);
    const registered = tf.engine().registeredVariables;
    const steps: Array<{
      value: tf.Variable;
      grad: tf.Tensor;
      buffer: tf.Variable;
      excluded: boolean;
    }> = [];
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const value = registered[name];
      if (value === undefined) {
        throw new Error(
          `LARS.applyGradients: no tf.Variable named '${name}' is registered (key gradients by variable.name; for a tfjs-layers weight w use w.name)`,
        );
      }
      if (!tf.util.arraysEqual(grad.shape, value.shape)) {
        throw new Error(
          `LARS.applyGradients: gradient of '${name}' has shape [${grad.shape.join(',')}], expected the variable's shape [${value.shape.join(',')}]`,
        );
      }
      steps.push({
        value,
        grad,
        buffer: this.buffer(name, value),
        excluded: this.isExcluded(name, value.shape),
      });
    }
    const hyper = {
      learningRate: this.lr,
      momentum: this.momentum,
      weightDecay: this.weightDecay,
      eta: this.eta,
      clip: this.clip,
    };
    // Fused only when no variable is updated twice or read as another's gradient, where
    // the loop's order (variable by variable) would matter.
    const written = new Set(steps.flatMap((s) => [s.value, s.buffer]));
    const distinct =
      written.size === 2 * steps.length && steps.every((s) => !written.has(s.grad as tf.Variable));
    const tensors = steps.flatMap((s) => [s.value, s.grad, s.buffer]);
    if (distinct && canFuse(FUSED_UPDATE_KERNELS.lars, tensors)) {
      // One kernel call for every variable, the same bits as the loop below.
      const inputs: tf.NamedTensorMap = {};
      steps.forEach((s, i) => {
        inputs[`w${i}`] = s.value;
        inputs[`g${i}`] = s.grad;
        inputs[`v${i}`] = s.buffer;
      });
      const outs = tf.engine().runKernel(FUSED_UPDATE_KERNELS.lars, inputs, {
        ...hyper,
        excluded: steps.map((s) => s.excluded),
      }) as tf.Tensor[];
      steps.forEach((s, i) => {
        s.buffer.assign(outs[2 * i + 1] as tf.Tensor);
        s.value.assign(outs[2 * i] as tf.Tensor);
      });
      tf.dispose(outs);
    } else {
      for (const { value, grad, buffer, excluded } of steps) {
        const next = larsStep(value, grad, buffer, hyper, excluded);
        buffer.assign(next.v);
        value.assign(next.w);
        tf.dispose([next.v, next.w]);
      }
    }
    this.incrementIterations();
  }

  private buffer(name: string, value: tf.Variable): tf.Variable {
    let buffer = this.buffers.get(name);
    if (buffer === undefined) {
      buffer = tf.tidy(() => tf.variable(tf.zerosLike(value), false));
      this.buffers.set(name, buffer);
    } else if (!tf.util.arraysEqual(buffer.shape, value.shape)) {
      throw new Error(
        `LARS: momentum state of '${name}' has shape [${buffer.shape.join(',')}] but the variable has shape [${value.shape.join(',')}] (was the state restored from another model?)`,
      );
    }
    return buffer;
  }

  /**
   * The optimiser state: first `{ name: 'iter', tensor: int32 scalar }` (steps
   * taken), then one `{ name: '<variable name>/momentum', tensor }` per variable in
   * the order first seen. The tensors are copies: the caller owns and disposes them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [
      { name: ITERATIONS_NAME, tensor: tf.scalar(this.iterations, 'int32') },
    ];
    for (const [name, buffer] of this.buffers) {
      out.push({ name: `${name}${MOMENTUM_SUFFIX}`, tensor: buffer.clone() });
    }
    return out;
  }

  /**
   * Restores a state saved by {@link LARS.getWeights}, replacing (and disposing) the
   * current momentum buffers. The optimiser takes its own reference to each tensor's
   * data: the caller keeps ownership of (and may dispose) the tensors it passed.
   * Throws, naming the entry, when the `iter` entry is missing, a name does not end
   * in `/momentum`, or a value is not finite.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues)) {
      throw new TypeError(
        `LARS.setWeights expects an array of { name, tensor }, got ${String(weightValues)}`,
      );
    }
    const iter = weightValues.find((w) => w.name === ITERATIONS_NAME);
    if (iter === undefined) {
      throw new Error(
        `LARS.setWeights: no '${ITERATIONS_NAME}' entry among [${weightValues.map((w) => w.name).join(', ')}]`,
      );
    }
    const iterations = (await iter.tensor.data())[0];
    if (
      iter.tensor.size !== 1 ||
      iterations === undefined ||
      !Number.isInteger(iterations) ||
      iterations < 0
    ) {
      throw new Error(
        `LARS.setWeights: '${ITERATIONS_NAME}' must be a scalar integer >= 0, got ${String(iterations)}`,
      );
    }
    const restored = new Map<string, tf.Tensor>();
    for (const { name, tensor } of weightValues) {
      if (name === ITERATIONS_NAME) continue;
      if (!name.endsWith(MOMENTUM_SUFFIX) || name.length === MOMENTUM_SUFFIX.length) {
        throw new Error(
          `LARS.setWeights: entry '${name}' is not a momentum buffer ('<variable name>${MOMENTUM_SUFFIX}')`,
        );
      }
      const values = await tensor.data();
      if (tensor.dtype !== 'float32' || !values.every((x) => Number.isFinite(x))) {
        throw new Error(`LARS.setWeights: momentum '${name}' must be finite float32 values`);
      }
      restored.set(name.slice(0, -MOMENTUM_SUFFIX.length), tensor);
    }
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
    for (const [name, tensor] of restored) this.buffers.set(name, tf.variable(tensor, false));
    this.iterations_ = iterations;
  }

  /** Frees the momentum buffers. */
  override dispose(): void {
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
  }

  /** The hyperparameters, JSON-serialisable (a custom predicate is recorded as `'custom'`). */
  override getConfig(): tf.serialization.ConfigDict & LarsConfig {
    return {
      learningRate: this.lr,
      momentum: this.momentum,
      weightDecay: this.weightDecay,
      eta: this.eta,
      clip: this.clip,
      exclude: this.exclude === excludeBiasAndNorm ? 'excludeBiasAndNorm' : 'custom',
    };
  }

  /**
   * Rebuilds a LARS from {@link LARS.getConfig}. A config whose predicate is
   * `'custom'` cannot be rebuilt (a function is not serialisable) and throws: build
   * it with `new LARS({ ...config, exclude })` instead.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    if (config['exclude'] !== 'excludeBiasAndNorm') {
      throw new Error(
        `LARS.fromConfig: exclude is ${JSON.stringify(config['exclude'])}, only 'excludeBiasAndNorm' can be rebuilt; use new LARS({ ...config, exclude: yourPredicate })`,
      );
    }
    const options: LarsOptions = {
      learningRate: config['learningRate'] as number,
      momentum: config['momentum'] as number,
      weightDecay: config['weightDecay'] as number,
      eta: config['eta'] as number,
      // configs saved before the option existed have no `clip`: BYOL's LARS
      clip: (config['clip'] as boolean | undefined) ?? false,
      exclude: excludeBiasAndNorm,
    };
    return new cls(options);
  }
}

tf.serialization.registerClass(LARS);
