/**
 * Seeded, splittable pseudo-random streams. Every random choice in ediy (augmentation
 * parameters, random matchers, data shuffling, weight initialisation seeds) draws from
 * an {@link Rng}, so the same seed gives the same run, and a stream's state can be
 * saved in a checkpoint and restored exactly.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through
 * splitmix32; it passes PractRand to 2^40 bytes and is 128 bits of plain state.
 */

/** The complete state of an {@link Rng}: four unsigned 32-bit words. */
export type RngState = readonly [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a hash of a string, used to derive named sub-streams. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seeded random stream (sfc32). Not cryptographic. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @param seed - any finite number; non-integers are truncated. The same seed gives
   *   the same sequence on every platform.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Rng seed must be a finite number, got ${String(seed)}`);
    }
    const sm = splitmix32(Math.trunc(seed) >>> 0);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Rebuilds a stream from a state returned by {@link Rng.state}. */
  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w))) {
      throw new TypeError(
        `Rng state must be an array of four 32-bit integers, got ${JSON.stringify(state)}`,
      );
    }
    const rng = new Rng(0);
    rng.a = state[0] >>> 0;
    rng.b = state[1] >>> 0;
    rng.c = state[2] >>> 0;
    rng.d = state[3] >>> 0;
    return rng;
  }

  /** The stream's current state, JSON-serialisable. */
  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** A copy of this stream at its current position. */
  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /**
   * An independent child stream named `label`. Forking does not advance this stream,
   * so adding a new consumer elsewhere does not change existing streams.
   */
  fork(label: string): Rng {
    const h = hashString(label);
    const sm = splitmix32((this.a ^ h ^ Math.imul(this.d, 0x9e3779b1)) >>> 0);
    const child = Rng.fromState([sm() ^ this.b, sm() ^ this.c, sm(), sm() | 1]);
    for (let i = 0; i < 12; i++) child.nextUint32();
    return child;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A float uniform in [low, high). */
  uniform(low: number, high: number): number {
    if (!(high >= low))
      throw new RangeError(`uniform(low, high) needs high >= low, got ${low}, ${high}`);
    return low + (high - low) * this.next();
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new RangeError(`int(n) needs a positive integer n, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  bernoulli(p: number): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli(p) needs p in [0, 1], got ${p}`);
    return this.next() < p;
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A uniformly shuffled copy of `items` (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i] as number;
      out[i] = out[j] as number;
      out[j] = tmp;
    }
    return out;
  }

  /** A 31-bit integer suitable as a tfjs op or initializer seed. */
  seed(): number {
    return this.nextUint32() >>> 1;
  }
}
