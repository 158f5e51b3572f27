/**
 * Spherical k-means on a precomputed cosine Gram matrix ("kernel" form), for small samples of high-dimensional
 * vectors: no step depends on the dimension.
 *
 * A centroid is the normalised sum S_c of its members, so cos(x_i, centroid_c) = T[i][c] / |S_c| with
 * T[i][c] = sum of G[i][j] over the members j of c, and |S_c|^2 = sum over members i of T[i][c]. T is built once
 * (m^2 additions) and then updated incrementally: moving point p from cluster a to b costs one pass over G's
 * column p. A run therefore costs about m^2 * (1 + moves / m) operations, whatever k and the dimension are.
 * Unconstrained; used by automatic K.
 */

import { Rng } from '../../../training/numeric/rng.js';
import { DEFAULT_SEED_POWER, greedySeeds, seedTrials } from '../../../training/numeric/seeding.js';

export interface GramKMeansOptions {
  seed?: number;
  /** Independent seedings; the best objective wins. Default 1. */
  restarts?: number;
  /** Maximum reassignment rounds per run. Default 100. */
  maxIter?: number;
  /** Exponent on the k-means++ sampling weight (see seeding.ts). Default 16. */
  seedPower?: number;
}

export interface GramKMeansResult {
  assignments: Int32Array;
  /** Sum over points of the cosine similarity to their centroid. */
  objective: number;
  /** Mean cosine silhouette of `assignments` (as `silhouetteFromGram`, computed in O(m k)). */
  silhouette: number;
}

/**
 * Clusters the `m` items whose cosine Gram matrix is `gram` (`m x m`, symmetric, unit diagonal for non-zero rows)
 * into `k` clusters. Deterministic for a seed.
 */
