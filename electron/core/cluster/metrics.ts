/**
 * Clustering quality metrics: ACC (Hungarian matching), NMI, ARI, leave-one-out kNN accuracy, and the cosine
 * silhouette used to choose the number of albums.
 *
 * Labels are arbitrary integers (any value, including -1, is just another label); only equality matters, so every
 * clustering metric here is invariant to renaming the labels of either side.
 */

import { knnSelf } from './knn.js';
import { checkMatrix, dotBlock, unitRows } from '../../../training/numeric/linalg.js';

/**
 * Minimum-cost assignment (Hungarian / Kuhn–Munkres, shortest-augmenting-path form with row and column
 * potentials) for a rectangular `rows x cols` cost matrix stored row-major.
 *
 * Returns, for each row, its column; when `rows > cols` exactly `rows - cols` rows get -1. Each column is used at
 * most once and the total cost of the assigned pairs is minimal among all assignments of `min(rows, cols)` pairs.
 * Cost: O(r^2 c) time with r = min(rows, cols), c = max(rows, cols); O(rows * cols) memory. Costs must be finite.
 */
export function hungarian(cost: ArrayLike<number>, rows: number, cols: number): Int32Array {
  if (cost.length !== rows * cols) throw new RangeError(`hungarian: expected ${rows * cols} costs, got ${cost.length}`);
  const result = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return result;
  // The solver below needs at least as many columns as rows: transpose when that is not the case.
  const transposed = rows > cols;
  const r = transposed ? cols : rows;
  const c = transposed ? rows : cols;
  const at = transposed ? (i: number, j: number) => cost[j * cols + i] : (i: number, j: number) => cost[i * cols + j];

  // 1-based indices; column 0 is a virtual column holding the row currently being inserted.
  const u = new Float64Array(r + 1); // row potentials
  const v = new Float64Array(c + 1); // column potentials
  const rowOfCol = new Int32Array(c + 1); // rowOfCol[j] = row matched to column j (0 = free)
  const prevCol = new Int32Array(c + 1); // previous column on the shortest alternating path
  const minSlack = new Float64Array(c + 1);
  const visited = new Uint8Array(c + 1);

  for (let row = 1; row <= r; row++) {
    // Grow a shortest-path tree (Dijkstra on reduced costs) from `row` until it reaches a free column.
    rowOfCol[0] = row;
    let col0 = 0;
    minSlack.fill(Infinity);
    visited.fill(0);
    do {
      visited[col0] = 1;
      const i0 = rowOfCol[col0];
      let delta = Infinity;
      let col1 = 0;
      for (let j = 1; j <= c; j++) {
        if (visited[j]) continue;
        const reduced = at(i0 - 1, j - 1) - u[i0] - v[j];
        if (reduced < minSlack[j]) {
          minSlack[j] = reduced;
          prevCol[j] = col0;
        }
        if (minSlack[j] < delta) {
          delta = minSlack[j];
          col1 = j;
        }
      }
      // Shift potentials so that the tree edges stay tight and the new column becomes reachable at zero cost.
      for (let j = 0; j <= c; j++) {
        if (visited[j]) {
          u[rowOfCol[j]] += delta;
          v[j] -= delta;
        } else {
          minSlack[j] -= delta;
        }
      }
      col0 = col1;
    } while (rowOfCol[col0] !== 0);
    // Augment: flip the matching along the path back to the virtual column.
    do {
      const col1 = prevCol[col0];
      rowOfCol[col0] = rowOfCol[col1];
      col0 = col1;
    } while (col0 !== 0);
  }

  for (let j = 1; j <= c; j++) {
    const i = rowOfCol[j];
    if (i === 0) continue;
    if (transposed) result[j - 1] = i - 1;
    else result[i - 1] = j - 1;
  }
  return result;
}

/** Contingency table between two labelings after compacting their label values to 0..k-1. */
interface Contingency {
  n: number;
  /** Number of distinct labels on each side. */
  ka: number;
  kb: number;
  /** `table[i * kb + j]` = number of items with compact label i in `a` and j in `b`. */
  table: Float64Array;
  rowSums: Float64Array;
  colSums: Float64Array;
}

function compact(labels: ArrayLike<number>): { ids: Int32Array; k: number } {
  const map = new Map<number, number>();
  const ids = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let id = map.get(labels[i]);
    if (id === undefined) {
      id = map.size;
      map.set(labels[i], id);
    }
    ids[i] = id;
  }
  return { ids, k: map.size };
}

function contingency(a: ArrayLike<number>, b: ArrayLike<number>): Contingency {
  if (a.length !== b.length) throw new RangeError(`labelings differ in length: ${a.length} vs ${b.length}`);
  const ca = compact(a);
  const cb = compact(b);
  const table = new Float64Array(ca.k * cb.k);
  const rowSums = new Float64Array(ca.k);
  const colSums = new Float64Array(cb.k);
  for (let i = 0; i < a.length; i++) {
    table[ca.ids[i] * cb.k + cb.ids[i]]++;
    rowSums[ca.ids[i]]++;
    colSums[cb.ids[i]]++;
  }
  return { n: a.length, ka: ca.k, kb: cb.k, table, rowSums, colSums };
}

