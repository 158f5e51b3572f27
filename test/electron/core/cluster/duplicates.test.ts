import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { findNearDuplicates } from '../../../../electron/core/cluster/duplicates.js';
import { Rng } from '../../../../training/numeric/rng.js';
import { makeBlobs } from './synthetic.js';

const groupsAsArrays = (groups: Int32Array[]) => groups.map((g) => [...g]);

/** Appends to `data` (n x dim) a near copy of each listed row: the row plus noise of norm about `noise`. */
function withCopies(data: Float32Array, n: number, dim: number, sources: number[], noise: number, seed: number) {
  const rng = new Rng(seed);
  const out = new Float32Array((n + sources.length) * dim);
  out.set(data);
  sources.forEach((src, r) => {
    for (let d = 0; d < dim; d++) {
      out[(n + r) * dim + d] = data[src * dim + d] + (noise / Math.sqrt(dim)) * rng.normal();
    }
  });
  return out;
}

void describe('findNearDuplicates', () => {
  void it('finds planted near-copies and nothing else', () => {
    // Blob members have cosine ~0.7 with each other: far below 0.98. Copies have cosine ~0.9999 with their source.
    const b = makeBlobs([150, 150, 150], 32, 0.6, 1);
    const sources = [3, 100, 100, 250]; // row 100 gets two copies: a group of three
    const data = withCopies(b.data, b.n, b.dim, sources, 0.02, 2);
    const groups = findNearDuplicates(data, b.n + sources.length, b.dim);
    const n = b.n;
    const expected = [[3, n], [100, n + 1, n + 2], [250, n + 3]].sort((x, y) => x[0] - y[0]);
    assert.deepEqual(groupsAsArrays(groups), expected);
  });

  void it('in a partition too large to compare pair by pair, finds the planted copies by approximate neighbours', () => {
    // One partition of 4,000 photos (above EXACT_PARTITION), with 40 planted copies.
    const b = makeBlobs(Array.from({ length: 20 }, () => 200), 32, 0.6, 3);
    const sources = Array.from({ length: 40 }, (_, i) => i * 97);
    const data = withCopies(b.data, b.n, b.dim, sources, 0.02, 4);
    const groups = findNearDuplicates(data, b.n + sources.length, b.dim);
    const expected = sources.map((src, r) => [src, b.n + r]).sort((x, y) => x[0] - y[0]);
    assert.deepEqual(groupsAsArrays(groups), expected);
  });

  void it('respects the threshold and links transitively', () => {
    // Unit vectors at 0, 10 and 20 degrees: neighbours have cosine cos 10 = 0.9848, the ends cos 20 = 0.9397.
    const deg = [0, 10, 20].map((a) => (a * Math.PI) / 180);
    const data = new Float32Array(deg.flatMap((a) => [Math.cos(a), Math.sin(a)]));
    assert.deepEqual(groupsAsArrays(findNearDuplicates(data, 3, 2, { threshold: 0.98 })), [[0, 1, 2]]);
    assert.deepEqual(groupsAsArrays(findNearDuplicates(data, 3, 2, { threshold: 0.99 })), []);
  });

  void it('only compares points within the same partition', () => {
    const data = new Float32Array([1, 0, 1, 0.001, 1, 0.002, 0, 1]);
    assert.deepEqual(groupsAsArrays(findNearDuplicates(data, 4, 2)), [[0, 1, 2]]);
    assert.deepEqual(groupsAsArrays(findNearDuplicates(data, 4, 2, { partition: [0, 1, 0, 1] })), [[0, 2]]);
  });

  void it('works across tile boundaries', () => {
    // 300 random rows (three 128-row tiles) with copies of rows in different tiles.
    const b = makeBlobs([300], 16, 10, 3); // noise 10: essentially random directions
    const sources = [0, 127, 128, 299];
    const data = withCopies(b.data, b.n, b.dim, sources, 0.01, 4);
    const groups = findNearDuplicates(data, b.n + sources.length, b.dim);
    assert.deepEqual(
      groupsAsArrays(groups),
      sources.map((s, r) => [s, b.n + r]),
    );
  });
});
