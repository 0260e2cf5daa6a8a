/**
 * Input checks shared by every package. Each throws an error that names the value and
 * what was expected, so a user sees which tensor or option was wrong.
 */
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * A shape pattern: a number fixes a dimension, `null` accepts any size, a string names
 * a dimension that must agree wherever the same name appears (within one call of
 * {@link assertShapes}).
 */
export type ShapePattern = ReadonlyArray<number | string | null>;

function describe(pattern: ShapePattern): string {
  return `[${pattern.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/**
 * Checks that `tensor` matches `pattern`, e.g. `assertShape(map, ['B','H','W','C'], 'teacherMap')`.
 * @returns the sizes bound to named dimensions.
 */
export function assertShape(
  tensor: Pick<Tensor, 'shape'>,
  pattern: ShapePattern,
  name: string,
  bound: Record<string, number> = {},
): Record<string, number> {
  return assertShapes([[tensor, pattern, name]], bound);
}

/**
 * Checks several tensors at once; named dimensions must agree across all of them.
 * @returns the sizes bound to named dimensions.
 */
export function assertShapes(
  checks: ReadonlyArray<readonly [Pick<Tensor, 'shape'>, ShapePattern, string]>,
  bound: Record<string, number> = {},
): Record<string, number> {
  const dims: Record<string, number> = { ...bound };
  const where: Record<string, string> = {};
  for (const [tensor, pattern, name] of checks) {
    const shape = tensor.shape;
    if (shape.length !== pattern.length) {
      throw new Error(
        `${name} must have rank ${pattern.length} ${describe(pattern)}, got shape [${shape.join(',')}]`,
      );
    }
    pattern.forEach((want, i) => {
      const got = shape[i] as number;
      if (typeof want === 'number' && got !== want) {
        throw new Error(
          `${name} must have shape ${describe(pattern)}, got [${shape.join(',')}] (dimension ${i} is ${got}, expected ${want})`,
        );
      }
      if (typeof want === 'string') {
        const prev = dims[want];
        if (prev !== undefined && prev !== got) {
          const other = where[want] ?? 'the given sizes';
          throw new Error(
            `${name} has ${want}=${got} (shape [${shape.join(',')}]) but ${other} has ${want}=${prev}`,
          );
        }
        dims[want] = got;
        where[want] ??= `${name} (shape [${shape.join(',')}])`;
      }
    });
  }
  return dims;
}

/** Checks that `value` is a finite number in [min, max]. */
export function assertInRange(value: number, min: number, max: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
}

/** Checks that `value` is an integer >= `min`. */
export function assertInteger(value: number, min: number, name: string): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}