/**
 * Clustering accuracy: the fraction of items whose predicted cluster maps to their true class under the best
 * one-to-one mapping between clusters and classes (found with {@link hungarian}). With more clusters than classes,
 * the items of unmatched clusters count as errors. Returns 1 for empty input.
 */
export function clusteringAccuracy(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const t = contingency(predicted, trueLabels);
  if (t.n === 0) return 1;
  // Maximise matched counts = minimise their negation.
  const cost = new Float64Array(t.table.length);
  for (let i = 0; i < cost.length; i++) cost[i] = -t.table[i];
  const match = hungarian(cost, t.ka, t.kb);
  let hits = 0;
  for (let i = 0; i < t.ka; i++) if (match[i] >= 0) hits += t.table[i * t.kb + match[i]];
  return hits / t.n;
}

function entropy(counts: Float64Array, n: number): number {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}

/**
 * Normalised mutual information with arithmetic-mean normalisation, `MI / ((H(a) + H(b)) / 2)` (natural log),
 * matching scikit-learn's default. Two single-cluster (or empty) labelings score 1; if only one side carries
 * information the score is 0.
 */
export function normalizedMutualInfo(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const t = contingency(a, b);
  if ((t.ka === 1 && t.kb === 1) || t.n === 0) return 1;
  let mi = 0;
  for (let i = 0; i < t.ka; i++) {
    for (let j = 0; j < t.kb; j++) {
      const nij = t.table[i * t.kb + j];
      if (nij > 0) mi += (nij / t.n) * Math.log((t.n * nij) / (t.rowSums[i] * t.colSums[j]));
    }
  }
  const norm = (entropy(t.rowSums, t.n) + entropy(t.colSums, t.n)) / 2;
  if (norm <= 0) return 0;
  // Guard against tiny negative rounding and against MI exceeding the normaliser by an ulp.
  return Math.min(1, Math.max(0, mi / norm));
}

const pairs = (x: number): number => (x * (x - 1)) / 2;

/**
 * Adjusted Rand index (Hubert & Arabie): pair-counting agreement corrected for chance; 1 for identical partitions,
 * about 0 for independent ones, can be negative. Degenerate inputs whose expected and maximal index coincide (both
 * sides one cluster, or both all singletons) score 1, as in scikit-learn.
 */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const t = contingency(a, b);
  let sumCells = 0;
  for (const nij of t.table) sumCells += pairs(nij);
  let sumA = 0;
  for (const x of t.rowSums) sumA += pairs(x);
  let sumB = 0;
  for (const x of t.colSums) sumB += pairs(x);
  const total = pairs(t.n);
  const expected = total > 0 ? (sumA * sumB) / total : 0;
  const max = (sumA + sumB) / 2;
  if (max === expected) return 1;
  return (sumCells - expected) / (max - expected);
}

/**
 * Pairwise precision and recall: of the pairs a prediction puts together, the share that belong together; of the
 * pairs that belong together, the share it puts together.
 */
