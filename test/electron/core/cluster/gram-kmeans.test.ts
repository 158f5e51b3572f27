import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { kmeansOnGram } from '../../../../electron/core/cluster/gram-kmeans.js';
import { kmeans } from '../../../../training/numeric/kmeans.js';
import {
  adjustedRandIndex,
  clusteringAccuracy,
  cosineGram,
  silhouetteFromGram,
} from '../../../../electron/core/cluster/metrics.js';
import { makeBlobs } from './synthetic.js';

/** Normalised member sums of a labelling (`k x dim`). */
function centroidsOf(data: Float32Array, dim: number, labels: Int32Array, k: number): Float64Array {
  const c = new Float64Array(k * dim);
  labels.forEach((l, i) => {
    for (let d = 0; d < dim; d++) c[l * dim + d] += data[i * dim + d];
  });
  for (let l = 0; l < k; l++) {
    const norm = Math.hypot(...c.subarray(l * dim, (l + 1) * dim)) || 1;
    for (let d = 0; d < dim; d++) c[l * dim + d] /= norm;
  }
  return c;
}

void describe('kmeansOnGram', () => {
  void it('recovers separated blobs from the Gram matrix alone', () => {
    const b = makeBlobs([30, 60, 90, 120], 24, 0.6, 1);
    const r = kmeansOnGram(cosineGram(b.data, b.n, b.dim), b.n, 4, { seed: 1 });
    assert.equal(clusteringAccuracy(b.labels, r.assignments), 1);
  });

  void it('agrees with vector k-means for the same seed', () => {
    // Same seeding and Lloyd rounds, only the arithmetic differs: on overlapping blobs the partitions match.
    const b = makeBlobs([80, 100, 120, 140], 16, 1.3, 2);
    const gram = cosineGram(b.data, b.n, b.dim);
    const viaGram = kmeansOnGram(gram, b.n, 6, { seed: 4, restarts: 2 });
    const direct = kmeans(b.data, b.n, b.dim, 6, { seed: 4, restarts: 2, tol: 0, algorithm: 'lloyd' });
    assert.ok(adjustedRandIndex(direct.assignments, viaGram.assignments) > 0.98);
    assert.ok(Math.abs(viaGram.objective - direct.objective) / direct.objective < 1e-3);
  });

  void it('stops at a fixed point and reports the true objective and silhouette', () => {
    const b = makeBlobs([50, 70, 90], 12, 1.6, 3);
    const k = 5;
    const gram = cosineGram(b.data, b.n, b.dim);
    const r = kmeansOnGram(gram, b.n, k, { seed: 2 });
    const centroids = centroidsOf(b.data, b.dim, r.assignments, k);
    let objective = 0;
    for (let i = 0; i < b.n; i++) {
      const sims = Array.from({ length: k }, (_, c) => {
        let s = 0;
        for (let d = 0; d < b.dim; d++) s += b.data[i * b.dim + d] * centroids[c * b.dim + d];
        return s;
      });
      const own = sims[r.assignments[i]];
      assert.ok(own >= Math.max(...sims) - 1e-6, `point ${i} is not at its most similar centroid`);
      objective += own;
    }
    assert.ok(Math.abs(r.objective - objective) < 1e-3);
    assert.ok(Math.abs(r.silhouette - silhouetteFromGram(gram, b.n, r.assignments)) < 1e-6);
  });

  void it('handles as many clusters as points', () => {
    const b = makeBlobs([3, 3], 4, 0.5, 4);
    const r = kmeansOnGram(cosineGram(b.data, b.n, b.dim), b.n, 6, { seed: 1 });
    assert.equal(new Set(r.assignments).size, 6);
    assert.equal(r.silhouette, 0); // all singletons
  });
});
