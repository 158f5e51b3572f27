import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesce } from '../../renderer/src/lib/coalesce.js';
import { backoffDelay } from '../../renderer/src/lib/reconnect.js';
import { isFling, ScrollSpeed } from '../../renderer/src/lib/scroll-speed.js';
import { sparkline } from '../../renderer/src/lib/sparkline.js';

describe('sparkline', () => {
  it('draws higher values higher up, within the box', () => {
    const g = sparkline([3, 2, 1], 100, 20, 1);
    const points = g.points.split(' ').map((p) => p.split(',').map(Number));
    assert.equal(points.length, 3);
    assert.deepEqual(points[0], [1, 1]);
    assert.deepEqual(points[2], [99, 19]);
    assert.ok(points[1][1] > points[0][1] && points[1][1] < points[2][1], 'falling loss goes down');
    assert.equal(g.min, 1);
    assert.equal(g.max, 3);
    assert.equal(g.last, 1);
  });

  it('handles flat, short and non-finite series', () => {
    assert.equal(sparkline([], 100, 20).points, '');
    assert.equal(sparkline([0.5], 100, 20).last, 0.5);
    const flat = sparkline([1, 1, Number.NaN, 1], 100, 20);
    assert.equal(flat.points.split(' ').length, 3);
  });
});

describe('coalesce', () => {
  it('collapses overlapping requests into one extra run', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const refresh = coalesce(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    });
    const first = refresh();
    void refresh();
    void refresh();
    const last = refresh();
    release();
    await Promise.all([first, last]);
    assert.equal(runs, 2);
    await refresh();
    assert.equal(runs, 3, 'a later request runs again');
  });

  it('recovers after a failing run', async () => {
    let fail = true;
    const refresh = coalesce(() => (fail ? Promise.reject(new Error('boom')) : Promise.resolve()));
    await assert.rejects(refresh(), /boom/);
    fail = false;
    await refresh();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter and is capped', () => {
    assert.equal(backoffDelay(0, () => 0), 125);
    assert.equal(backoffDelay(0, () => 1), 250);
    assert.equal(backoffDelay(3, () => 1), 2000);
    assert.equal(backoffDelay(30, () => 1), 10_000);
    for (let attempt = 0; attempt < 10; attempt++) {
      const d = backoffDelay(attempt);
      assert.ok(d > 0 && d <= 10_000);
    }
  });
});

describe('ScrollSpeed', () => {
  it('measures speed over the recent window only', () => {
    const speed = new ScrollSpeed(100);
    assert.equal(speed.speed(0), 0);
    speed.record(0, 0);
    speed.record(50, 500);
    assert.equal(speed.speed(50), 10);
    speed.record(400, 600);
    assert.equal(speed.speed(400), 0, 'older samples fell out of the window');
    speed.record(450, 400);
    assert.equal(speed.speed(450), 4, 'direction does not matter');
    speed.reset();
    assert.equal(speed.speed(450), 0);
  });

  it('calls many viewports per second a fling', () => {
    assert.ok(isFling(20, 800), '20,000 px/s over an 800 px viewport');
    assert.ok(!isFling(2, 800), 'reading speed');
    assert.ok(!isFling(5, 0), 'no viewport yet');
  });
});
