import { describe, expect, it } from 'vitest';
import { arrayDataset, splitDataset, subset, toRgb } from '@ediy/data';

function numbered(n: number) {
  return arrayDataset({
    name: 'nums',
    images: Uint8Array.from({ length: n }, (_, i) => i),
    imageShape: [1, 1, 1],
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    numClasses: 3,
  });
}

describe('arrayDataset', () => {
  it('reads bytes as /255 and floats as they are, and checks its input', () => {
    const ds = numbered(4);
    expect(Array.from(ds.get([3, 0]).images)).toEqual([3 / 255, 0].map(Math.fround));
    const f = arrayDataset({
      name: 'f',
      images: Float32Array.from([0.5, 0.25]),
      imageShape: [1, 1, 1],
      labels: Int32Array.from([0, 1]),
      numClasses: 2,
    });
    expect(Array.from(f.get([1]).images)).toEqual([0.25]);
    expect(() =>
      arrayDataset({
        name: 'nan',
        images: Float32Array.from([0.5, Number.NaN]),
        imageShape: [1, 1, 1],
        labels: Int32Array.from([0, 1]),
        numClasses: 2,
      }),
    ).toThrow('nan: pixel value NaN at offset 1 must be a number in [0, 1]');
    expect(() =>
      arrayDataset({
        name: 'lab',
        images: new Uint8Array(2),
        imageShape: [1, 1, 1],
        labels: Int32Array.from([0, 2]),
        numClasses: 2,
      }),
    ).toThrow('lab: label of image 1 is 2, expected a class in [0, 2)');
    expect(() =>
      arrayDataset({
        name: 'len',
        images: new Uint8Array(3),
        imageShape: [1, 1, 1],
        labels: Int32Array.from([0, 1]),
        numClasses: 2,
      }),
    ).toThrow('len: images must hold 2 x 1x1x1 = 2 values (one image per label), got 3');
  });
});

describe('toRgb, subset, splitDataset', () => {
  it('copies gray to three channels', () => {
    const rgb = toRgb(numbered(3));
    expect(rgb.imageShape).toEqual([1, 1, 3]);
    expect(Array.from(rgb.get([2]).images)).toEqual([2, 2, 2].map((v) => Math.fround(v / 255)));
    expect(toRgb(rgb)).toBe(rgb);
  });

  it('maps subset indices to the source', () => {
    const s = subset(numbered(10), [7, 2]);
    expect(s.size).toBe(2);
    expect(Array.from(s.get([1, 0]).labels)).toEqual([2, 1]);
    expect(() => s.get([2])).toThrow('index 2 (position 0) must be an integer in [0, 2)');
    expect(() => subset(numbered(3), [3])).toThrow('nums: index 3');
  });

  it('splits into disjoint, covering, seeded parts', () => {
    const ds = numbered(50);
    const { train, test } = splitDataset(ds, { testFraction: 0.2, seed: 5 });
    expect(test.size).toBe(10);
    expect(train.size).toBe(40);
    const ids = (d: typeof ds) =>
      Array.from(d.get(Array.from({ length: d.size }, (_, i) => i)).images, (v) =>
        Math.round(v * 255),
      );
    const all = [...ids(train), ...ids(test)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(ids(splitDataset(ds, { testFraction: 0.2, seed: 5 }).test)).toEqual(ids(test));
    expect(ids(splitDataset(ds, { testFraction: 0.2, seed: 6 }).test)).not.toEqual(ids(test));
    expect(() => splitDataset(ds, { testFraction: 1.5, seed: 0 })).toThrow(
      'testFraction must be a number in [0, 1], got 1.5',
    );
  });
});
