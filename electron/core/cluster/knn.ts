/**
 * k-nearest-neighbour search by cosine similarity: exact ({@link knnSelf}, {@link knnQuery}) and, for large n,
 * approximate with an inverted file ({@link knnApprox}).
 *
 * Brute force, organised for cache: rows are processed in tiles (a block of query rows against a block of base
 * rows, see {@link dotBlock}), and every tile of similarities is pushed into per-query bounded min-heaps that keep
 * the best `k`. Most candidates are rejected by a single comparison with the current k-th best similarity.
 *
 * Complexity: O(nq * nb * dim) multiply-adds plus O(nq * nb) heap checks (O(log k) per accepted candidate);
 * memory O((nq + nb) * dim + nq * k). {@link knnSelf} exploits symmetry and does half the multiply-adds:
 * n = 30,000 at dim = 256 is about 1.2e11 multiply-adds: one to two minutes on one core of a current x86 CPU.
 */

import { kmeans } from '../../../training/numeric/kmeans.js';
import { checkMatrix, dotBlock, gatherRows, unitRows } from '../../../training/numeric/linalg.js';
import { Rng } from '../../../training/numeric/rng.js';

/** k nearest neighbours of each query, best first. */
export interface KnnGraph {
  /** Number of queries. */
  n: number;
  /** Neighbours per query (the requested k, capped by the number of candidates). */
  k: number;
  /** `indices[q * k + r]` = base row of the r-th nearest neighbour of query q. */
  indices: Int32Array;
  /** Matching cosine similarities, non-increasing along each query's row. */
  similarities: Float32Array;
}

/** Rows per tile. 128 rows x 256 dims x 4 bytes = 128 KiB per side: both tiles stay in L2. */
const TILE = 128;

/**
 * Bounded heaps, one per query, stored flat. The root of each heap is its worst kept neighbour; "worse" means lower
 * similarity, ties broken by larger index, so results do not depend on the order candidates arrive in.
 */
class TopK {
  readonly sims: Float64Array;
  readonly idx: Int32Array;
  readonly size: Int32Array;
  /** Similarity of each heap's root once full (-Infinity before): the bar a candidate must reach. */
  readonly bar: Float64Array;

  constructor(
    readonly n: number,
    readonly k: number,
  ) {
    this.sims = new Float64Array(n * k);
    this.idx = new Int32Array(n * k);
    this.size = new Int32Array(n);
    this.bar = new Float64Array(n).fill(-Infinity);
  }

  /** Offers neighbour `j` with similarity `s` to query `q`. */
  push(q: number, s: number, j: number): void {
    if (s < this.bar[q]) return;
    const k = this.k;
    const base = q * k;
    const sims = this.sims;
    const idx = this.idx;
    let size = this.size[q];
    if (size < k) {
      // Sift up from the new leaf.
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(s, j, sims[base + p], idx[base + p])) break;
        sims[base + c] = sims[base + p];
        idx[base + c] = idx[base + p];
        c = p;
      }
      sims[base + c] = s;
      idx[base + c] = j;
      this.size[q] = size;
      if (size === k) this.bar[q] = sims[base];
      return;
    }
    if (!worse(sims[base], idx[base], s, j)) return;
    // Replace the root and sift down.
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= k) break;
      let m = l;
      if (l + 1 < k && worse(sims[base + l + 1], idx[base + l + 1], sims[base + l], idx[base + l])) m = l + 1;
      if (!worse(sims[base + m], idx[base + m], s, j)) break;
      sims[base + c] = sims[base + m];
      idx[base + c] = idx[base + m];
      c = m;
    }
    sims[base + c] = s;
    idx[base + c] = j;
    this.bar[q] = sims[base];
  }

  /** Sorted best-first result; missing neighbours (too few candidates) are -1 / NaN. */
  finish(): KnnGraph {
    const { n, k } = this;
    const indices = new Int32Array(n * k).fill(-1);
    const similarities = new Float32Array(n * k).fill(NaN);
    const order: number[] = [];
    for (let q = 0; q < n; q++) {
      const base = q * k;
      order.length = 0;
      for (let r = 0; r < this.size[q]; r++) order.push(base + r);
      order.sort((a, b) => this.sims[b] - this.sims[a] || this.idx[a] - this.idx[b]);
      for (let r = 0; r < order.length; r++) {
        indices[base + r] = this.idx[order[r]];
        similarities[base + r] = this.sims[order[r]];
      }
    }
    return { n, k, indices, similarities };
  }
}

function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
}

/**
 * The `k` nearest other rows of every row of `data` (`n x dim`, rows need not be normalised: a normalised copy is
 * made when needed). A row is never its own neighbour; `k` is capped at `n - 1`.
 */
export function knnSelf(data: Float32Array, n: number, dim: number, k: number): KnnGraph {
  checkMatrix(data, n, dim);
  checkK(k);
  const kk = Math.min(k, Math.max(0, n - 1));
  const x = unitRows(data, n, dim);
  const heaps = new TopK(n, kk);
  if (kk === 0) return heaps.finish();
  const tile = new Float32Array(TILE * TILE);
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const ni = Math.min(TILE, n - i0);
    for (let j0 = i0; j0 < n; j0 += TILE) {
      const nj = Math.min(TILE, n - j0);
      dotBlock(x, i0, ni, x, j0, nj, dim, tile, TILE);
      for (let a = 0; a < ni; a++) {
        const i = i0 + a;
        // On the diagonal tile only the upper triangle is new; elsewhere every pair is.
        const bStart = j0 === i0 ? a + 1 : 0;
        const row = a * TILE;
        for (let b = bStart; b < nj; b++) {
          const s = tile[row + b];
          const j = j0 + b;
          heaps.push(i, s, j);
          heaps.push(j, s, i);
        }
      }
    }
  }
  return heaps.finish();
}

