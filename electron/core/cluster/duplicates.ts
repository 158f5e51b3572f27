/**
 * Near-duplicate detection: groups of photos whose embeddings are almost identical (bursts, re-saved copies,
 * edited versions).
 *
 * Exact for the pairs it compares: all pairs within each partition (typically the k-means clusters, since two
 * vectors with cosine >= 0.98 practically always share a cluster) are compared in cache-blocked tiles, pairs at or
 * above the threshold are linked, and the groups are the connected components (union-find). Linking is
 * transitive, so a long chain of gradual edits forms one group even if its ends are below the threshold.
 *
 * Cost: sum over partitions of size^2 * dim / 2 multiply-adds. A partition larger than {@link EXACT_PARTITION}
 * rows links each row to those of its {@link APPROX_NEIGHBOURS} approximate nearest neighbours at or above the
 * threshold instead (knnApprox, O(size^1.5 dim)), so a large library costs no quadratic time here.
 */

import { knnApprox } from './knn.js';
import { checkMatrix, dotBlock, gatherRows, unitRows } from '../../../training/numeric/linalg.js';

/** Partitions up to this size are compared pair by pair. */
export const EXACT_PARTITION = 3000;
/** Neighbours per row searched in larger partitions (groups grow beyond this by transitivity). */
const APPROX_NEIGHBOURS = 8;

export interface DuplicateOptions {
  /** Cosine similarity at or above which two photos are near-duplicates. Default 0.98. */
  threshold?: number;
  /**
   * Partition label per point (e.g. k-means assignments); only points with equal labels are compared. Default:
   * one partition holding everything.
   */
  partition?: ArrayLike<number>;
}

/** Rows per tile (128 x 256 dims x 4 bytes = 128 KiB per side). */
const TILE = 128;

/**
 * Groups of two or more near-duplicate rows of `vectors` (`n x dim`). Each group lists point indices in
 * increasing order; groups are ordered by their first index.
 */
export function findNearDuplicates(
  vectors: Float32Array,
  n: number,
  dim: number,
  opts: DuplicateOptions = {},
): Int32Array[] {
  checkMatrix(vectors, n, dim);
  const threshold = opts.threshold ?? 0.98;
  const x = unitRows(vectors, n, dim);
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]]; // path halving
      i = parent[i];
    }
    return i;
  };
  const union = (i: number, j: number) => {
    const a = find(i);
    const b = find(j);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  };

  const tile = new Float32Array(TILE * TILE);
  for (const members of partitions(n, opts.partition)) {
    const m = members.length;
    if (m < 2) continue;
    const xs = members.length === n ? x : gatherRows(x, dim, members);
    if (m > EXACT_PARTITION) {
      const g = knnApprox(xs, m, dim, APPROX_NEIGHBOURS);
      for (let i = 0; i < m; i++) {
        for (let r = 0; r < g.k; r++) {
          const j = g.indices[i * g.k + r];
          if (j >= 0 && g.similarities[i * g.k + r] >= threshold) union(members[i], members[j]);
        }
      }
      continue;
    }
    for (let i0 = 0; i0 < m; i0 += TILE) {
      const ni = Math.min(TILE, m - i0);
      for (let j0 = i0; j0 < m; j0 += TILE) {
        const nj = Math.min(TILE, m - j0);
        dotBlock(xs, i0, ni, xs, j0, nj, dim, tile, TILE);
        for (let a = 0; a < ni; a++) {
          const row = a * TILE;
          for (let b = j0 === i0 ? a + 1 : 0; b < nj; b++) {
            if (tile[row + b] >= threshold) union(members[i0 + a], members[j0 + b]);
          }
        }
      }
    }
  }

  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const root = find(i);
    if (root === i) {
      // A root is the smallest index of its group, so groups are created in order of their first member.
      groups.set(i, [i]);
    } else {
      groups.get(root)!.push(i);
    }
  }
  const result: Int32Array[] = [];
  for (const g of groups.values()) if (g.length > 1) result.push(Int32Array.from(g));
  return result;
}

/** Member lists of each partition label (all points when there is no partition). */
function partitions(n: number, labels: ArrayLike<number> | undefined): Int32Array[] {
  if (!labels) return [Int32Array.from({ length: n }, (_, i) => i)];
  if (labels.length !== n) throw new RangeError(`partition has ${labels.length} labels for ${n} points`);
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byLabel.get(labels[i]);
    if (list) list.push(i);
    else byLabel.set(labels[i], [i]);
  }
  return [...byLabel.values()].map((list) => Int32Array.from(list));
}
