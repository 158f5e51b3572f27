import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { chooseK } from '../../../../electron/core/cluster/autok.js';
import { makeBlobs } from './synthetic.js';

/** k blob sizes spread between 0.4x and 1.6x of `mean`. */
const variedSizes = (k: number, mean: number) =>
  Array.from({ length: k }, (_, i) => Math.round(mean * (0.4 + (1.2 * i) / (k - 1))));

void describe('chooseK', () => {
  for (const trueK of [3, 5, 8]) {
    void it(`finds K = ${trueK} on separated blobs of varied sizes`, () => {
      const b = makeBlobs(variedSizes(trueK, 70), 32, 0.6, trueK);
      const r = chooseK(b.data, b.n, b.dim, { seed: 1, maxK: 20 });
      assert.ok(Math.abs(r.k - trueK) <= 1, `chose ${r.k}`);
      // The winner is the best-scoring candidate and was actually evaluated.
      const best = r.scores.find((s) => s.k === r.k)!;
      for (const s of r.scores) {
        assert.ok(s.score <= best.score + 1e-3);
        assert.ok(Math.abs(s.score - (s.silhouette - s.reference)) < 1e-12);
      }
    });
  }

  void it('evaluates a sorted candidate range within its bounds', () => {
    const b = makeBlobs(variedSizes(4, 50), 16, 0.6, 2);
    const r = chooseK(b.data, b.n, b.dim, { seed: 3, minK: 3, maxK: 9 });
    const ks = r.scores.map((s) => s.k);
    assert.deepEqual(ks, [3, 4, 5, 6, 7, 8, 9]);
    assert.equal(r.k, 4);
  });

  void it('searches up to ceil(1.5 sqrt(n)) by default', () => {
    const b = makeBlobs([30, 30, 40], 8, 0.6, 3); // n = 100: K from 2 to 15
    const ks = chooseK(b.data, b.n, b.dim, { seed: 1 }).scores.map((s) => s.k);
    assert.equal(ks[0], 2);
    assert.equal(ks[ks.length - 1], 15);
  });

  void it('is deterministic for a seed', () => {
    const b = makeBlobs([30, 60, 90, 40], 16, 1.4, 4); // overlapping
    const opts = { seed: 5, maxK: 12 };
    assert.deepEqual(chooseK(b.data, b.n, b.dim, opts), chooseK(b.data, b.n, b.dim, opts));
  });

  void it('samples large inputs', () => {
    const b = makeBlobs(variedSizes(4, 150), 16, 0.6, 6);
    const r = chooseK(b.data, b.n, b.dim, { seed: 1, sampleSize: 200 });
    assert.equal(r.sampleSize, 200);
    assert.ok(Math.abs(r.k - 4) <= 1, `chose ${r.k}`);
  });

  void it('never goes below the clusters that constraints name', () => {
    const b = makeBlobs(variedSizes(3, 40), 16, 0.6, 7);
    const r = chooseK(b.data, b.n, b.dim, { seed: 1, constraints: { pinned: [[0, 5]] } });
    assert.ok(r.k >= 6, `chose ${r.k}`);
    assert.ok(r.scores.every((s) => s.k >= 6));
  });

  void it('returns a trivial K for tiny inputs', () => {
    const b = makeBlobs([1, 1], 8, 0.1, 8);
    assert.equal(chooseK(b.data, 2, b.dim).k, 1);
    assert.equal(chooseK(new Float32Array(0), 0, 8).k, 1);
  });

  void it('reports its choice on overlapping blobs', (t) => {
    // Not a correctness check: with this much overlap the true K is not recoverable; record what it picks.
    const b = makeBlobs(variedSizes(8, 60), 32, 1.6, 9);
    const r = chooseK(b.data, b.n, b.dim, { seed: 1, maxK: 20 });
    t.diagnostic(`overlapping 8 blobs: chose K = ${r.k}`);
    assert.ok(r.k >= 2 && r.k <= 20);
  });
});
