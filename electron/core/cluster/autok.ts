/**
 * Automatic number of albums.
 *
 * Criterion: the K with the highest mean cosine silhouette, measured on a random sample.
 *
 * 1. Draw a uniform sample of at most `sampleSize` points (default 2,000) and compute its cosine Gram matrix once.
 * 2. For each candidate K, cluster the sample with spherical k-means (same seeding as the full run, `restarts`
 *    seedings, user constraints restricted to the sample) and score the labelling by its mean silhouette
 *    s = (b - a) / max(a, b), with a the mean cosine distance to the own cluster and b the mean cosine distance to
 *    the nearest other cluster.
 * 3. Candidates: every K from `minK` to 12, then a geometric grid (x1.15) up to `maxK`; finally every K between
 *    the grid neighbours of the best grid point is tried, and the best K overall wins; scores within 0.001 of the
 *    best count as ties, which go to the smaller K.
 *
 * Why silhouette: it needs no reference distribution and no tuning, it compares within- to between-cluster
 * distance per point (so one big album does not drown small ones the way the k-means objective's elbow does), and
 * on a 2,000-point sample it costs milliseconds per K once the Gram matrix exists. Its known biases: it never
 * proposes K = 1, and on strongly overlapping data it prefers a few coarse albums over many fine ones (see the
 * README for measurements). Default range: K in [2, min(60, ceil(1.5 sqrt(n)), n - 1)].
 */

import { kmeans, type FixedCluster, type KMeansConstraints } from './kmeans.js';
import { checkMatrix, gatherRows, normalizeRow, unitRows } from './linalg.js';
import { cosineGram, silhouetteFromGram } from './metrics.js';
import { Rng } from './rng.js';

export interface AutoKOptions {
  /** Smallest K considered. Default 2 (raised to cover every cluster the constraints name). */
  minK?: number;
  /** Largest K considered. Default min(60, ceil(1.5 * sqrt(n)), n - 1). */
  maxK?: number;
  /** Points sampled for clustering and silhouette. Default 2,000. */
  sampleSize?: number;
  /** k-means seedings per candidate K. Default 2. */
  restarts?: number;
  seed?: number;
  /** User constraints (as for k-means); they fix a lower bound on K and shape the sample's clusterings. */
  constraints?: KMeansConstraints;
}

/** Silhouette of one candidate K. */
export interface AutoKScore {
  k: number;
  silhouette: number;
}

export interface AutoKResult {
  /** The chosen number of clusters. */
  k: number;
  /** Every evaluated K, in increasing K. Empty when there was nothing to choose. */
  scores: AutoKScore[];
  /** Points in the silhouette sample. */
  sampleSize: number;
}

/** Candidate Ks below this are all evaluated; above it a geometric grid is used. */
const DENSE_UP_TO = 12;
const GRID_RATIO = 1.15;
/** Silhouettes closer than this to the best count as ties (which go to the smaller K). */
const TIE = 1e-3;

