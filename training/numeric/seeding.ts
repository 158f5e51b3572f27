/**
 * Greedy k-means++ seeding on cosine similarity, independent of how similarities are obtained (dot products of
 * vectors, or look-ups in a Gram matrix).
 *
 * Let w = 1 - (max cosine to the seeds so far); for unit vectors w is proportional to the squared Euclidean
 * distance of classic k-means++. Each step draws {@link seedTrials} candidates with probability proportional to
 * w^power and keeps the one that lowers the k-means potential (sum of w) most. Classic k-means++ is power 1, but
 * in high dimensions w within a cluster is already a sizeable fraction of w between clusters (0.5 vs 1 for blobs
 * whose points have cosine 0.7 to their centre), so power-1 draws land in already-covered clusters often and
 * k-means then merges two true clusters and splits another. A larger power leans towards farthest-first
 * traversal; the greedy potential test keeps isolated outliers from being chosen while any cluster is uncovered.
 */

import type { Rng } from './rng.js';

/** Default exponent on the sampling weight; see the module comment and README.md for the measurements. */
export const DEFAULT_SEED_POWER = 16;

/**
 * Fills `tile[r * t + j]` with the cosine similarity between candidate r and candidate `picks[j]`, for every
 * candidate r and j < t.
 */
export type CandidateSimilarities = (picks: Int32Array, t: number, tile: Float32Array) => void;

/**
 * Picks `count` seeds among `m = weight.length` candidates. `weight[r]` must hold 1 - (max cosine of candidate r
 * to the centroids that already exist), or 1 when there are none (`anySeed` false: the first pick is uniform);
 * it is updated in place. Returns the picked candidate indices, in order.
 * Cost: `count * seedTrials * m` similarities.
 */
export function greedySeeds(
  count: number,
  weight: Float64Array,
  anySeed: boolean,
  similarities: CandidateSimilarities,
  power: number,
  rng: Rng,
  trials: number,
): Int32Array {
  const m = weight.length;
  const chosen = new Int32Array(count);
  if (m === 0) return chosen.fill(-1);
  const drawWeight = new Float64Array(m);
  const tile = new Float32Array(m * trials);
  const picks = new Int32Array(trials);
  let seeded = anySeed;
  for (let s = 0; s < count; s++) {
    let total = 0;
    for (let r = 0; r < m; r++) {
      drawWeight[r] = Math.pow(weight[r], power);
      total += drawWeight[r];
    }
    // The very first seed is uniform; so is every seed once all candidates coincide with seeds (total 0).
    const uniform = !seeded || !(total > 0);
    const t = uniform ? 1 : trials;
    for (let j = 0; j < t; j++) picks[j] = uniform ? rng.int(m) : drawWeighted(drawWeight, total, rng);
    similarities(picks, t, tile);
    let bestTrial = 0;
    let bestPotential = Infinity;
    for (let j = 0; j < t; j++) {
      let potential = 0;
      for (let r = 0; r < m; r++) potential += Math.min(weight[r], Math.max(0, 1 - tile[r * t + j]));
      if (potential < bestPotential) {
        bestPotential = potential;
        bestTrial = j;
      }
    }
    for (let r = 0; r < m; r++) weight[r] = Math.min(weight[r], Math.max(0, 1 - tile[r * t + bestTrial]));
    chosen[s] = picks[bestTrial];
    seeded = true;
  }
  return chosen;
}

/** Candidates tried per greedy k-means++ step: 2 + ln k, as in scikit-learn. */
export function seedTrials(k: number): number {
  return 2 + Math.floor(Math.log(Math.max(1, k)));
}

/** Index drawn with probability proportional to `weight` (whose sum is `total` > 0). */
function drawWeighted(weight: Float64Array, total: number, rng: Rng): number {
  let target = rng.next() * total;
  for (let r = 0; r < weight.length; r++) {
    target -= weight[r];
    if (target < 0) return r;
  }
  // Rounding at the very end of the cumulative sum: take the last candidate with any weight.
  for (let r = weight.length - 1; r > 0; r--) if (weight[r] > 0) return r;
  return 0;
}
