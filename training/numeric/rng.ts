/**
 * The one seeded pseudo-random generator (xoshiro128**), used by clustering and training alike: deterministic for
 * a seed, with a serializable state so training can be checkpointed and resumed bit-identically. Not cryptographic.
 */

/** SplitMix32 step: used to expand seeds into generator states. */
function splitmix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  private readonly s = new Uint32Array(4);

  /** Seed from one integer, or several (mixed in order), e.g. `new Rng([seed, cycle])`. */
  constructor(seed: number | readonly number[] = 0) {
    let x = 0x6a09e667;
    for (const v of typeof seed === 'number' ? [seed] : seed) {
      x = splitmix32((x ^ (v >>> 0)) >>> 0)[1];
    }
    for (let i = 0; i < 4; i++) [x, this.s[i]] = splitmix32(x);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A generator continuing from a saved {@link state}. */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.every((v) => v === 0)) throw new Error('invalid RNG state');
    const r = new Rng(0);
    r.s.set(state.map((v) => v >>> 0));
    return r;
  }

  /** The current state (four uint32), for checkpoints. */
  state(): number[] {
    return Array.from(this.s);
  }

  /** Uniform uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0) || !Number.isInteger(n)) throw new Error(`Rng.int: bad bound ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fill `out` with N(0, std^2) samples, two per Box-Muller draw. */
  fillNormal(out: Float32Array | Float64Array, std = 1): void {
    for (let i = 0; i < out.length; i += 2) {
      const r = std * Math.sqrt(-2 * Math.log(1 - this.next()));
      const a = 2 * Math.PI * this.next();
      out[i] = r * Math.cos(a);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
    }
  }

  /** Fill with uniform samples in [lo, hi). */
  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): void {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.next();
  }

  /** `m` distinct indices drawn uniformly from [0, n), in increasing order (all of them when m >= n). */
  sample(n: number, m: number): Int32Array {
    if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
    // Partial Fisher-Yates over an index array.
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
    return new Rng([this.nextU32(), this.nextU32()]);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
