import { describe, expect, it } from 'vitest';
import { assertInRange, assertInteger, assertShape, assertShapes } from '@ediy/core';

const t = (...shape: number[]) => ({ shape });

describe('shape checks', () => {
  it('binds named dimensions and returns them', () => {
    expect(assertShape(t(2, 4, 4, 8), ['B', 'H', 'W', 'C'], 'map')).toEqual({
      B: 2,
      H: 4,
      W: 4,
      C: 8,
    });
  });

  it('names the tensor, its shape and the expectation on a rank mismatch', () => {
    expect(() => assertShape(t(2, 16, 8), ['B', 'H', 'W', 'C'], 'teacherMap')).toThrow(
      'teacherMap must have rank 4 [B,H,W,C], got shape [2,16,8]',
    );
  });

  it('rejects a fixed dimension of the wrong size', () => {
    expect(() => assertShape(t(2, 5), [null, 3], 'images')).toThrow(/dimension 1 is 5, expected 3/);
  });

  it('requires named dimensions to agree across tensors', () => {
    expect(() =>
      assertShapes([
        [t(2, 4, 4, 8), ['B', 'H', 'W', 'C'], 'online'],
        [t(3, 4, 4, 8), ['B', 'H', 'W', 'C'], 'target'],
      ]),
    ).toThrow(/target has B=3 .* but online \(shape \[2,4,4,8\]\) has B=2/);
  });

  it('checks numbers', () => {
    expect(() => assertInRange(1.2, 0, 1, 'p')).toThrow('p must be a number in [0, 1], got 1.2');
    expect(() => assertInteger(2.5, 1, 'batch')).toThrow('batch must be an integer >= 1, got 2.5');
    expect(() => assertInRange(0.5, 0, 1, 'p')).not.toThrow();
  });
});
