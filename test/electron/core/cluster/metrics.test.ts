import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  adjustedRandIndex,
  clusteringAccuracy,
  evaluateClustering,
  hungarian,
  knnAccuracy,
  normalizedMutualInfo,
  silhouetteScore,
} from '../../../../electron/core/cluster/metrics.js';
import { Rng } from '../../../../training/numeric/rng.js';

const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

/** Unit vectors in the plane at the given angles (degrees). */
function planeVectors(degrees: number[]): Float32Array {
  const out = new Float32Array(degrees.length * 2);
  degrees.forEach((deg, i) => {
    out[2 * i] = Math.cos((deg * Math.PI) / 180);
    out[2 * i + 1] = Math.sin((deg * Math.PI) / 180);
  });
  return out;
}

function assignmentCost(cost: number[], cols: number, match: Int32Array): number {
  let total = 0;
  match.forEach((j, i) => {
    if (j >= 0) total += cost[i * cols + j];
  });
  return total;
}

/** Minimal cost over all ways to match min(rows, cols) pairs, by exhaustive search. */
function bruteForceMin(cost: number[], rows: number, cols: number): number {
  let best = Infinity;
  const usedCols = new Array<boolean>(cols).fill(false);
  const pairsNeeded = Math.min(rows, cols);
  const walk = (row: number, matched: number, total: number) => {
    if (matched === pairsNeeded) {
      best = Math.min(best, total);
      return;
    }
    if (row === rows) return;
    if (rows - row > pairsNeeded - matched) walk(row + 1, matched, total); // leave this row unmatched
    for (let j = 0; j < cols; j++) {
      if (usedCols[j]) continue;
      usedCols[j] = true;
      walk(row + 1, matched + 1, total + cost[row * cols + j]);
      usedCols[j] = false;
    }
  };
  walk(0, 0, 0);
  return best;
}

void describe('hungarian', () => {
  void it('solves a square case worked out by hand', () => {
    // Rows x cols: [[4,1,3],[2,0,5],[3,2,2]]. The six permutations cost 6, 11, 9, 5, 7, 6 (r0c0 r1c1 r2c2 = 6,
    // r0c0 r1c2 r2c1 = 11, r0c1 r1c2 r2c0 = 9, r0c1 r1c0 r2c2 = 5, r0c2 r1c0 r2c1 = 7, r0c2 r1c1 r2c0 = 6);
    // the unique optimum is r0->1, r1->0, r2->2 with cost 5.
    const cost = [4, 1, 3, 2, 0, 5, 3, 2, 2];
    assert.deepEqual([...hungarian(cost, 3, 3)], [1, 0, 2]);
  });

  void it('handles more columns than rows', () => {
    // [[1,2,3],[2,4,6]]: pairings cost r0c0+r1c1 = 5, r0c0+r1c2 = 7, r0c1+r1c0 = 4, r0c1+r1c2 = 8,
    // r0c2+r1c0 = 5, r0c2+r1c1 = 7, so the optimum is r0->1, r1->0 (cost 4).
    assert.deepEqual([...hungarian([1, 2, 3, 2, 4, 6], 2, 3)], [1, 0]);
  });

  void it('handles more rows than columns, leaving rows unassigned', () => {
    // The transpose of the case above: [[1,2],[2,4],[3,6]]; the optimum uses r1->0 and r0->1 (cost 4), r2 unused.
    assert.deepEqual([...hungarian([1, 2, 2, 4, 3, 6], 3, 2)], [1, 0, -1]);
  });

  void it('matches exhaustive search on random rectangular matrices', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 60; trial++) {
      const rows = 1 + rng.int(5);
      const cols = 1 + rng.int(5);
      const cost = Array.from({ length: rows * cols }, () => rng.int(20) - 5);
      const match = hungarian(cost, rows, cols);
      const assigned = [...match].filter((j) => j >= 0);
      assert.equal(assigned.length, Math.min(rows, cols));
      assert.equal(new Set(assigned).size, assigned.length, 'a column was used twice');
      assert.equal(assignmentCost(cost, cols, match), bruteForceMin(cost, rows, cols));
    }
  });

  void it('returns no assignment for empty matrices', () => {
    assert.deepEqual([...hungarian([], 2, 0)], [-1, -1]);
    assert.deepEqual([...hungarian([], 0, 3)], []);
  });
});

