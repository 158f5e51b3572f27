import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { knnQuery, knnSelf, type KnnGraph } from '../../../../electron/core/cluster/knn.js';
import { randomUnitVectors } from './synthetic.js';

/** Cosine similarity in double precision. */
function cosine(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let d = 0; d < dim; d++) {
    s += a[i * dim + d] * b[j * dim + d];
    na += a[i * dim + d] ** 2;
    nb += b[j * dim + d] ** 2;
  }
  return s / Math.sqrt(na * nb);
}

/**
 * Checks `graph` against brute force: for each query the returned similarities are the true top-k similarities
 * (in order), and each returned index really has the similarity reported. Comparing similarities rather than
 * index lists keeps the check valid when two candidates are within float rounding of each other.
 */
function assertMatchesBruteForce(
  graph: KnnGraph,
  queries: Float32Array,
  base: Float32Array,
  nb: number,
  dim: number,
  k: number,
  self: boolean,
) {
  assert.equal(graph.k, k);
  for (let q = 0; q < graph.n; q++) {
    const all: number[] = [];
    for (let j = 0; j < nb; j++) if (!(self && j === q)) all.push(cosine(queries, q, base, j, dim));
    all.sort((a, b) => b - a);
    const seen = new Set<number>();
    for (let r = 0; r < k; r++) {
      const j = graph.indices[q * k + r];
      const s = graph.similarities[q * k + r];
      assert.ok(j >= 0 && j < nb, `query ${q} rank ${r}: bad index ${j}`);
      assert.ok(!(self && j === q), `query ${q} is its own neighbour`);
      assert.ok(!seen.has(j), `query ${q}: neighbour ${j} listed twice`);
      seen.add(j);
      assert.ok(Math.abs(s - all[r]) < 1e-5, `query ${q} rank ${r}: similarity ${s}, brute force ${all[r]}`);
      assert.ok(Math.abs(s - cosine(queries, q, base, j, dim)) < 1e-5, `query ${q}: wrong similarity for ${j}`);
    }
  }
}

void describe('knnSelf', () => {
  void it('matches brute force across several tiles, excluding self', () => {
    // 300 rows span three 128-row tiles, including partial ones; dim 19 exercises the kernel's remainder paths.
    const n = 300;
    const dim = 19;
    const data = randomUnitVectors(n, dim, 1);
    const graph = knnSelf(data, n, dim, 7);
    assertMatchesBruteForce(graph, data, data, n, dim, 7, true);
  });

  void it('normalises rows itself and caps k at n - 1', () => {
    const n = 5;
    const dim = 3;
    const data = randomUnitVectors(n, dim, 2).map((v, i) => v * (1 + (i % 4))); // rows of different lengths
    const graph = knnSelf(data, n, dim, 10);
    assert.equal(graph.k, 4);
    assertMatchesBruteForce(graph, data, data, n, dim, 4, true);
  });

  void it('breaks exact ties by the smaller index', () => {
    // Rows 1, 2 and 3 are the same vector: for row 0 they tie, and the two kept must be the smallest indices.
    const dim = 4;
    const data = new Float32Array([1, 0, 0, 0, 0.6, 0.8, 0, 0, 0.6, 0.8, 0, 0, 0.6, 0.8, 0, 0]);
    const graph = knnSelf(data, 4, dim, 2);
    assert.deepEqual([...graph.indices.subarray(0, 2)], [1, 2]);
    // Row 3's identical twins come first (similarity 1), in index order.
    assert.deepEqual([...graph.indices.subarray(6, 8)], [1, 2]);
  });
});

void describe('knnQuery', () => {
  void it('matches brute force against a separate base set', () => {
    const dim = 24;
    const base = randomUnitVectors(260, dim, 3);
    const queries = randomUnitVectors(140, dim, 4);
    const graph = knnQuery(queries, 140, base, 260, dim, 5);
    assertMatchesBruteForce(graph, queries, base, 260, dim, 5, false);
  });

  void it('finds a query that is also a base row first', () => {
    const dim = 8;
    const base = randomUnitVectors(50, dim, 5);
    const queries = base.slice(17 * dim, 18 * dim);
    const graph = knnQuery(queries, 1, base, 50, dim, 3);
    assert.equal(graph.indices[0], 17);
    assert.ok(Math.abs(graph.similarities[0] - 1) < 1e-6);
  });

  void it('rejects malformed input', () => {
    assert.throws(() => knnQuery(new Float32Array(5), 2, new Float32Array(4), 2, 2, 1), RangeError);
    assert.throws(() => knnSelf(new Float32Array(4), 2, 2, -1), RangeError);
  });
});

describe('knnApprox', () => {
  it('is exact below its threshold, and above it finds at least 95% of the exact neighbours of clustered data', async () => {
    const { knnApprox, knnRecall } = await import('../../../../electron/core/cluster/knn.js');
    const { makeBlobs } = await import('./synthetic.js');
    const small = makeBlobs(Array.from({ length: 10 }, () => 50), 16, 1, 3);
    assert.deepEqual(knnApprox(small.data, small.n, 16, 5).indices, knnSelf(small.data, small.n, 16, 5).indices);
    // 6,000 photos in 60 groups of varied size, heavily overlapping within a group.
    const sizes = Array.from({ length: 60 }, (_, i) => 40 + ((i * 37) % 120));
    const big = makeBlobs(sizes, 32, 1.2, 5);
    const exact = knnSelf(big.data, big.n, 32, 5);
    const approx = knnApprox(big.data, big.n, 32, 5, { seed: 1 });
    const recall = knnRecall(exact, approx);
    assert.ok(recall >= 0.95, `recall ${recall}`);
    // Never a row as its own neighbour, and similarities sorted best first.
    for (let q = 0; q < big.n; q += 97) {
      for (let r = 0; r < 5; r++) assert.notEqual(approx.indices[q * 5 + r], q);
      for (let r = 1; r < 5; r++) assert.ok(approx.similarities[q * 5 + r] <= approx.similarities[q * 5 + r - 1]);
    }
  });
});
