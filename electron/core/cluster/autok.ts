/**
 * Automatic number of albums.
 *
 * Criterion: the K with the largest **silhouette gap**, silhouette(K) on the data minus silhouette(K) on a
 * structureless reference with the same covariance, both measured on a random sample.
 *
 * 1. Draw a uniform sample of at most `sampleSize` points (default 2,000).
 * 2. Build the reference: as many points of a Gaussian with the sample's mean and covariance (each a random
 *    combination `mean + sum_j w_j (x_j - mean) / sqrt(r)` of r = 512 centred sample points, w ~ N(0, 1)),
 *    projected onto the sphere like the embeddings. It has the data's spread and anisotropy but no clusters.
 * 3. For each candidate K, cluster the sample (`restarts` seedings) and the reference (one seeding) with spherical
 *    k-means on their Gram matrices ({@link kmeansOnGram}: the cost per K does not depend on the dimension), and
 *    take the mean cosine silhouette of each: per point s = (b - a) / max(a, b), a = mean cosine distance to its
 *    own cluster, b = to the nearest other cluster. Score = silhouette(data) - silhouette(reference).
 * 4. Candidates: every K from `minK` to 12, then a geometric grid (x1.15) up to `maxK`; then every K between the
 *    grid neighbours of the best grid point. The best score wins; scores within 0.001 of it count as ties, which
 *    go to the smaller K. Default range: K in [2, min(60, ceil(1.5 sqrt(n)), n - 1)].
 *
 * Why the reference: k-means carves any point cloud into convex pieces whose silhouette is positive and falls
 * with K, so on embeddings whose classes overlap (frozen, not yet fine-tuned features) the plain silhouette
 * decreases monotonically and always picks K = 2. Subtracting what the same procedure scores on cluster-free data
 * of the same shape removes that trend (the idea of Tibshirani's gap statistic, with the silhouette in place of
 * log-dispersion). On well-separated clusters the data term dominates and the peak stays at the true K.
 * Measured: README.md. Known limits: never proposes K = 1; sampling noise of about +-0.01 in the score.
 *
 * Cost: two Gram matrices and the reference, about (m + 512) m dim multiply-adds (m = sample size), then per
 * candidate K three Gram k-means runs of about m^2 operations each.
 */

import { kmeansOnGram } from './gram-kmeans.js';
import type { KMeansConstraints } from '../../../training/numeric/kmeans.js';
import { checkMatrix, dotBlock, gatherRows, normalizeRows, unitRows } from '../../../training/numeric/linalg.js';
import { cosineGram } from './metrics.js';
import { Rng } from '../../../training/numeric/rng.js';

export interface AutoKOptions {
  /** Smallest K considered. Default 2 (raised to cover every cluster the constraints name). */
  minK?: number;
  /** Largest K considered. Default min(60, ceil(1.5 * sqrt(n)), n - 1). */
  maxK?: number;
  /** Points sampled for clustering and silhouette (the reference has as many). Default 2,000. */
  sampleSize?: number;
  /** k-means seedings per candidate K on the data (the reference gets one). Default 2. */
  restarts?: number;
  seed?: number;
  /**
   * User constraints (as for k-means). They only set a lower bound on K (every cluster they name must exist);
   * the sample is clustered without them.
   */
  constraints?: KMeansConstraints;
}

/** The evaluation of one candidate K. */
export interface AutoKScore {
  k: number;
  /** Mean silhouette of the sample's clustering. */
  silhouette: number;
  /** Mean silhouette of the structureless reference's clustering. */
  reference: number;
  /** `silhouette - reference`, the criterion. */
  score: number;
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
/** Sample rows combined into each reference point. */
const REFERENCE_RANK = 512;
/**
 * Scores closer than this to the best count as ties (which go to the smaller K). Silhouettes of a sample of m
 * points carry sampling noise of order 1/sqrt(m) (about +-0.01 at m = 2,000, +-0.1 for a 30-photo library), so the
 * tolerance scales with it, like the one-standard-error rule of the gap statistic: prefer the simpler answer unless
 * a larger K is better by more than the noise.
 */
function tieFor(m: number): number {
  return Math.max(1e-3, 0.5 / Math.sqrt(Math.max(1, m)));
}

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
  // Small samples are noisy: average the reference over several draws and restart the data's k-means more
  // (both cost little when m is small).
  const draws = Math.min(8, Math.max(1, Math.ceil(600 / m)));
  const referenceGrams = Array.from({ length: draws }, () => cosineGram(referenceSample(xs, m, dim, rng), m, dim));
  const seed = rng.nextU32();

