/**
 * Spherical k-means for ProPos pseudo-labels, with a pluggable assignment step (it runs on ONNX Runtime during
 * training): cosine assignment, normalized-mean centroids, the album clustering's greedy k-means++ seeding
 * (numeric/seeding.ts), optional warm start and clusters pinned to user-labelled points. The album clustering
 * itself is numeric/kmeans.ts.
 */

import { Rng } from '../numeric/rng.js';
import { DEFAULT_SEED_POWER, greedySeeds, seedTrials } from '../numeric/seeding.js';

export interface KMeansOptions {
  k: number;
  /** Maximum Lloyd iterations (default 20); stops early when no label changes. */
  iterations?: number;
  seed?: number | readonly number[];
  /** Warm start: centroids [k, d] from a previous run (unit rows). Fixed clusters are recomputed regardless. */
  init?: Float32Array;
  /**
   * Per-point cluster constraints (-1 = free). A point with fixed cluster c always gets label c, and cluster c's
   * centroid stays the normalized mean of its fixed points (free points may still join it).
   */
  fixed?: Int32Array;
}

export interface KMeansResult {
  labels: Int32Array;
  /** Unit-norm centroids [k, d]. */
  centroids: Float32Array;
  iterations: number;
}

function normalizeRows(c: Float32Array, d: number): void {
  for (let o = 0; o < c.length; o += d) {
    let s = 0;
    for (let j = 0; j < d; j++) s += c[o + j] * c[o + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) c[o + j] *= inv;
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/** Nearest centroid of every row: the label of the largest dot product (first on ties) and that dot product. */
export interface Assignment {
  labels: Int32Array;
  similarity: Float32Array;
}

/** Computes the assignment of all rows to `k` centroids [k, d]; pluggable so it can run on ONNX Runtime. */
export type Assigner = (centroids: Float32Array, k: number) => Assignment | Promise<Assignment>;

/** Plain JS assignment: O(n k d) dot products. */
export function jsAssigner(x: Float32Array, n: number, d: number): Assigner {
  return (centroids, k) => {
    const labels = new Int32Array(n);
    const similarity = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      let label = 0;
      for (let c = 0; c < k; c++) {
        const s = dot(x, i * d, centroids, c * d, d);
        if (s > best) {
          best = s;
          label = c;
        }
      }
      labels[i] = label;
      similarity[i] = best;
    }
    return { labels, similarity };
  };
}

/**
 * Spherical k-means on the rows of `x` [n, d] (rows should be unit-norm). Deterministic given the seed (and a
 * deterministic `assign`, by default plain JS).
 */
export async function sphericalKMeans(
  x: Float32Array,
  n: number,
  d: number,
  opts: KMeansOptions,
  assign: Assigner = jsAssigner(x, n, d),
): Promise<KMeansResult> {
  const { k, iterations = 20 } = opts;
  if (x.length !== n * d) throw new Error(`kmeans: ${x.length} values for ${n} x ${d}`);
  if (k < 1 || k > n) throw new Error(`kmeans: k=${k} for n=${n}`);
  const fixed = opts.fixed;
  if (fixed && fixed.length !== n) throw new Error('kmeans: fixed labels length differs from n');
  const rng = new Rng(opts.seed ?? 0);
  const centroids = new Float32Array(k * d);
  const isFixed = new Uint8Array(k);

  // Fixed clusters: normalized mean of their fixed points.
  const setFixedCentroids = (): void => {
    if (!fixed) return;
    for (let c = 0; c < k; c++) if (isFixed[c]) centroids.fill(0, c * d, (c + 1) * d);
    for (let i = 0; i < n; i++) {
      const c = fixed[i];
      if (c < 0) continue;
      for (let j = 0; j < d; j++) centroids[c * d + j] += x[i * d + j];
    }
    for (let c = 0; c < k; c++) if (isFixed[c]) normalizeRows(centroids.subarray(c * d, (c + 1) * d), d);
  };
  if (fixed) {
    for (const c of fixed) {
      if (c >= k) throw new Error(`kmeans: fixed cluster ${c} >= k=${k}`);
      if (c >= 0) isFixed[c] = 1;
    }
  }

  // Seeding: warm start, or the greedy k-means++ of the album clustering (numeric/seeding.ts), the same rule.
  if (opts.init) {
    if (opts.init.length !== k * d) throw new Error('kmeans: init has the wrong size');
    centroids.set(opts.init);
    setFixedCentroids();
  } else {
    setFixedCentroids();
    const fixedClusters = [...Array(k).keys()].filter((c) => isFixed[c]);
    const weight = new Float64Array(n).fill(1);
    for (const c of fixedClusters)
      for (let i = 0; i < n; i++) weight[i] = Math.min(weight[i], Math.max(0, 1 - dot(x, i * d, centroids, c * d, d)));
    const free = [...Array(k).keys()].filter((c) => !isFixed[c]);
    const picks = greedySeeds(
      free.length,
      weight,
      fixedClusters.length > 0,
      (p, t, tile) => {
        for (let r = 0; r < n; r++) for (let j = 0; j < t; j++) tile[r * t + j] = dot(x, r * d, x, p[j] * d, d);
      },
      DEFAULT_SEED_POWER,
      rng,
      seedTrials(k),
    );
    free.forEach((c, j) => {
      centroids.set(x.subarray(picks[j] * d, (picks[j] + 1) * d), c * d);
      normalizeRows(centroids.subarray(c * d, (c + 1) * d), d);
    });
  }

  const labels = new Int32Array(n).fill(-1);
  const sim = new Float64Array(n);
  const counts = new Int32Array(k);
  let iter = 0;
  for (; iter < iterations; iter++) {
    // Assignment; fixed points keep their cluster.
    const nearest = await assign(centroids, k);
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const label = fixed && fixed[i] >= 0 ? fixed[i] : nearest.labels[i];
      if (labels[i] !== label) changed++;
      labels[i] = label;
      sim[i] = nearest.similarity[i];
    }
    if (changed === 0 && iter > 0) break;
    // Update: normalized sums; re-seed empty clusters at the worst-fitting points.
    counts.fill(0);
    for (let c = 0; c < k; c++) if (!isFixed[c]) centroids.fill(0, c * d, (c + 1) * d);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      counts[c]++;
      if (isFixed[c]) continue;
      for (let j = 0; j < d; j++) centroids[c * d + j] += x[i * d + j];
    }
    for (let c = 0; c < k; c++) {
      if (isFixed[c]) continue;
      if (counts[c] === 0) {
        let worst = -1;
        for (let i = 0; i < n; i++) if (!(fixed && fixed[i] >= 0) && counts[labels[i]] > 1 && (worst < 0 || sim[i] < sim[worst])) worst = i;
        if (worst < 0) continue;
        counts[labels[worst]]--;
        labels[worst] = c;
        counts[c] = 1;
        sim[worst] = 1;
        centroids.set(x.subarray(worst * d, (worst + 1) * d), c * d);
      }
      normalizeRows(centroids.subarray(c * d, (c + 1) * d), d);
    }
  }
  return { labels, centroids, iterations: iter };
}
