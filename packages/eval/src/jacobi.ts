/**
 * Eigenvalues of a small symmetric matrix by the cyclic Jacobi method, in float64 JS.
 */

/**
 * Eigenvalues of the symmetric n x n matrix `a` (row-major; only read, not changed),
 * by cyclic Jacobi rotations (Golub & Van Loan, Alg. 8.5.3) until the off-diagonal
 * mass falls below `tol` times the matrix's Frobenius norm. O(n^3) per sweep and
 * typically 6-10 sweeps: about a second for n = 512 on one core.
 * @returns the eigenvalues in descending order.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number, tol = 1e-12, maxSweeps = 60): Float64Array {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new Error(`symmetricEigenvalues needs an n x n matrix, got n=${n} and ${a.length} values`);
  }
  const m = Float64Array.from(a);
  let frob = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = m[i * n + j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`matrix entry (${i},${j}) must be finite, got ${v}`);
      if (Math.abs(v - (m[j * n + i] as number)) > 1e-6 * (Math.abs(v) + 1)) {
        throw new Error(`matrix must be symmetric: entry (${i},${j}) is ${v}, (${j},${i}) is ${m[j * n + i]}`);
      }
      frob += v * v;
    }
  }
  const threshold = tol * tol * frob;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * (m[p * n + q] as number) ** 2;
    if (off <= threshold) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q] as number;
        if (apq === 0) continue;
        const app = m[p * n + p] as number;
        const aqq = m[q * n + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A <- J^T A J on rows/columns p and q.
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p] as number;
          const akq = m[k * n + q] as number;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k] as number;
          const aqk = m[q * n + k] as number;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const eig = new Float64Array(n);
  for (let i = 0; i < n; i++) eig[i] = m[i * n + i] as number;
  return eig.sort().reverse();
}
