import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { centerRows, dot, normalizeRows } from '../../../training/numeric/linalg.js';
import { Rng } from '../../../training/numeric/rng.js';
import { makeBlobs } from '../../electron/core/cluster/synthetic.js';

describe('centerRows', () => {
  it('returns unit rows pointing along (unit row - mean of unit rows)', () => {
    const rng = new Rng(3);
    const n = 50;
    const dim = 7;
    const data = Float32Array.from({ length: n * dim }, () => rng.normal() * 3 + 1);
    const { x, mean } = centerRows(data, n, dim);
    const unit = normalizeRows(data.slice(), n, dim);
    for (let d = 0; d < dim; d++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += unit[i * dim + d];
      assert.ok(Math.abs(s / n - mean[d]) < 1e-6, `mean[${d}]`);
    }
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(dot(x, i * dim, x, i * dim, dim) - 1) < 1e-5, `row ${i} is unit`);
      const diff = Float32Array.from({ length: dim }, (_, d) => unit[i * dim + d] - mean[d]);
      const len = Math.sqrt(dot(diff, 0, diff, 0, dim));
      assert.ok(Math.abs(dot(x, i * dim, diff, 0, dim) / len - 1) < 1e-5, `row ${i} direction`);
    }
    assert.ok(data.some((v) => Math.abs(v) > 1.5), 'input left untouched');
  });

  it('removes a component every vector shares, so unrelated photos stop looking alike', () => {
    const dim = 32;
    const blobs = makeBlobs([40, 40, 40], dim, 0.5, 11);
    const common = new Float32Array(dim).fill(1 / Math.sqrt(dim));
    const shifted = blobs.data.map((v, i) => v + 2 * common[i % dim]);
    const meanCross = (x: Float32Array): number => {
      let s = 0;
      let m = 0;
      for (let i = 0; i < blobs.n; i++) {
        for (let j = i + 1; j < blobs.n; j++) {
          if (blobs.labels[i] === blobs.labels[j]) continue;
          s += dot(x, i * dim, x, j * dim, dim);
          m++;
        }
      }
      return s / m;
    };
    const before = meanCross(normalizeRows(shifted.slice(), blobs.n, dim));
    const after = meanCross(centerRows(shifted, blobs.n, dim).x);
    assert.ok(before > 0.7, `shared component dominates before (${before.toFixed(3)})`);
    assert.ok(after < 0, `photos of different blobs point apart after (${after.toFixed(3)})`);
  });

  it('handles an empty matrix', () => {
    const { x, mean } = centerRows(new Float32Array(0), 0, 4);
    assert.equal(x.length, 0);
    assert.deepEqual([...mean], [0, 0, 0, 0]);
  });
});
