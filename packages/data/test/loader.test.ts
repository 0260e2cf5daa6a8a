import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import {
  arrayDataset,
  disposeBatch,
  Loader,
  syntheticScenes,
  type Batch,
  type Dataset,
} from '@ediy/data';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** Item i has the single pixel i/255 and label i mod 4. */
function numbered(n: number): Dataset {
  return arrayDataset({
    name: 'nums',
    images: Uint8Array.from({ length: n }, (_, i) => i),
    imageShape: [1, 1, 1],
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    numClasses: 4,
  });
}

const ids = (b: { indices: Int32Array }): number[] => Array.from(b.indices);

/** Reads `k` batches as plain values, disposing the tensors. */
function take(
  loader: Loader,
  k: number,
): { pos: string; images: number[]; labels: number[]; masks?: number[] }[] {
  const out = [];
  for (let i = 0; i < k; i++) {
    const b: Batch = loader.next();
    out.push({
      pos: `${b.position.epoch}:${b.position.index}`,
      images: Array.from(b.images.dataSync()),
      labels: Array.from(b.labels.dataSync()),
      ...(b.masks ? { masks: Array.from(b.masks.dataSync()) } : {}),
    });
    disposeBatch(b);
  }
  return out;
}

describe('Loader', () => {
  it('makes NHWC float images, int32 labels and masks tensors', () => {
    const ds = syntheticScenes({ count: 8, size: 16, numClasses: 3, seed: 0 });
    const loader = new Loader(ds, { batchSize: 4, seed: 1 });
    const b = loader.next();
    expect(b.images.shape).toEqual([4, 16, 16, 3]);
    expect(b.images.dtype).toBe('float32');
    expect(b.labels.shape).toEqual([4]);
    expect(b.labels.dtype).toBe('int32');
    expect(b.masks?.shape).toEqual([4, 16, 16]);
    expect(b.masks?.dtype).toBe('int32');
    expect(b.boxes).toHaveLength(4);
    // the tensors hold the dataset's items at the batch's indices
    const direct = ds.get(b.indices);
    expect(Array.from(b.images.dataSync())).toEqual(Array.from(direct.images));
    expect(Array.from(b.labels.dataSync())).toEqual(Array.from(direct.labels));
    disposeBatch(b);
    loader.dispose();
  });

  it('shuffles each epoch by (seed, epoch) alone, covering every item once', () => {
    const a = new Loader(numbered(12), { batchSize: 4, seed: 3 });
    const b = new Loader(numbered(12), { batchSize: 4, seed: 3 });
    const epoch0 = [...a.epoch()].flatMap((x) => {
      disposeBatch(x);
      return ids(x);
    });
    const epoch1 = [...a.epoch()].flatMap((x) => {
      disposeBatch(x);
      return ids(x);
    });
    expect([...epoch0].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(epoch1).not.toEqual(epoch0);
    expect(Array.from(b.epochOrder(1))).toEqual(epoch1);
    expect(Array.from(b.epochOrder(0))).toEqual(epoch0);
    expect(
      Array.from(new Loader(numbered(12), { batchSize: 4, seed: 4 }).epochOrder(0)),
    ).not.toEqual(epoch0);
    const plain = new Loader(numbered(6), { batchSize: 3, seed: 3, shuffle: false });
    expect(ids(plain.nextArrays())).toEqual([0, 1, 2]);
    a.dispose();
    plain.dispose();
  });

  it('drops the last partial batch, or keeps it', () => {
    const drop = new Loader(numbered(10), { batchSize: 4, seed: 0 });
    expect(drop.stepsPerEpoch).toBe(2);
    const sizes = [drop.nextArrays(), drop.nextArrays(), drop.nextArrays()].map(
      (b) => b.indices.length,
    );
    expect(sizes).toEqual([4, 4, 4]);
    expect(drop.position()).toEqual({ epoch: 1, index: 1 });
    const keep = new Loader(numbered(10), { batchSize: 4, seed: 0, dropLast: false });
    expect(keep.stepsPerEpoch).toBe(3);
    const batches = [...keep.epoch()];
    expect(batches.map((b) => b.images.shape[0])).toEqual([4, 4, 2]);
    expect(new Set(batches.flatMap(ids)).size).toBe(10);
    batches.forEach(disposeBatch);
    expect(keep.position()).toEqual({ epoch: 1, index: 0 });
    expect(() => new Loader(numbered(3), { batchSize: 4, seed: 0 })).toThrow(
      'nums has 3 items, fewer than batchSize 4 with dropLast: no full batch',
    );
    drop.dispose();
    keep.dispose();
  });

  it('resumes exactly after seek, with or without prefetch', async () => {
    const ds = syntheticScenes({ count: 10, size: 16, numClasses: 3, seed: 5 });
    const straight = take(new Loader(ds, { batchSize: 3, seed: 2 }), 8);
    const first = new Loader(ds, { batchSize: 3, seed: 2 });
    const head = take(first, 5);
    await new Promise((r) => setImmediate(r)); // let a prefetch run
    const saved = first.position();
    expect(saved).toEqual({ epoch: 1, index: 2 });
    first.dispose();
    const resumed = new Loader(ds, { batchSize: 3, seed: 2, prefetch: false });
    resumed.seek(JSON.parse(JSON.stringify(saved)));
    const tail = take(resumed, 3);
    expect([...head, ...tail]).toEqual(straight);
    // seeking back re-reads an earlier batch, discarding the prefetched one
    const again = new Loader(ds, { batchSize: 3, seed: 2 });
    take(again, 2);
    await new Promise((r) => setImmediate(r));
    again.seek({ epoch: 0, index: 1 });
    expect(take(again, 1)).toEqual([straight[1]]);
    expect(() => again.seek({ epoch: 0, index: 3 })).toThrow(
      'position.index must be below stepsPerEpoch 3, got 3',
    );
    expect(() => again.seek({ epoch: -1, index: 0 })).toThrow(
      'position.epoch must be an integer >= 0, got -1',
    );
    again.dispose();
  });

  it('uses the prefetched arrays when the event loop ran in between', async () => {
    let reads = 0;
    const base = numbered(8);
    const counting: Dataset = {
      ...base,
      get: (i) => {
        reads++;
        return base.get(i);
      },
    };
    const loader = new Loader(counting, { batchSize: 2, seed: 0 });
    const x = loader.nextArrays();
    expect(reads).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(2); // batch 1 assembled in the background
    const y = loader.nextArrays();
    expect(reads).toBe(2); // and handed out without another read
    expect(y.position).toEqual({ epoch: 0, index: 1 });
    expect(ids(y)).toEqual(Array.from(loader.epochOrder(0).slice(2, 4)));
    expect(ids(x)).not.toEqual(ids(y));
    loader.dispose();
  });

  it('does not leak tensors', () => {
    const loader = new Loader(syntheticScenes({ count: 12, size: 16, numClasses: 2, seed: 0 }), {
      batchSize: 4,
      seed: 0,
    });
    disposeBatch(loader.next());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) disposeBatch(loader.next());
    expect(tf.memory().numTensors).toBe(before);
    loader.dispose();
  });

  it('names the dataset and batch on NaN pixels or labels out of range', () => {
    const base = numbered(4);
    const nan: Dataset = {
      ...base,
      get: (i) => ({ ...base.get(i), images: new Float32Array(i.length).fill(Number.NaN) }),
    };
    expect(() => new Loader(nan, { batchSize: 2, seed: 0, prefetch: false }).next()).toThrow(
      'nums batch 0 of epoch 0: pixel NaN of item 0 must be a number in [0, 1]',
    );
    const bad: Dataset = {
      ...base,
      get: (i) => ({ ...base.get(i), labels: new Int32Array(i.length).fill(7) }),
    };
    expect(() => new Loader(bad, { batchSize: 2, seed: 0, prefetch: false }).next()).toThrow(
      'nums batch 0 of epoch 0: label 7 of item 0 out of range: expected a class in [0, 4)',
    );
    expect(() => new Loader(base, { batchSize: 0, seed: 0 })).toThrow(
      'Loader: batchSize must be an integer >= 1, got 0',
    );
  });
});
