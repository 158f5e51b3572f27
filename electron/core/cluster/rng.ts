/**
 * Small deterministic PRNG so that clustering is reproducible by seed (Math.random is not seedable).
 *
 * Generator: SplitMix32-style seeding feeding a 32-bit xorshift-multiply state ("mulberry32" family). Statistical
 * quality is ample for sampling and seeding; it is not cryptographic.
 */
export class Rng {
  private state: number;

  constructor(seed = 0) {
    // Scramble the seed so that nearby seeds (0, 1, 2, ...) give unrelated streams.
    let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
    this.state = (s ^ (s >>> 16)) >>> 0;
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal deviate (Box–Muller). */
  gaussian(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** `m` distinct indices drawn uniformly from [0, n), in increasing order. */
  sample(n: number, m: number): Int32Array {
    if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
    // Partial Fisher–Yates over an index array; O(n) memory, fine for the sizes used here.
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < m; i++) {
      const j = i + this.int(n - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    return idx.slice(0, m).sort();
  }

  /** An independent generator derived from this one (for restarts). */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}
