/**
 * Eigenvalues of a small symmetric matrix, in float64 JS, by ml-matrix's
 * `EigenvalueDecomposition` (JAMA's Householder tridiagonalisation and QL iteration,
 * `tred2`/`tql2`), a well-kept library in place of a hand-written Jacobi solver.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Eigenvalues of the symmetric n x n matrix `a` (row-major; only read, not changed), by
 * Householder reduction to tridiagonal form and the implicit QL method (ml-matrix's
 * `EigenvalueDecomposition` with `assumeSymmetric`), in float64. O(n^3).
 * @throws when `a` is not n x n, has a non-finite entry, or is not symmetric.
 * @returns the eigenvalues in descending order.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new Error(
      `symmetricEigenvalues needs an n x n matrix, got n=${n} and ${a.length} values`,
    );
  }
  const rows: number[][] = [];
  for (let i = 0; i < n; i++)
    rows.push(Array.from({ length: n }, (_, j) => a[i * n + j] as number));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = rows[i]![j]!;
      const w = rows[j]![i]!;
      if (!Number.isFinite(v) || !Number.isFinite(w)) {
        throw new RangeError(
          `matrix entries must be finite, got ${Number.isFinite(v) ? w : v} at (${i},${j})`,
        );
      }
      if (Math.abs(v - w) > 1e-6 * (Math.abs(v) + Math.abs(w) + 1)) {
        throw new Error(`matrix must be symmetric: entry (${i},${j}) is ${v}, (${j},${i}) is ${w}`);
      }
    }
  }
  const eig = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  return Float64Array.from(eig.realEigenvalues).sort((x, y) => y - x);
}