void describe('clusteringAccuracy', () => {
  void it('uses the best one-to-one mapping', () => {
    // Contingency (pred x true): pred 1 -> {true 0: 2}, pred 0 -> {true 0: 1, true 1: 3}. Best mapping
    // pred 1 -> 0, pred 0 -> 1 gets 2 + 3 = 5 of 6 right.
    const truth = [0, 0, 0, 1, 1, 1];
    const pred = [1, 1, 0, 0, 0, 0];
    close(clusteringAccuracy(truth, pred), 5 / 6);
  });

  void it('is invariant to renaming either labelling', () => {
    const truth = [0, 0, 0, 1, 1, 1];
    const pred = [1, 1, 0, 0, 0, 0];
    const renamedPred = pred.map((c) => (c === 0 ? 42 : -7));
    const renamedTruth = truth.map((c) => c * 10 + 3);
    close(clusteringAccuracy(truth, renamedPred), 5 / 6);
    close(clusteringAccuracy(renamedTruth, pred), 5 / 6);
  });

  void it('handles fewer clusters than classes', () => {
    // pred 0 covers true {0: 2, 1: 2}, pred 1 covers true {2: 2}: best is 2 + 2 = 4 of 6.
    close(clusteringAccuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]), 4 / 6);
  });

  void it('handles more clusters than classes (unmatched clusters count as errors)', () => {
    // pred 0 -> {true 0: 2}, pred 1 -> {true 0: 2}, pred 2 -> {true 1: 2}: only one of pred 0/1 can map to
    // class 0, so 2 + 2 = 4 of 6.
    close(clusteringAccuracy([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]), 4 / 6);
  });

  void it('rejects labelings of different lengths', () => {
    assert.throws(() => clusteringAccuracy([0, 1], [0]), RangeError);
  });
});

void describe('normalizedMutualInfo', () => {
  void it('is 1 for identical partitions up to renaming and 0 for independent ones', () => {
    close(normalizedMutualInfo([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]), 1);
    // Every cell of the 2 x 2 contingency table holds 1 item: MI = sum 1/4 ln(4 * 1 / (2 * 2)) = 0.
    close(normalizedMutualInfo([0, 0, 1, 1], [0, 1, 0, 1]), 0);
  });

  void it('matches a hand-computed value with arithmetic normalisation', () => {
    // a = [0,0,0,1,1,1], b = [0,0,1,1,1,1]: cells (a0,b0) = 2, (a0,b1) = 1, (a1,b1) = 3; rows 3, 3; cols 2, 4.
    // MI = 2/6 ln(6*2/(3*2)) + 1/6 ln(6*1/(3*4)) + 3/6 ln(6*3/(3*4)) = ln2/3 - ln2/6 + ln(1.5)/2 = 0.3182571
    // H(a) = ln 2 = 0.6931472, H(b) = -(1/3 ln 1/3 + 2/3 ln 2/3) = 0.6365142, mean 0.6648307
    // NMI = 0.3182571 / 0.6648307 = 0.4787040
    close(normalizedMutualInfo([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]), 0.478704, 1e-6);
    close(normalizedMutualInfo([0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]), 0.478704, 1e-6); // symmetric
  });

  void it('follows scikit-learn on degenerate inputs', () => {
    close(normalizedMutualInfo([1, 1, 1], [4, 4, 4]), 1); // both a single cluster
    close(normalizedMutualInfo([1, 1, 1, 1], [0, 1, 2, 3]), 0); // one side carries no information
  });
});