/**
 * The `k` nearest rows of `base` (`nb x dim`) for every row of `queries` (`nq x dim`). Nothing is excluded (a
 * query identical to a base row finds it); `k` is capped at `nb`.
 */
export function knnQuery(
  queries: Float32Array,
  nq: number,
  base: Float32Array,
  nb: number,
  dim: number,
  k: number,
): KnnGraph {
  checkMatrix(queries, nq, dim, 'queries');
  checkMatrix(base, nb, dim, 'base');
  checkK(k);
  const kk = Math.min(k, nb);
  const q = unitRows(queries, nq, dim);
  const x = unitRows(base, nb, dim);
  const heaps = new TopK(nq, kk);
  if (kk === 0) return heaps.finish();
  const tile = new Float32Array(TILE * TILE);
  for (let j0 = 0; j0 < nb; j0 += TILE) {
    const nj = Math.min(TILE, nb - j0);
    for (let i0 = 0; i0 < nq; i0 += TILE) {
      const ni = Math.min(TILE, nq - i0);
      dotBlock(q, i0, ni, x, j0, nj, dim, tile, TILE);
      for (let a = 0; a < ni; a++) {
        const row = a * TILE;
        for (let b = 0; b < nj; b++) heaps.push(i0 + a, tile[row + b], j0 + b);
      }
    }
  }
  return heaps.finish();
}

export interface ApproxKnnOptions {
  /** Inverted-file cells (default round(sqrt(n))). */
  cells?: number;
  /** Cells searched per row: the nearest ones by centroid, its own first (default 8). */
  probes?: number;
  /** Below this many rows the search is exact (default 3,000). */
  exactBelow?: number;
  seed?: number;
}

/**
 * Like {@link knnSelf}, but approximate for large `n` (an inverted file): the rows are split into cells by k-means
 * (fitted on a sample), each row belongs to its nearest cell, and each row is compared with the members of the
 * `probes` cells whose centroids are nearest to it. Cost about n * probes * (n / cells) * dim multiply-adds:
 * O(n^1.5 dim) with the default cells, against n^2 dim / 2 for the exact search. Recall against exact is measured
 * in docs/results.md.
 */
export function knnApprox(data: Float32Array, n: number, dim: number, k: number, opts: ApproxKnnOptions = {}): KnnGraph {
  checkMatrix(data, n, dim);
  checkK(k);
  if (n < (opts.exactBelow ?? 3000)) return knnSelf(data, n, dim, k);
  const kk = Math.min(k, n - 1);
  const x = unitRows(data, n, dim);
  const cells = Math.max(2, Math.min(n, opts.cells ?? Math.round(Math.sqrt(n))));
  const probes = Math.max(1, Math.min(cells, opts.probes ?? 8));
  // Cell centroids from a sample; then every row goes to its nearest centroid.
  const rng = new Rng(opts.seed ?? 0);
  const sampleSize = Math.min(n, 32 * cells);
  const sample = sampleSize === n ? x : gatherRows(x, dim, rng.sample(n, sampleSize));
  const km = kmeans(sample, sampleSize, dim, cells, { seed: opts.seed ?? 0, restarts: 1, maxIter: 15, algorithm: 'lloyd' });
  // Every row goes to its nearest cell; every query searches the `probes` cells nearest to it.
  const probeOf = knnQuery(x, n, km.centroids, cells, dim, probes).indices;
  const members: number[][] = Array.from({ length: cells }, () => []);
  const askers: number[][] = Array.from({ length: cells }, () => []);
  for (let i = 0; i < n; i++) {
    members[probeOf[i * probes]].push(i);
    for (let p = 0; p < probes; p++) askers[probeOf[i * probes + p]].push(i);
  }
  const heaps = new TopK(n, kk);
  const tile = new Float32Array(TILE * TILE);
  // Blocked per cell: the queries that probe it against its members.
  for (let c = 0; c < cells; c++) {
    const base = members[c];
    const q = askers[c];
    if (base.length === 0 || q.length === 0) continue;
    const qx = gatherRows(x, dim, q);
    const bx = gatherRows(x, dim, base);
    for (let j0 = 0; j0 < base.length; j0 += TILE) {
      const nj = Math.min(TILE, base.length - j0);
      for (let i0 = 0; i0 < q.length; i0 += TILE) {
        const ni = Math.min(TILE, q.length - i0);
        dotBlock(qx, i0, ni, bx, j0, nj, dim, tile, TILE);
        for (let a = 0; a < ni; a++) {
          const i = q[i0 + a];
          const row = a * TILE;
          for (let b = 0; b < nj; b++) {
            const j = base[j0 + b];
            if (j !== i) heaps.push(i, tile[row + b], j);
          }
        }
      }
    }
  }
  return heaps.finish();
}

/** Fraction of the exact neighbours that `approx` found (both `n x k`, -1 = none). */
export function knnRecall(exact: KnnGraph, approx: KnnGraph): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < exact.n; q++) {
    const got = new Set<number>();
    for (let r = 0; r < approx.k; r++) got.add(approx.indices[q * approx.k + r]);
    for (let r = 0; r < exact.k; r++) {
      const j = exact.indices[q * exact.k + r];
      if (j < 0) continue;
      total++;
      if (got.has(j)) hit++;
    }
  }
  return total ? hit / total : 1;
}
