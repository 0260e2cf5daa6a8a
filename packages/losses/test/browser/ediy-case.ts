/**
 * One E-DIY loss (Eq. 3: R-DEM + R-IEM with the teacher matcher, plus BYOL) and its
 * gradient, on seeded inputs, computed by the same code in Node and in a browser page
 * (`page-entry.ts`), so the two can be compared. The backend must be set up already.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ediy/core';
import {
  byolLoss,
  createRegionLossInputs,
  ediyLoss,
  PAPER_LOSS_WEIGHTS,
  regionLoss,
} from '@ediy/losses';

/** What {@link ediyCase} computed. */
export interface EdiyCaseResult {
  /** The tfjs backend it ran on. */
  backend: string;
  /** The E-DIY loss and its three terms. */
  total: number;
  rDem: number;
  rIem: number;
  byol: number;
  /** The gradient w.r.t. the first view's online local projections, flattened. */
  grad: number[];
  /** Tensors alive after the computation minus before (0: nothing leaked). */
  leaked: number;
}

/** Computes the loss, its terms and a gradient on inputs drawn from `Rng(seed)`. */
export function ediyCase(seed = 0): EdiyCaseResult {
  const before = tf.memory().numTensors;
  const rng = new Rng(seed);
  const made: tf.Tensor[] = [];
  const r = (shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(
      Float32Array.from({ length: size }, () => rng.normal()),
      shape,
    );
    made.push(t);
    return t;
  };
  const map = () => r([2, 3, 3, 8]) as tf.Tensor4D;
  const vec = () => r([2, 8]) as tf.Tensor2D;
  const local = [map(), map()] as const;
  const inputs = createRegionLossInputs({
    local,
    localPred: local,
    targetLocal: [map(), map()],
    onlineGlobal: [vec(), vec()],
    targetGlobal: [vec(), vec()],
    teacher: [map(), map()],
    rng,
  });
  const terms: Record<string, number> = {};
  const step = (l1: tf.Tensor): tf.Scalar => {
    const online = [l1, local[1]] as [tf.Tensor4D, tf.Tensor4D];
    const x = { ...inputs, local: online, localPred: online };
    const result = ediyLoss(
      {
        rDem: regionLoss('r-dem', x, { matcher: 'teacher' }),
        rIem: regionLoss('r-iem', x, { matcher: 'teacher' }),
        byol: byolLoss(inputs.onlineGlobal, inputs.targetGlobal),
      },
      PAPER_LOSS_WEIGHTS,
    );
    for (const [k, v] of Object.entries(result.terms)) terms[k] = v.dataSync()[0] as number;
    return result.total;
  };
  const { value, grads } = tf.valueAndGrads(step)([local[0]]);
  const out = {
    backend: tf.getBackend(),
    total: value.dataSync()[0] as number,
    rDem: terms.rDem as number,
    rIem: terms.rIem as number,
    byol: terms.byol as number,
    grad: Array.from(grads[0]?.dataSync() ?? []),
  };
  tf.dispose([value, ...grads, ...made]);
  return { ...out, leaked: tf.memory().numTensors - before };
}
