import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { kmeans } from '../../../training/numeric/kmeans.js';
import { clusteringAccuracy } from '../../../electron/core/cluster/metrics.js';
import { makeBlobs, randomUnitVectors } from '../../electron/core/cluster/synthetic.js';

/** Varied sizes: the largest blob is 8x the smallest. */
const SIZES = [40, 80, 120, 200, 320];

function rowDot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d] * b[j * dim + d];
  return s;
}

/** `count` points of blob `label`, in index order. */
function pointsOf(labels: Int32Array, label: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length && out.length < count; i++) if (labels[i] === label) out.push(i);
  return out;
}

void describe('kmeans', () => {
  void it('recovers well-separated blobs of varied sizes', () => {
    for (const seed of [1, 2, 3]) {
      const b = makeBlobs(SIZES, 32, 0.6, seed);
      const r = kmeans(b.data, b.n, b.dim, SIZES.length, { seed });
      assert.equal(clusteringAccuracy(b.labels, r.assignments), 1, `seed ${seed}`);
      assert.deepEqual(
        [...r.sizes].sort((x, y) => x - y),
        SIZES,
      );
    }
  });

  void it('returns consistent centroids, similarities and objective', () => {
    const b = makeBlobs(SIZES, 16, 0.6, 4);
    const r = kmeans(b.data, b.n, b.dim, SIZES.length, { seed: 4 });
    let objective = 0;
    for (let i = 0; i < b.n; i++) {
      const c = r.assignments[i];
      assert.ok(Math.abs(r.similarities[i] - rowDot(b.data, i, r.centroids, c, b.dim)) < 1e-5);
      objective += r.similarities[i];
    }
    assert.ok(Math.abs(r.objective - objective) < 1e-3);
    for (let c = 0; c < SIZES.length; c++) {
      assert.ok(Math.abs(rowDot(r.centroids, c, r.centroids, c, b.dim) - 1) < 1e-5, `centroid ${c} is not unit`);
    }
  });

  void it('converges to a fixed point: every point is at its most similar centroid', () => {
    // Overlapping blobs put many points near boundaries, where the distance bounds must not skip a reassignment.
    const b = makeBlobs([150, 200, 250, 300], 24, 1.5, 12);
    const k = 7;
    const r = kmeans(b.data, b.n, b.dim, k, { seed: 3, tol: 0, maxIter: 1000, restarts: 1 });
    for (let i = 0; i < b.n; i++) {
      let best = -Infinity;
      for (let c = 0; c < k; c++) best = Math.max(best, rowDot(b.data, i, r.centroids, c, b.dim));
      assert.ok(r.similarities[i] >= best - 1e-5, `point ${i}: ${r.similarities[i]} < ${best}`);
    }
  });

  void it('is deterministic for a seed', () => {
    const b = makeBlobs([50, 60, 70, 80], 16, 1.2, 5); // overlapping, so seeds matter
    const r1 = kmeans(b.data, b.n, b.dim, 6, { seed: 11 });
    const r2 = kmeans(b.data, b.n, b.dim, 6, { seed: 11 });
    assert.deepEqual(r1.assignments, r2.assignments);
    assert.deepEqual(r1.centroids, r2.centroids);
    assert.equal(r1.objective, r2.objective);
  });

  void it('recovers blobs with mini-batch training', () => {
    const b = makeBlobs([300, 500, 700, 900, 1100], 32, 0.6, 6);
    const r = kmeans(b.data, b.n, b.dim, 5, { seed: 6, algorithm: 'minibatch', batchSize: 256 });
    assert.equal(clusteringAccuracy(b.labels, r.assignments), 1);
  });

  void it('normalises rows itself', () => {
    const b = makeBlobs(SIZES, 16, 0.6, 7);
    const scaled = b.data.map((v, idx) => v * (1 + (Math.floor(idx / b.dim) % 5)));
    const r1 = kmeans(b.data, b.n, b.dim, 5, { seed: 7 });
    const r2 = kmeans(scaled, b.n, b.dim, 5, { seed: 7 });
    assert.deepEqual(r1.assignments, r2.assignments);
  });

  void it('copes with more clusters than points', () => {
    const data = randomUnitVectors(3, 8, 8);
    const r = kmeans(data, 3, 8, 5, { seed: 1 });
    assert.equal(new Set(r.assignments).size, 3);
    assert.equal(
      r.sizes.reduce((a, b) => a + b, 0),
      3,
    );
  });

  void it('handles empty input', () => {
    const r = kmeans(new Float32Array(0), 0, 4, 2);
    assert.equal(r.assignments.length, 0);
    assert.equal(r.objective, 0);
  });

  void describe('constraints', () => {
    const b = makeBlobs([60, 60, 60], 16, 0.6, 9);
    /** Pins the first three points of every blob to the cluster with the blob's number. */
    const anchors = (): [number, number][] =>
      [0, 1, 2].flatMap((label) => pointsOf(b.labels, label, 3).map((i): [number, number] => [i, label]));

    void it('keeps pinned points where they are pinned, even against the data', () => {
      const stray = pointsOf(b.labels, 0, 4)[3]; // a blob-0 point pinned into cluster 1
      const pinned = new Map(anchors());
      pinned.set(stray, 1);
      const r = kmeans(b.data, b.n, b.dim, 3, { seed: 1, constraints: { pinned } });
      for (const [i, c] of pinned) assert.equal(r.assignments[i], c);
      // Pins name the clusters, so every other point lands in its own blob's cluster.
      for (let i = 0; i < b.n; i++) if (i !== stray) assert.equal(r.assignments[i], b.labels[i]);
    });

    void it('never puts a point in a cannot-link cluster', () => {
      const victims = pointsOf(b.labels, 0, 10).slice(3); // unpinned blob-0 points
      const cannotLink = victims.map((i): [number, number] => [i, 0]);
      const r = kmeans(b.data, b.n, b.dim, 3, { seed: 1, constraints: { pinned: anchors(), cannotLink } });
      for (const i of victims) assert.notEqual(r.assignments[i], 0);
      assert.equal(r.assignments[pointsOf(b.labels, 0, 11)[10]], 0); // its unconstrained blob-mates stay
    });

    void it('leaves a point that cannot go anywhere unassigned', () => {
      const i = pointsOf(b.labels, 1, 5)[4];
      const cannotLink: [number, number][] = [
        [i, 0],
        [i, 1],
        [i, 2],
      ];
      const r = kmeans(b.data, b.n, b.dim, 3, { seed: 1, constraints: { cannotLink } });
      assert.equal(r.assignments[i], -1);
      assert.ok(Number.isNaN(r.similarities[i]));
    });

    void it('keeps a fixed prototype given explicitly while it attracts nearby points', () => {
      // Cluster 3 is a user album whose prototype is blob 2's centre; blob 2's points must join it, and the
      // prototype must come back unchanged although k-means would otherwise move it.
      const prototype = b.centers.slice(2 * b.dim, 3 * b.dim);
      const fixed = [{ cluster: 3, centroid: prototype }];
      const r = kmeans(b.data, b.n, b.dim, 4, { seed: 1, constraints: { fixed } });
      assert.deepEqual(r.centroids.slice(3 * b.dim, 4 * b.dim), prototype);
      for (let i = 0; i < b.n; i++) if (b.labels[i] === 2) assert.equal(r.assignments[i], 3);
    });

    void it('derives a fixed prototype from pinned members only', () => {
      const members = pointsOf(b.labels, 1, 3);
      const r = kmeans(b.data, b.n, b.dim, 3, {
        seed: 1,
        constraints: { pinned: members.map((i): [number, number] => [i, 0]), fixed: [{ cluster: 0 }] },
      });
      const expected = new Float32Array(b.dim);
      for (const i of members) for (let d = 0; d < b.dim; d++) expected[d] += b.data[i * b.dim + d];
      const norm = Math.hypot(...expected);
      for (let d = 0; d < b.dim; d++) assert.ok(Math.abs(r.centroids[d] - expected[d] / norm) < 1e-6);
      // The rest of blob 1 is drawn to the album, yet the prototype stayed the pinned mean.
      for (let i = 0; i < b.n; i++) if (b.labels[i] === 1) assert.equal(r.assignments[i], 0);
    });

    void it('rejects contradictory or out-of-range constraints', () => {
      const i = 5;
      assert.throws(
        () => kmeans(b.data, b.n, b.dim, 3, { constraints: { pinned: [[i, 1]], cannotLink: [[i, 1]] } }),
        RangeError,
      );
      assert.throws(() => kmeans(b.data, b.n, b.dim, 3, { constraints: { pinned: [[i, 3]] } }), RangeError);
      assert.throws(() => kmeans(b.data, b.n, b.dim, 3, { constraints: { fixed: [{ cluster: 1 }] } }), RangeError);
    });
  });
});

