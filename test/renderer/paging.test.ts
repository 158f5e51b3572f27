import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PageLoader, pagesForRange } from '../../renderer/src/lib/paging.js';

interface Deferred {
  offset: number;
  signal: AbortSignal;
  resolve(value: number[] | null): void;
}

/** A loader whose fetches stay pending until the test answers them. */
function harness(options: { maxPages?: number; concurrency?: number } = {}) {
  const pending: Deferred[] = [];
  const loaded: number[] = [];
  const loader = new PageLoader<number[]>({
    pageSize: 10,
    maxPages: options.maxPages ?? 100,
    concurrency: options.concurrency ?? 2,
    fetchPage: (offset, limit, signal) =>
      new Promise((resolve) => pending.push({ offset, signal, resolve: (v) => resolve(v ?? null) })),
    onPage: (page) => loaded.push(page),
  });
  const answer = async (offset: number, value: number[] | null = [offset]) => {
    const i = pending.findIndex((p) => p.offset === offset);
    assert.ok(i >= 0, `no pending fetch at ${offset}`);
    pending.splice(i, 1)[0].resolve(value);
    await new Promise((r) => setImmediate(r));
  };
  return { loader, pending, loaded, answer };
}

describe('pagesForRange', () => {
  it('lists the pages covering [first, last)', () => {
    assert.deepEqual(pagesForRange(0, 10, 10), [0]);
    assert.deepEqual(pagesForRange(5, 25, 10), [0, 1, 2]);
    assert.deepEqual(pagesForRange(10, 11, 10), [1]);
    assert.deepEqual(pagesForRange(3, 3, 10), []);
  });
});

describe('PageLoader', () => {
  it('fetches only wanted pages, at most `concurrency` at a time, in the given order', async () => {
    const { loader, pending, loaded, answer } = harness({ concurrency: 2 });
    loader.want([4, 5, 6]);
    assert.deepEqual(pending.map((p) => p.offset), [40, 50]);
    await answer(40);
    assert.deepEqual(pending.map((p) => p.offset), [50, 60]);
    await answer(50);
    await answer(60);
    assert.deepEqual(loaded, [4, 5, 6]);
    assert.deepEqual(loader.pageOf(47), [40]);
    loader.want([4, 5]);
    assert.equal(pending.length, 0, 'cached pages are not fetched again');
  });

  it('drops queued pages that scrolled away before requesting them', async () => {
    const { loader, pending, answer } = harness({ concurrency: 1 });
    loader.want([0, 1, 2]);
    loader.want([50, 51]);
    assert.deepEqual(pending.map((p) => p.offset), [0], 'page 0 was already in flight');
    await answer(0);
    assert.deepEqual(pending.map((p) => p.offset), [500]);
    await answer(500);
    assert.deepEqual(pending.map((p) => p.offset), [510]);
  });

  it('ignores answers that arrive after a reset and aborts their signals', async () => {
    const { loader, pending, loaded, answer } = harness();
    loader.want([0]);
    const stale = pending[0];
    loader.reset();
    assert.ok(stale.signal.aborted);
    loader.want([0]);
    assert.equal(pending.length, 2);
    stale.resolve([999]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(loaded, []);
    pending.splice(0, 1);
    await answer(0, [1]);
    assert.deepEqual(loader.page(0), [1]);
  });

  it('keeps showing invalidated pages until fresh ones arrive', async () => {
    const { loader, pending, answer } = harness();
    loader.want([0]);
    await answer(0, [1]);
    loader.invalidate();
    assert.deepEqual(loader.page(0), [1], 'stale page still readable');
    loader.want([0]);
    assert.equal(pending.length, 1, 'stale page refetched');
    await answer(0, [2]);
    assert.deepEqual(loader.page(0), [2]);
  });

  it('retries a failed page on the next want', async () => {
    const { loader, pending, answer } = harness();
    loader.want([3]);
    await answer(30, null);
    assert.equal(loader.page(3), undefined);
    loader.want([3]);
    assert.equal(pending.length, 1);
  });

  it('evicts least recently used pages but never wanted ones', async () => {
    const { loader, answer } = harness({ maxPages: 2, concurrency: 4 });
    loader.want([0, 1]);
    await answer(0);
    await answer(10);
    loader.want([2]);
    await answer(20);
    assert.deepEqual(loader.loadedPages.sort(), [1, 2]);
    loader.want([1, 2, 3]);
    await answer(30);
    assert.deepEqual(loader.loadedPages.sort(), [1, 2, 3], 'over budget rather than dropping visible pages');
  });

  it('collects arbitrary pages for large selections, failing as a whole', async () => {
    const { loader, pending, answer } = harness({ concurrency: 2 });
    loader.want([0]);
    await answer(0);
    const all = loader.collect([0, 1, 2]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(pending.map((p) => p.offset), [10, 20], 'cached page 0 is reused');
    await answer(10);
    await answer(20);
    assert.deepEqual([...(await all)!.keys()], [0, 1, 2]);

    const failing = loader.collect([7]);
    await new Promise((r) => setImmediate(r));
    await answer(70, null);
    assert.equal(await failing, null);
  });
});
