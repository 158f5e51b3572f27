import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { assignToNearest, clusterIntoAlbums } from '../../../../electron/core/cluster/albums.js';
import { normalizeRows } from '../../../../training/numeric/linalg.js';
import { applyAlbumRules, outlierThreshold } from '../../../../electron/core/cluster/outliers.js';
import { Rng } from '../../../../training/numeric/rng.js';
import { makeBlobs, randomUnitVectors, type Blobs } from './synthetic.js';

const SIZES = [40, 60, 80, 100];
const DIM = 32;
const FAR = 6;

/** Blobs followed by FAR random unit vectors (cosine ~0 +- 0.18 to every blob, members sit at ~0.85). */
function blobsWithStrays(seed: number): { b: Blobs; data: Float32Array; n: number; strays: number[] } {
  const b = makeBlobs(SIZES, DIM, 0.6, seed);
  const data = new Float32Array((b.n + FAR) * DIM);
  data.set(b.data);
  data.set(randomUnitVectors(FAR, DIM, seed + 100), b.n * DIM);
  return { b, data, n: b.n + FAR, strays: Array.from({ length: FAR }, (_, r) => b.n + r) };
}

/** Points near blob centres: centre plus noise, normalised. */
function samplesNear(b: Blobs, labels: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(labels.length * b.dim);
  labels.forEach((label, r) => {
    for (let d = 0; d < b.dim; d++) {
      out[r * b.dim + d] = b.centers[label * b.dim + d] + (0.6 / Math.sqrt(b.dim)) * rng.normal();
    }
  });
  return normalizeRows(out, labels.length, b.dim);
}

function dotRow(data: Float32Array, i: number, v: Float32Array): number {
  let s = 0;
  for (let d = 0; d < v.length; d++) s += data[i * v.length + d] * v[d];
  return s;
}