void describe('adjustedRandIndex', () => {
  void it('matches a hand-computed value', () => {
    // Same labelings as the NMI case. Pairs within cells: C(2,2) + C(1,2) + C(3,2) = 1 + 0 + 3 = 4.
    // Rows: C(3,2) + C(3,2) = 6; cols: C(2,2) + C(4,2) = 7; all pairs C(6,2) = 15.
    // Expected = 6 * 7 / 15 = 2.8, max = (6 + 7) / 2 = 6.5, ARI = (4 - 2.8) / (6.5 - 2.8) = 1.2 / 3.7.
    close(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]), 1.2 / 3.7);
  });

  void it('can be negative, and is 1 for renamed identical partitions', () => {
    // [0,0,1,1] vs [0,1,0,1]: no pair agrees (0); rows 2, cols 2, total 6: expected 2*2/6 = 2/3, max 2,
    // ARI = (0 - 2/3) / (2 - 2/3) = -0.5.
    close(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]), -0.5);
    close(adjustedRandIndex([0, 0, 1, 2, 2], [7, 7, 1, 3, 3]), 1);
  });

  void it('scores degenerate agreements as 1', () => {
    close(adjustedRandIndex([0, 0, 0], [1, 1, 1]), 1);
    close(adjustedRandIndex([0, 1, 2], [2, 0, 1]), 1);
  });
});

void describe('evaluateClustering', () => {
  void it('bundles the three scores', () => {
    const truth = [0, 0, 0, 1, 1, 1];
    const pred = [0, 0, 1, 1, 1, 1];
    const scores = evaluateClustering(truth, pred);
    close(scores.acc, 5 / 6);
    close(scores.nmi, normalizedMutualInfo(truth, pred));
    close(scores.ari, adjustedRandIndex(truth, pred));
  });
});

void describe('knnAccuracy', () => {
  // Four unit vectors in the plane at 0, 10, 80 and 90 degrees.
  const features = planeVectors([0, 10, 80, 90]);

  void it('scores 1-NN votes', () => {
    // Nearest neighbours: 0 <-> 10 degrees, 80 <-> 90 degrees.
    close(knnAccuracy(features, 4, 2, [0, 0, 1, 1], 1), 1);
    close(knnAccuracy(features, 4, 2, [0, 1, 0, 1], 1), 0);
  });

  void it('breaks vote ties by summed similarity', () => {
    // k = 2: the point at 0 degrees sees 10 (label 0, cos 0.985) and 80 (label 1, cos 0.174): a 1-1 tie that the
    // closer class wins, so it is right; by symmetry all four are right.
    close(knnAccuracy(features, 4, 2, [0, 0, 1, 1], 2), 1);
  });

  void it('lets the majority win', () => {
    // k = 3 sees every other point: each point has one same-label and two other-label neighbours, so all wrong.
    close(knnAccuracy(features, 4, 2, [0, 0, 1, 1], 3), 0);
  });
});

void describe('silhouetteScore', () => {
  void it('is 1 for identical points in orthogonal clusters', () => {
    // Within clusters the cosine distance is 0 (a = 0), across it is 1 (b = 1): s = 1 everywhere.
    close(silhouetteScore(planeVectors([0, 0, 90, 90]), 4, 2, [0, 0, 1, 1]), 1, 1e-6);
  });

  void it('matches a hand-computed case with a singleton', () => {
    // p0 = 0 deg, p1 = 90 deg in cluster 0; p2 = 180 deg alone in cluster 1.
    // p0: a = 1 - cos 90 = 1, b = 1 - cos 180 = 2, s = 0.5. p1: a = 1, b = 1 - cos 90 = 1, s = 0.
    // p2 is a singleton: s = 0. Mean = 0.5 / 3.
    close(silhouetteScore(planeVectors([0, 90, 180]), 3, 2, [0, 0, 1]), 0.5 / 3, 1e-6);
  });

  void it('ignores points labelled -1 and needs two clusters', () => {
    close(silhouetteScore(planeVectors([0, 0, 90, 90, 45]), 5, 2, [0, 0, 1, 1, -1]), 1, 1e-6);
    close(silhouetteScore(planeVectors([0, 10, 20]), 3, 2, [0, 0, 0]), 0);
  });
});