  const evaluated = new Map<number, AutoKScore>();
  const evaluate = (k: number) => {
    if (evaluated.has(k)) return;
    const { silhouette } = kmeansOnGram(gram, m, k, { seed: seed + k, restarts: Math.max(opts.restarts ?? 2, draws) });
    let reference = 0;
    referenceGrams.forEach((rg, d) => (reference += kmeansOnGram(rg, m, k, { seed: seed + k + 7919 * d, restarts: 1 }).silhouette / draws));
    evaluated.set(k, { k, silhouette, reference, score: silhouette - reference });
  };

  const grid: number[] = [];
  for (let k = minK; k <= maxK; k = k < DENSE_UP_TO ? k + 1 : Math.max(k + 1, Math.round(k * GRID_RATIO))) {
    grid.push(k);
  }
  if (grid[grid.length - 1] !== maxK) grid.push(maxK);
  for (const k of grid) evaluate(k);
  const bestOnGrid = grid.indexOf(argBest(evaluated.values(), m));
  const lo = grid[Math.max(0, bestOnGrid - 1)];
  const hi = grid[Math.min(grid.length - 1, bestOnGrid + 1)];
  for (let k = lo + 1; k < hi; k++) evaluate(k);

  const scores = [...evaluated.values()].sort((a, b) => a.k - b.k);
  return { k: argBest(scores, m), scores, sampleSize: m };
}

/**
 * `m` points of a Gaussian with the mean and covariance of the unit rows `xs` (`m x dim`), normalised to the
 * sphere. Row i = mean + sum_j w_ij (x_j - mean) / sqrt(r) over a random subset of r = min(m, 512) sample rows,
 * w_ij ~ N(0, 1): its covariance is that of the subset, an unbiased estimate of the sample's.
 * Cost: m r dim multiply-adds.
 */
function referenceSample(xs: Float32Array, m: number, dim: number, rng: Rng): Float32Array {
  const mean = new Float64Array(dim);
  for (let j = 0; j < m; j++) for (let d = 0; d < dim; d++) mean[d] += xs[j * dim + d] / m;
  const basis = rng.sample(m, Math.min(m, REFERENCE_RANK));
  const r = basis.length;
  // Centred basis rows, transposed (dim x r), so that the product below is rows of weights against rows of it.
  const centredT = new Float32Array(dim * r);
  basis.forEach((j, b) => {
    for (let d = 0; d < dim; d++) centredT[d * r + b] = xs[j * dim + d] - mean[d];
  });
  const weights = new Float32Array(m * r);
  const scale = 1 / Math.sqrt(r);
  for (let i = 0; i < weights.length; i++) weights[i] = rng.normal() * scale;
  const out = new Float32Array(m * dim);
  // A few dimensions at a time, so the block of centredT rows in use stays in cache.
  for (let d0 = 0; d0 < dim; d0 += 32) {
    dotBlock(weights, 0, m, centredT, d0, Math.min(32, dim - d0), r, out.subarray(d0), dim);
  }
  for (let i = 0; i < m; i++) for (let d = 0; d < dim; d++) out[i * dim + d] += mean[d];
  return normalizeRows(out, m, dim);
}

/**
 * The smallest K whose score is within {@link tieFor} of the highest. An extra cluster that takes in a handful of
 * unrelated photos leaves every silhouette practically unchanged; counting near-equal scores as ties keeps such
 * K + 1 solutions from winning on rounding noise.
 */
function argBest(scores: Iterable<AutoKScore>, m: number): number {
  const list = [...scores];
  const best = Math.max(...list.map((s) => s.score));
  const tie = tieFor(m);
  return Math.min(...list.filter((s) => s.score >= best - tie).map((s) => s.k));
}

/** 1 + the largest cluster id any constraint names (0 without constraints). */
function requiredClusters(constraints: KMeansConstraints | undefined): number {
  let max = -1;
  for (const [, c] of constraints?.pinned ?? []) max = Math.max(max, c);
  for (const [, c] of constraints?.cannotLink ?? []) max = Math.max(max, c);
  for (const f of constraints?.fixed ?? []) max = Math.max(max, f.cluster);
  for (const f of constraints?.seeded ?? []) max = Math.max(max, f.cluster);
  return max + 1;
}