void describe('clusterIntoAlbums', () => {
  const { b, data, n, strays } = blobsWithStrays(1);
  const result = clusterIntoAlbums(data, n, DIM, { seed: 1 });

  void it('chooses the number of albums automatically and keeps albums pure', () => {
    // K may exceed the number of blobs when the strays get a cluster of their own; that cluster is dissolved.
    assert.ok(result.autoK !== undefined && result.autoK.k >= SIZES.length);
    assert.equal(result.albums.length, SIZES.length);
    for (const album of result.albums) {
      const labels = new Set([...album.members].map((i) => b.labels[i]));
      assert.equal(labels.size, 1, `album ${album.cluster} mixes blobs`);
    }
  });

  void it('sends points far from every blob to unsorted', () => {
    const unsorted = new Set(result.unsorted);
    for (const i of strays) assert.ok(unsorted.has(i), `stray ${i} is in an album`);
    const blobPointsUnsorted = [...unsorted].filter((i) => i < b.n).length;
    assert.ok(blobPointsUnsorted <= 0.02 * b.n, `${blobPointsUnsorted} ordinary points were rejected`);
  });

  void it('gives every point exactly one place and consistent indices', () => {
    const seen = new Int32Array(n);
    result.albums.forEach((album, a) => {
      for (const i of album.members) {
        seen[i]++;
        assert.equal(result.albumOf[i], a);
      }
      assert.deepEqual([...album.members], [...album.members].sort((x, y) => x - y));
    });
    for (const i of result.unsorted) {
      seen[i]++;
      assert.equal(result.albumOf[i], -1);
    }
    assert.ok(seen.every((count) => count === 1));
  });

  void it('picks the most central member as cover', () => {
    for (const album of result.albums) {
      let best = -Infinity;
      for (const i of album.members) best = Math.max(best, dotRow(data, i, album.centroid));
      assert.ok(Math.abs(dotRow(data, album.cover, album.centroid) - best) < 1e-6);
      assert.ok(album.members.includes(album.cover));
      assert.ok(album.threshold < album.cohesion);
    }
  });

  void it('reports near-duplicate groups', () => {
    const copy = new Float32Array((n + 1) * DIM);
    copy.set(data);
    copy.set(data.subarray(7 * DIM, 8 * DIM), n * DIM); // an exact duplicate of point 7
    const r = clusterIntoAlbums(copy, n + 1, DIM, { seed: 1, k: 4 });
    assert.deepEqual(
      r.duplicates.map((g) => [...g]),
      [[7, n]],
    );
    assert.equal(r.autoK, undefined);
    assert.deepEqual(clusterIntoAlbums(copy, n + 1, DIM, { seed: 1, k: 4, duplicateThreshold: null }).duplicates, []);
  });

  void it('never rejects a pinned point and always keeps constrained albums', () => {
    const stray = strays[0];
    const anchor = [...result.albums[0].members].slice(0, 2);
    const pinned: [number, number][] = [[stray, 0], ...anchor.map((i): [number, number] => [i, 0])];
    const r = clusterIntoAlbums(data, n, DIM, { seed: 1, k: 4, constraints: { pinned } });
    const album = r.albums.find((a) => a.cluster === 0)!;
    assert.ok(album.members.includes(stray));
    assert.equal(r.albumOf[stray], r.albums.indexOf(album));
  });

  void it('turns clusters below the minimum size into unsorted points', () => {
    // Two tight groups of ten and one lone point, orthogonal to both: with k = 3 the lone point is a cluster.
    const dim = 8;
    const rows: number[][] = [];
    for (let i = 0; i < 10; i++) rows.push([1, 0.01 * i, 0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < 10; i++) rows.push([0, 0, 1, 0.01 * i, 0, 0, 0, 0]);
    rows.push([0, 0, 0, 0, 1, 0, 0, 0]);
    const small = normalizeRows(new Float32Array(rows.flat()), rows.length, dim);
    const strict = clusterIntoAlbums(small, rows.length, dim, { k: 3 });
    assert.equal(strict.albums.length, 2);
    assert.deepEqual([...strict.unsorted], [20]);
    const lenient = clusterIntoAlbums(small, rows.length, dim, { k: 3, minAlbumSize: 1 });
    assert.equal(lenient.albums.length, 3);
    assert.deepEqual([...lenient.unsorted], []);
  });

  void it('handles empty input', () => {
    const r = clusterIntoAlbums(new Float32Array(0), 0, DIM);
    assert.deepEqual(r.albums, []);
    assert.equal(r.unsorted.length, 0);
  });
});

void describe('assignToNearest', () => {
  const { b, data, n } = blobsWithStrays(2);
  const result = clusterIntoAlbums(data, n, DIM, { seed: 2, k: 4 });
  /** Album index holding most of blob `label`. */
  const albumOfBlob = (label: number) => result.albumOf[b.labels.indexOf(label)];

  void it('files new photos into the album of their blob', () => {
    const labels = [0, 1, 2, 3, 3, 2, 1, 0];
    const fresh = samplesNear(b, labels, 3);
    const r = assignToNearest(fresh, labels.length, DIM, result.albums);
    labels.forEach((label, i) => assert.equal(r.albumOf[i], albumOfBlob(label)));
  });

  void it('leaves photos unlike every album unsorted but still suggests the nearest', () => {
    const fresh = randomUnitVectors(5, DIM, 4);
    const r = assignToNearest(fresh, 5, DIM, result.albums);
    for (let i = 0; i < 5; i++) {
      assert.equal(r.albumOf[i], -1);
      assert.ok(r.nearest[i] >= 0);
      assert.ok(r.similarity[i] < result.albums[r.nearest[i]].threshold);
    }
  });

  void it('honours cannot-link', () => {
    const fresh = samplesNear(b, [1], 5);
    const banned = albumOfBlob(1);
    const r = assignToNearest(fresh, 1, DIM, result.albums, [[0, banned]]);
    assert.notEqual(r.nearest[0], banned);
    assert.equal(r.albumOf[0], -1); // the other albums are far too far
  });
});

void describe('outlierThreshold', () => {
  void it('uses median - 3 * 1.4826 * MAD', () => {
    // median 0.7; absolute deviations 0.2, 0.1, 0, 0.1, 0.2 -> MAD 0.1; 0.7 - 3 * 1.4826 * 0.1 = 0.25522.
    assert.ok(Math.abs(outlierThreshold([0.5, 0.6, 0.7, 0.8, 0.9]) - 0.25522) < 1e-9);
  });

  void it('keeps a minimum margin for tight albums and respects the floor', () => {
    // median 0.92, MAD 0.01 -> 3 * 1.4826 * 0.01 = 0.0445 < 0.05, so the margin is 0.05: 0.87.
    assert.ok(Math.abs(outlierThreshold([0.9, 0.91, 0.92, 0.93, 0.94]) - 0.87) < 1e-9);
    assert.equal(outlierThreshold([0.5, 0.6, 0.7, 0.8, 0.9], { floor: 0.3 }), 0.3);
  });

  void it('falls back to the floor for small albums', () => {
    assert.equal(outlierThreshold([0.9, 0.1]), -1);
    assert.equal(outlierThreshold([0.9, 0.1], { floor: 0.2 }), 0.2);
  });
});

void describe('applyAlbumRules', () => {
  /** Clusters with the given member similarities to their centroid, in order. */
  function layout(simsPerCluster: number[][]) {
    const assignments = Int32Array.from(simsPerCluster.flatMap((sims, c) => sims.map(() => c)));
    const similarities = Float32Array.from(simsPerCluster.flat());
    return { assignments, similarities, k: simsPerCluster.length, n: assignments.length };
  }
  const tight = [0.9, 0.9, 0.9, 0.9];
  // Four unrelated unit vectors grouped together: each has cosine 0.5 with their mean, so the mean pairwise cosine
  // is ((4 * 0.5)^2 - 4) / (4 * 3) = 0, against ((4 * 0.9)^2 - 4) / 12 = 0.747 for the tight clusters.
  const loose = [0.5, 0.5, 0.5, 0.5];

  void it('dissolves a cluster that is loose compared with the others', () => {
    const { assignments, similarities, k, n } = layout([tight, tight, loose, tight, tight]);
    const marks = { pinned: new Uint8Array(n), constrained: new Uint8Array(k) };
    const { labels } = applyAlbumRules(assignments, similarities, k, marks);
    assert.deepEqual([...labels.subarray(8, 12)], [-1, -1, -1, -1]);
    assert.ok([...labels.subarray(0, 8), ...labels.subarray(12)].every((c) => c >= 0));
    // Unless the rule is off or the user constrained the cluster.
    const off = applyAlbumRules(assignments, similarities, k, marks, { dissolveLoose: false });
    assert.ok(off.labels.every((c) => c >= 0));
    marks.constrained[2] = 1;
    assert.ok(applyAlbumRules(assignments, similarities, k, marks).labels.every((c) => c >= 0));
  });

  void it('keeps a loose cluster that is bigger than the typical one (a broad group, not strays)', () => {
    const big = new Array<number>(12).fill(0.5);
    const { assignments, similarities, k, n } = layout([tight, tight, big, tight, tight]);
    const marks = { pinned: new Uint8Array(n), constrained: new Uint8Array(k) };
    assert.ok(applyAlbumRules(assignments, similarities, k, marks).labels.every((c) => c >= 0));
    // The same members split in three loose clusters of typical size are strays: all three dissolve.
    const split = layout([tight, tight, loose, loose, loose, tight, tight, tight, tight, tight]);
    const m2 = { pinned: new Uint8Array(split.n), constrained: new Uint8Array(split.k) };
    const { labels } = applyAlbumRules(split.assignments, split.similarities, split.k, m2);
    assert.deepEqual([...labels.subarray(8, 20)], new Array<number>(12).fill(-1));
    assert.ok([...labels.subarray(0, 8), ...labels.subarray(20)].every((c) => c >= 0));
  });

  void it('gives small clusters the typical threshold of the others', () => {
    // Each 4-member cluster at 0.9 has median 0.9, MAD 0, so its threshold is 0.9 - 0.05 = 0.85. The 2-member
    // cluster is too small for statistics and borrows that threshold, which rejects its member at 0.5.
    const { assignments, similarities, k, n } = layout([tight, tight, tight, tight, tight, [0.95, 0.5]]);
    const marks = { pinned: new Uint8Array(n), constrained: new Uint8Array(k) };
    const { thresholds } = applyAlbumRules(assignments, similarities, k, marks, { outliers: { minSizeForStats: 4 } });
    assert.ok(Math.abs(thresholds[5] - 0.85) < 1e-6);
    const { labels } = applyAlbumRules(assignments, similarities, k, marks, {
      outliers: { minSizeForStats: 4 },
      minAlbumSize: 1,
      dissolveLoose: false, // (0.95, 0.5) is also loose: mean pairwise cosine (1.45^2 - 2) / 2 = 0.05
    });
    assert.deepEqual([...labels.subarray(20)], [5, -1]);
  });

  void it('keeps loose clusters when there are too few clusters to compare', () => {
    const { assignments, similarities, k, n } = layout([tight, tight, loose, tight]);
    const marks = { pinned: new Uint8Array(n), constrained: new Uint8Array(k) };
    assert.ok(applyAlbumRules(assignments, similarities, k, marks).labels.every((c) => c >= 0));
  });
});

void describe('clusterIntoAlbums: seeded clusters', () => {
  it('a seeded cluster counts as named by the constraints: automatic K covers it and its album is kept', () => {
    const b = makeBlobs([30, 30, 30], 16, 0.4, 21);
    // Seed cluster 4 far from every blob: automatic K must still reach 5 clusters, and the album for it exists
    // even if no photo ends up in it.
    const far = new Float32Array(16).fill(-1);
    const r = clusterIntoAlbums(b.data, b.n, b.dim, { k: 'auto', seed: 2, constraints: { seeded: [{ cluster: 4, centroid: far }] } });
    assert.ok(r.k >= 5, `k ${r.k}`);
    assert.ok(r.albums.some((a) => a.cluster === 4), 'album of the seeded cluster kept');
  });
});