export function pairwiseScores(truth: ArrayLike<number>, pred: ArrayLike<number>): { precision: number; recall: number } {
  const joint = new Map<string, number>();
  const byPred = new Map<number, number>();
  const byTrue = new Map<number, number>();
  for (let i = 0; i < truth.length; i++) {
    const key = `${pred[i]}:${truth[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    byPred.set(pred[i], (byPred.get(pred[i]) ?? 0) + 1);
    byTrue.set(truth[i], (byTrue.get(truth[i]) ?? 0) + 1);
  }
  const pairs = (m: Map<unknown, number>): number => [...m.values()].reduce((s, c) => s + (c * (c - 1)) / 2, 0);
  const tp = pairs(joint);
  const predPairs = pairs(byPred);
  const truePairs = pairs(byTrue);
  return { precision: predPairs ? tp / predPairs : 1, recall: truePairs ? tp / truePairs : 1 };
}

/** All three clustering scores at once. */
export interface ClusteringScores {
  acc: number;
  nmi: number;
  ari: number;
}

/** {@link clusteringAccuracy}, {@link normalizedMutualInfo} and {@link adjustedRandIndex} of a prediction. */
export function evaluateClustering(trueLabels: ArrayLike<number>, predicted: ArrayLike<number>): ClusteringScores {
  return {
    acc: clusteringAccuracy(trueLabels, predicted),
    nmi: normalizedMutualInfo(trueLabels, predicted),
    ari: adjustedRandIndex(trueLabels, predicted),
  };
}

/**
 * Leave-one-out kNN accuracy of features: each item is classified by a majority vote of the labels of its `k`
 * nearest other items by cosine similarity ({@link knnSelf}); ties between classes go to the class with the larger
 * summed similarity. Returns the fraction classified correctly (1 for fewer than two items).
 * Cost: that of {@link knnSelf}, O(n^2 dim).
 */
export function knnAccuracy(features: Float32Array, n: number, dim: number, labels: ArrayLike<number>, k = 20): number {
  if (labels.length !== n) throw new RangeError(`knnAccuracy: ${labels.length} labels for ${n} items`);
  if (n < 2) return 1;
  const kk = Math.min(k, n - 1);
  const { indices, similarities } = knnSelf(features, n, dim, kk);
  const votes = new Map<number, { count: number; sim: number }>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    votes.clear();
    for (let r = 0; r < kk; r++) {
      const j = indices[i * kk + r];
      if (j < 0) continue;
      const label = labels[j];
      const v = votes.get(label);
      if (v) {
        v.count++;
        v.sim += similarities[i * kk + r];
      } else {
        votes.set(label, { count: 1, sim: similarities[i * kk + r] });
      }
    }
    let best: number | undefined;
    let bestCount = -1;
    let bestSim = -Infinity;
    for (const [label, v] of votes) {
      if (v.count > bestCount || (v.count === bestCount && v.sim > bestSim)) {
        best = label;
        bestCount = v.count;
        bestSim = v.sim;
      }
    }
    if (best === labels[i]) correct++;
  }
  return correct / n;
}

/** Rows per tile when filling a Gram matrix. */
const GRAM_TILE = 128;

/**
 * Cosine Gram matrix (`n x n`, row-major) of unit rows: `gram[i * n + j]` = cosine similarity of rows i and j.
 * Computed tile by tile on the upper triangle and mirrored. Cost: n^2 dim / 2 multiply-adds, 4 n^2 bytes.
 */
export function cosineGram(x: Float32Array, n: number, dim: number): Float32Array {
  const gram = new Float32Array(n * n);
  const tile = new Float32Array(GRAM_TILE * GRAM_TILE);
  for (let i0 = 0; i0 < n; i0 += GRAM_TILE) {
    const ni = Math.min(GRAM_TILE, n - i0);
    for (let j0 = i0; j0 < n; j0 += GRAM_TILE) {
      const nj = Math.min(GRAM_TILE, n - j0);
      dotBlock(x, i0, ni, x, j0, nj, dim, tile, GRAM_TILE);
      for (let a = 0; a < ni; a++) {
        for (let b = 0; b < nj; b++) {
          const s = tile[a * GRAM_TILE + b];
          gram[(i0 + a) * n + j0 + b] = s;
          gram[(j0 + b) * n + i0 + a] = s;
        }
      }
    }
  }
  return gram;
}

/**
 * Mean silhouette (Rousseeuw 1987) with cosine distance 1 - cos, from a precomputed {@link cosineGram}.
 * For item i in cluster A: a = mean distance to the other members of A, b = smallest mean distance to the
 * members of another cluster, s = (b - a) / max(a, b); members of singleton clusters score 0 (as in
 * scikit-learn). Items labelled -1 are ignored. Returns 0 when fewer than two clusters are present.
 * Cost: O(n^2 + n k).
 */
export function silhouetteFromGram(gram: Float32Array, n: number, labels: ArrayLike<number>): number {
  if (gram.length !== n * n) throw new RangeError(`silhouette: gram has ${gram.length} values, expected ${n * n}`);
  if (labels.length !== n) throw new RangeError(`silhouette: ${labels.length} labels for ${n} items`);
  const { ids, k } = compact(labels);
  // Label -1 is not a cluster: find its compact id (if present) and skip it everywhere.
  let ignored = -1;
  for (let i = 0; i < n; i++) {
    if (labels[i] === -1) {
      ignored = ids[i];
      break;
    }
  }
  const sizes = new Float64Array(k);
  for (let i = 0; i < n; i++) sizes[ids[i]]++;
  const clusters = k - (ignored >= 0 ? 1 : 0);
  if (clusters < 2) return 0;
  const sums = new Float64Array(k);
  let total = 0;
  let counted = 0;
  for (let i = 0; i < n; i++) {
    const own = ids[i];
    if (own === ignored) continue;
    counted++;
    if (sizes[own] < 2) continue; // singleton: s = 0
    sums.fill(0);
    const row = i * n;
    for (let j = 0; j < n; j++) sums[ids[j]] += gram[row + j];
    const a = 1 - (sums[own] - gram[row + i]) / (sizes[own] - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c === own || c === ignored || sizes[c] === 0) continue;
      b = Math.min(b, 1 - sums[c] / sizes[c]);
    }
    const denom = Math.max(a, b);
    if (denom > 0) total += (b - a) / denom;
  }
  return counted > 0 ? total / counted : 0;
}

/**
 * Mean cosine silhouette of a labelling of `n x dim` rows (see {@link silhouetteFromGram}). O(n^2 dim): sample
 * large inputs first.
 */
export function silhouetteScore(data: Float32Array, n: number, dim: number, labels: ArrayLike<number>): number {
  checkMatrix(data, n, dim);
  return silhouetteFromGram(cosineGram(unitRows(data, n, dim), n, dim), n, labels);
}
