import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Rng } from '../../../training/numeric/rng.js';

void describe('Rng', () => {
  void it('repeats its stream for a seed and differs between seeds', () => {
    const a = new Rng(3);
    const b = new Rng(3);
    const c = new Rng(4);
    const sa = Array.from({ length: 20 }, () => a.nextU32());
    assert.deepEqual(
      sa,
      Array.from({ length: 20 }, () => b.nextU32()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 20 }, () => c.nextU32()),
    );
  });

  void it('draws uniform floats and integers in range', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const u = rng.next();
      assert.ok(u >= 0 && u < 1);
      counts[rng.int(10)]++;
    }
    // Each bucket expects 2,000 draws (sd about 42): 10 sd of slack still catches a broken generator.
    for (const count of counts) assert.ok(Math.abs(count - 2000) < 420, `bucket count ${count}`);
  });

  void it('samples distinct sorted indices', () => {
    const s = new Rng(2).sample(100, 30);
    assert.equal(s.length, 30);
    assert.equal(new Set(s).size, 30);
    for (let i = 1; i < s.length; i++) assert.ok(s[i - 1] < s[i]);
    assert.deepEqual([...new Rng(2).sample(5, 9)], [0, 1, 2, 3, 4]);
  });

  void it('draws standard normal deviates', () => {
    const rng = new Rng(5);
    let sum = 0;
    let sumSq = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const g = rng.normal();
      sum += g;
      sumSq += g * g;
    }
    assert.ok(Math.abs(sum / n) < 0.05);
    assert.ok(Math.abs(sumSq / n - 1) < 0.05);
  });
});