void describe('kmeans: seeded clusters and pinned weight', () => {
  /** Points on the unit circle at `deg` degrees (2-d), one per angle. */
  const arc = (degs: number[]): Float32Array => Float32Array.from(degs.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
  // Two groups (around 0 and 90 degrees) and an even spread of ambiguous points between them.
  const degs = [...Array.from({ length: 20 }, (_, i) => -10 + i), ...Array.from({ length: 20 }, (_, i) => 80 + i), ...Array.from({ length: 21 }, (_, i) => 35 + i)];
  const x = arc(degs);
  const n = degs.length;
  // The person placed three photos at 52-54 degrees into the album around 0 degrees.
  const placed = [degs.indexOf(52), degs.indexOf(53), degs.indexOf(54)];
  const seeded = [
    { cluster: 0, centroid: arc([20]) },
    { cluster: 1, centroid: arc([70]) },
  ];
  const freeIn0 = (a: Int32Array): number => degs.filter((d, i) => a[i] === 0 && !placed.includes(i)).length;

  it('a seeded cluster starts at its prototype, keeps its id and then moves to its members', () => {
    const r = kmeans(x, n, 2, 2, { seed: 1, constraints: { seeded } });
    for (let i = 0; i < n; i++) if (Math.abs(degs[i] - 45) > 5) assert.equal(r.assignments[i], degs[i] < 45 ? 0 : 1, `${degs[i]} degrees`);
    const angle = (Math.atan2(r.centroids[1], r.centroids[0]) * 180) / Math.PI;
    assert.ok(Math.abs(angle - 20) > 1, `cluster 0 moved from its seed (now ${angle.toFixed(1)} degrees)`);
  });

  it('pinned points with more weight pull their cluster towards them, and photos like them follow', () => {
    const pinned = placed.map((i) => [i, 0] as [number, number]);
    const w1 = kmeans(x, n, 2, 2, { seed: 1, constraints: { seeded, pinned } });
    const w10 = kmeans(x, n, 2, 2, { seed: 1, constraints: { seeded, pinned, pinnedWeight: 10 } });
    for (const i of placed) {
      assert.equal(w1.assignments[i], 0);
      assert.equal(w10.assignments[i], 0);
    }
    assert.ok(freeIn0(w10.assignments) > freeIn0(w1.assignments), `${freeIn0(w10.assignments)} vs ${freeIn0(w1.assignments)} free points in cluster 0`);
    assert.throws(() => kmeans(x, n, 2, 2, { constraints: { pinned, pinnedWeight: 0.5 } }), RangeError);
    assert.throws(() => kmeans(x, n, 2, 2, { constraints: { seeded: [{ cluster: 2, centroid: arc([0]) }] } }), RangeError);
  });
});