export function kmeansOnGram(
  gram: Float32Array,
  m: number,
  k: number,
  opts: GramKMeansOptions = {},
): GramKMeansResult {
  if (gram.length !== m * m) throw new RangeError(`gram: expected ${m * m} values, got ${gram.length}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const rng = new Rng(opts.seed ?? 0);
  if (m === 0) return { assignments: new Int32Array(0), objective: 0, silhouette: 0 };
  let best: GramKMeansResult | undefined;
  for (let r = 0; r < Math.max(1, opts.restarts ?? 1); r++) {
    const run = new GramRun(gram, m, k);
    run.seed(opts.seedPower ?? DEFAULT_SEED_POWER, rng.fork());
    run.iterate(opts.maxIter ?? 100);
    const objective = run.objective();
    if (!best || objective > best.objective) {
      best = { assignments: run.labels, objective, silhouette: run.silhouette() };
    }
  }
  return best!;
}

/** State of one run: labels, T (m x k) and the squared centroid norms. */
class GramRun {
  readonly labels: Int32Array;
  private readonly t: Float64Array;
  private readonly norm2: Float64Array;
  private readonly size: Int32Array;

  constructor(
    private readonly gram: Float32Array,
    private readonly m: number,
    private readonly k: number,
  ) {
    this.labels = new Int32Array(m);
    this.t = new Float64Array(m * k);
    this.norm2 = new Float64Array(k);
    this.size = new Int32Array(k);
  }

  /** Greedy k-means++ seeds, each point labelled with its most similar seed, then T and norms built. */
  seed(power: number, rng: Rng): void {
    const { gram, m, k, labels } = this;
    const candidates = Math.min(k, m);
    // The Gram matrix is symmetric: read rows, not columns, to stay cache-friendly.
    const similarities = (picks: Int32Array, count: number, tile: Float32Array) => {
      for (let j = 0; j < count; j++) {
        const row = picks[j] * m;
        for (let r = 0; r < m; r++) tile[r * count + j] = gram[row + r];
      }
    };
    const seeds = greedySeeds(candidates, new Float64Array(m).fill(1), false, similarities, power, rng, seedTrials(k));
    const bestSim = new Float64Array(m).fill(-Infinity);
    for (let c = 0; c < candidates; c++) {
      const row = seeds[c] * m;
      for (let i = 0; i < m; i++) {
        if (gram[row + i] > bestSim[i]) {
          bestSim[i] = gram[row + i];
          labels[i] = c;
        }
      }
    }
    this.rebuild();
  }

  /** Builds T, sizes and norms from scratch: O(m^2). */
  private rebuild(): void {
    const { gram, m, k, labels, t, norm2, size } = this;
    t.fill(0);
    size.fill(0);
    norm2.fill(0);
    for (let i = 0; i < m; i++) {
      const row = i * m;
      const out = i * k;
      for (let j = 0; j < m; j++) t[out + labels[j]] += gram[row + j];
      size[labels[i]]++;
    }
    for (let i = 0; i < m; i++) norm2[labels[i]] += t[i * k + labels[i]];
  }

  /** Moves point p to cluster `to`, updating T (one column of G) and the two norms. */
  private move(p: number, to: number): void {
    const { gram, m, k, labels, t, norm2, size } = this;
    const from = labels[p];
    if (from === to) return;
    // |S_from - x_p|^2 = |S_from|^2 - 2 T[p][from] + G[p][p]; |S_to + x_p|^2 = |S_to|^2 + 2 T[p][to] + G[p][p].
    const self = gram[p * m + p];
    norm2[from] += self - 2 * t[p * k + from];
    norm2[to] += self + 2 * t[p * k + to];
    const row = p * m; // column p, read as row p of the symmetric matrix
    for (let i = 0; i < m; i++) {
      const g = gram[row + i];
      t[i * k + from] -= g;
      t[i * k + to] += g;
    }
    size[from]--;
    size[to]++;
    labels[p] = to;
  }

  /** Similarity of point i to the centroid of c (0 for an empty or zero-sum cluster). */
  private sim(i: number, c: number): number {
    const n2 = this.norm2[c];
    return this.size[c] > 0 && n2 > 0 ? this.t[i * this.k + c] / Math.sqrt(n2) : 0;
  }

  /** Reassignment rounds until no point moves (or `maxIter`). */
  iterate(maxIter: number): void {
    const { m, k, labels, t } = this;
    const target = new Int32Array(m);
    const inv = new Float64Array(k);
    for (let iter = 0; iter < maxIter; iter++) {
      this.fillEmpty();
      this.inverseNorms(inv);
      let moves = 0;
      for (let i = 0; i < m; i++) {
        const row = i * k;
        let best = labels[i];
        let bestSim = t[row + best] * inv[best];
        for (let c = 0; c < k; c++) {
          const s = t[row + c] * inv[c];
          if (inv[c] > 0 && s > bestSim) {
            bestSim = s;
            best = c;
          }
        }
        target[i] = best;
        if (best !== labels[i]) moves++;
      }
      if (moves === 0) return;
      // Lloyd semantics: all points choose against the same centroids, then move together.
      for (let i = 0; i < m; i++) if (target[i] !== labels[i]) this.move(i, target[i]);
      // Incremental updates accumulate rounding; refresh exactly when most points moved anyway.
      if (moves > m / 4) this.rebuild();
    }
  }

  /** 1 / |S_c| per cluster, 0 for empty or zero-sum clusters. */
  private inverseNorms(out: Float64Array): void {
    for (let c = 0; c < this.k; c++) out[c] = this.size[c] > 0 && this.norm2[c] > 0 ? 1 / Math.sqrt(this.norm2[c]) : 0;
  }

  /**
   * Mean cosine silhouette of the current labelling, from T: for i in cluster a, the mean similarity to the other
   * members of a is (T[i][a] - G[i][i]) / (size_a - 1), and to cluster c it is T[i][c] / size_c. O(m k).
   * Same definition as `silhouetteFromGram` in metrics.ts (singletons score 0; 0 with fewer than two clusters).
   */
  silhouette(): number {
    const { gram, m, k, labels, t, size } = this;
    let clusters = 0;
    for (let c = 0; c < k; c++) if (size[c] > 0) clusters++;
    if (clusters < 2) return 0;
    let total = 0;
    for (let i = 0; i < m; i++) {
      const own = labels[i];
      if (size[own] < 2) continue;
      const row = i * k;
      const a = 1 - (t[row + own] - gram[i * m + i]) / (size[own] - 1);
      let b = Infinity;
      for (let c = 0; c < k; c++) if (c !== own && size[c] > 0) b = Math.min(b, 1 - t[row + c] / size[c]);
      const denom = Math.max(a, b);
      if (denom > 0) total += (b - a) / denom;
    }
    return total / m;
  }

  /** Each empty cluster takes over the worst-fitting point of a cluster with other members. */
  private fillEmpty(): void {
    const { m, k, labels, size } = this;
    for (let c = 0; c < k; c++) {
      if (size[c] > 0) continue;
      let worst = -1;
      let worstSim = Infinity;
      for (let i = 0; i < m; i++) {
        if (size[labels[i]] < 2) continue;
        const s = this.sim(i, labels[i]);
        if (s < worstSim) {
          worstSim = s;
          worst = i;
        }
      }
      if (worst < 0) return; // fewer points than clusters
      this.move(worst, c);
    }
  }

  /** Summed similarity of the points to their centroids. */
  objective(): number {
    const inv = new Float64Array(this.k);
    this.inverseNorms(inv);
    let sum = 0;
    for (let i = 0; i < this.m; i++) sum += this.t[i * this.k + this.labels[i]] * inv[this.labels[i]];
    return sum;
  }
}
