/**
 * Eigenvalues of a small symmetric matrix by the cyclic Jacobi method, in float64 JS.
 */

/**
 * Eigenvalues of the symmetric n x n matrix `a` (row-major; only read, not changed),
 * by cyclic Jacobi rotations on the upper triangle, with the threshold strategy of
 * Numerical Recipes (`jacobi`, Sec. 11.1): small rotations are skipped in the first
 * sweeps, negligible off-diagonal entries are zeroed in later ones. Stops when the
 * off-diagonal sum falls below `tol` times the diagonal's. O(n^3) per sweep, typically
 * 6-10 sweeps.
 * @returns the eigenvalues in descending order.
 */
export function symmetricEigenvalues(
  a: ArrayLike<number>,
  n: number,
  tol = 1e-14,
  maxSweeps = 60,
): Float64Array {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new Error(
      `symmetricEigenvalues needs an n x n matrix, got n=${n} and ${a.length} values`,
    );
  }
  const m = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = m[i * n + j] as number;
      const w = m[j * n + i] as number;
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
  const d = new Float64Array(n);
  const b = new Float64Array(n);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = b[i] = m[i * n + i] as number;
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += Math.abs(d[p] as number);
      for (let q = p + 1; q < n; q++) off += Math.abs(m[p * n + q] as number);
    }
    if (off === 0 || off <= tol * diag) break;
    const thresh = sweep < 4 ? (0.2 * off) / (n * n) : 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const pq = p * n + q;
        const apq = m[pq] as number;
        const g = 100 * Math.abs(apq);
        const dp = d[p] as number;
        const dq = d[q] as number;
        if (sweep > 4 && Math.abs(dp) + g === Math.abs(dp) && Math.abs(dq) + g === Math.abs(dq)) {
          m[pq] = 0;
          continue;
        }
        if (Math.abs(apq) <= thresh) continue;
        const hdiff = dq - dp;
        let t: number;
        if (Math.abs(hdiff) + g === Math.abs(hdiff)) {
          t = apq / hdiff;
        } else {
          const theta = (0.5 * hdiff) / apq;
          t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        const tau = s / (1 + c);
        const h = t * apq;
        z[p] = (z[p] as number) - h;
        z[q] = (z[q] as number) + h;
        d[p] = dp - h;
        d[q] = dq + h;
        m[pq] = 0;
        // Rotate the other entries of rows/columns p and q, upper triangle only.
        for (let j = 0; j < p; j++) rotate(m, j * n + p, j * n + q, s, tau);
        for (let j = p + 1; j < q; j++) rotate(m, p * n + j, j * n + q, s, tau);
        for (let j = q + 1; j < n; j++) rotate(m, p * n + j, q * n + j, s, tau);
      }
    }
    for (let i = 0; i < n; i++) {
      b[i] = (b[i] as number) + (z[i] as number);
      d[i] = b[i] as number;
      z[i] = 0;
    }
  }
  return d.sort().reverse();
}

function rotate(m: Float64Array, ij: number, kl: number, s: number, tau: number): void {
  const g = m[ij] as number;
  const h = m[kl] as number;
  m[ij] = g - s * (h + g * tau);
  m[kl] = h + s * (g - h * tau);
}