/** Chooses the number of clusters for `n x dim` row vectors; see the module comment for the criterion. */
export function chooseK(vectors: Float32Array, n: number, dim: number, opts: AutoKOptions = {}): AutoKResult {
  checkMatrix(vectors, n, dim);
  const x = unitRows(vectors, n, dim);
  const required = requiredClusters(opts.constraints);
  const minK = Math.max(opts.minK ?? 2, required, 1);
  const maxK = Math.min(opts.maxK ?? Math.min(60, Math.ceil(1.5 * Math.sqrt(n))), n - 1);
  if (n < 3) return { k: Math.max(1, required), scores: [], sampleSize: 0 };
  if (maxK <= minK) return { k: minK, scores: [], sampleSize: 0 };

  const rng = new Rng(opts.seed ?? 0);
  const sample = rng.sample(n, Math.min(n, opts.sampleSize ?? 2000));
  const m = sample.length;
  const xs = gatherRows(x, dim, sample);
  const gram = cosineGram(xs, m, dim);
  const constraints = restrictConstraints(x, n, dim, sample, opts.constraints);
  const seed = rng.nextUint32();

  const scores = new Map<number, number>();
  const evaluate = (k: number) => {
    if (scores.has(k)) return;
    const result = kmeans(xs, m, dim, k, {
      seed: seed + k,
      restarts: opts.restarts ?? 2,
      algorithm: 'lloyd',
      constraints,
      gram,
    });
    scores.set(k, silhouetteFromGram(gram, m, result.assignments));
  };

  const grid: number[] = [];
  for (let k = minK; k <= maxK; k = k < DENSE_UP_TO ? k + 1 : Math.max(k + 1, Math.round(k * GRID_RATIO))) {
    grid.push(k);
  }
  if (grid[grid.length - 1] !== maxK) grid.push(maxK);
  for (const k of grid) evaluate(k);
  const bestOnGrid = grid.indexOf(argBest(scores));
  const lo = grid[Math.max(0, bestOnGrid - 1)];
  const hi = grid[Math.min(grid.length - 1, bestOnGrid + 1)];
  for (let k = lo + 1; k < hi; k++) evaluate(k);

  const list = [...scores].map(([k, silhouette]) => ({ k, silhouette })).sort((a, b) => a.k - b.k);
  return { k: argBest(scores), scores: list, sampleSize: m };
}

/**
 * The smallest K whose score is within {@link TIE} of the highest. An extra cluster that takes in a handful of
 * unrelated photos leaves every silhouette practically unchanged; counting near-equal scores as ties keeps such
 * K + 1 solutions from winning on rounding noise.
 */
function argBest(scores: ReadonlyMap<number, number>): number {
  let best = -Infinity;
  for (const s of scores.values()) best = Math.max(best, s);
  let bestK = Infinity;
  for (const [k, s] of scores) if (s >= best - TIE && k < bestK) bestK = k;
  return bestK;
}

/** 1 + the largest cluster id any constraint names (0 without constraints). */
function requiredClusters(constraints: KMeansConstraints | undefined): number {
  let max = -1;
  for (const [, c] of constraints?.pinned ?? []) max = Math.max(max, c);
  for (const [, c] of constraints?.cannotLink ?? []) max = Math.max(max, c);
  for (const f of constraints?.fixed ?? []) max = Math.max(max, f.cluster);
  return max + 1;
}

/**
 * The constraints as they apply to the sample: pins and cannot-links of sampled points (renumbered), and fixed
 * prototypes made explicit (a fixed cluster defined by its pinned members keeps the mean of all of them, sampled
 * or not).
 */
function restrictConstraints(
  x: Float32Array,
  n: number,
  dim: number,
  sample: Int32Array,
  constraints: KMeansConstraints | undefined,
): KMeansConstraints | undefined {
  if (!constraints) return undefined;
  const rowOf = new Map<number, number>();
  sample.forEach((i, r) => rowOf.set(i, r));
  const pinnedAll = [...(constraints.pinned ?? [])];
  const pinned: [number, number][] = [];
  for (const [i, c] of pinnedAll) {
    const r = rowOf.get(i);
    if (r !== undefined) pinned.push([r, c]);
  }
  const cannotLink: [number, number][] = [];
  for (const [i, c] of constraints.cannotLink ?? []) {
    const r = rowOf.get(i);
    if (r !== undefined) cannotLink.push([r, c]);
  }
  const fixed: FixedCluster[] = [];
  for (const f of constraints.fixed ?? []) {
    if (f.centroid) {
      fixed.push(f);
      continue;
    }
    const centroid = new Float32Array(dim);
    for (const [i, c] of pinnedAll) {
      if (c !== f.cluster || i < 0 || i >= n) continue;
      for (let d = 0; d < dim; d++) centroid[d] += x[i * dim + d];
    }
    // A fixed cluster without pinned members is invalid; leave it to k-means to report that.
    fixed.push(normalizeRow(centroid, 0, dim) > 0 ? { cluster: f.cluster, centroid } : f);
  }
  return { pinned, cannotLink, fixed };
}
