/**
 * Loads an album's photos page by page, only for what is (nearly) on screen.
 *
 * - `want(pages)` declares the pages the viewport needs now; queued pages that scrolled away are dropped before
 *   they are requested, and at most `concurrency` requests run at once, nearest-to-view first.
 * - `reset()` (another album) starts a new generation: answers to requests of an older generation are ignored and
 *   their AbortSignals fire. `invalidate()` (the same album changed) does the same but keeps showing the old pages
 *   until their replacements arrive, so the grid does not flash.
 * - Loaded pages are kept in an LRU of `maxPages`, never evicting pages currently wanted.
 */

export interface PageLoaderOptions<P> {
  pageSize: number;
  maxPages: number;
  concurrency: number;
  /** Fetches one page; resolves null when it failed (the loader retries on the next `want`). */
  fetchPage(offset: number, limit: number, signal: AbortSignal): Promise<P | null>;
  /** A page arrived for the current generation. */
  onPage(page: number, data: P): void;
}

export function pagesForRange(firstIndex: number, lastIndex: number, pageSize: number): number[] {
  if (lastIndex <= firstIndex) return [];
  const first = Math.floor(firstIndex / pageSize);
  const last = Math.floor((lastIndex - 1) / pageSize);
  const pages: number[] = [];
  for (let p = first; p <= last; p++) pages.push(p);
  return pages;
}

export class PageLoader<P> {
  private readonly cache = new Map<number, P>();
  private readonly inFlight = new Map<number, AbortController>();
  /** Cached pages from an older generation: still shown, refetched when wanted. */
  private readonly stale = new Set<number>();
  private queue: number[] = [];
  private wanted = new Set<number>();
  private generation = 0;

  constructor(private readonly options: PageLoaderOptions<P>) {}

  get pageSize(): number {
    return this.options.pageSize;
  }

  page(index: number): P | undefined {
    return this.cache.get(index);
  }

  /** The page holding position `index`, if loaded. */
  pageOf(index: number): P | undefined {
    return this.cache.get(Math.floor(index / this.options.pageSize));
  }

  isLoading(page: number): boolean {
    return this.inFlight.has(page);
  }

  get loadedPages(): number[] {
    return [...this.cache.keys()];
  }

  /** Declares the pages needed now, most important first. */
  want(pages: readonly number[]): void {
    this.wanted = new Set(pages);
    this.queue = pages.filter((p) => this.needs(p) && !this.inFlight.has(p));
    for (const p of pages) {
      // Touch for LRU order.
      const hit = this.cache.get(p);
      if (hit !== undefined) {
        this.cache.delete(p);
        this.cache.set(p, hit);
      }
    }
    this.pump();
  }

  /** Forgets everything; in-flight answers are ignored from now on. */
  reset(): void {
    this.invalidate();
    this.cache.clear();
    this.stale.clear();
    this.wanted.clear();
  }

  /** Marks every cached page stale (kept for display, refetched on the next `want`); drops in-flight answers. */
  invalidate(): void {
    this.generation++;
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
    this.queue = [];
    for (const page of this.cache.keys()) this.stale.add(page);
  }

  private needs(page: number): boolean {
    return !this.cache.has(page) || this.stale.has(page);
  }

  /**
   * The given pages regardless of the viewport (e.g. to resolve a large selection), from the cache where fresh,
   * fetched otherwise. Resolves null if any page failed or the loader was reset meanwhile.
   */
  async collect(pages: readonly number[]): Promise<Map<number, P> | null> {
    const generation = this.generation;
    const out = new Map<number, P>();
    const missing: number[] = [];
    for (const p of pages) {
      const hit = this.cache.get(p);
      if (hit !== undefined && !this.stale.has(p)) out.set(p, hit);
      else missing.push(p);
    }
    const { pageSize, concurrency } = this.options;
    for (let i = 0; i < missing.length; i += concurrency) {
      const batch = missing.slice(i, i + concurrency);
      const fetched = await Promise.all(batch.map((p) => this.options.fetchPage(p * pageSize, pageSize, new AbortController().signal)));
      if (generation !== this.generation) return null;
      for (const [j, data] of fetched.entries()) {
        if (data === null) return null;
        out.set(batch[j], data);
        this.store(batch[j], data);
      }
    }
    return out;
  }

  private pump(): void {
    while (this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const page = this.queue.shift()!;
      if (!this.needs(page) || this.inFlight.has(page)) continue;
      this.start(page);
    }
  }

  private start(page: number): void {
    const controller = new AbortController();
    this.inFlight.set(page, controller);
    void this.load(page, this.generation, controller);
  }

  private async load(page: number, generation: number, controller: AbortController): Promise<void> {
    const { pageSize } = this.options;
    const current = () => generation === this.generation && !controller.signal.aborted;
    try {
      const data = await this.options.fetchPage(page * pageSize, pageSize, controller.signal);
      if (!current()) return;
      this.inFlight.delete(page);
      if (data !== null) this.store(page, data);
    } catch {
      if (current()) this.inFlight.delete(page);
    } finally {
      if (generation === this.generation) this.pump();
    }
  }

  private store(page: number, data: P): void {
    this.stale.delete(page);
    this.cache.delete(page);
    this.cache.set(page, data);
    this.evict();
    this.options.onPage(page, data);
  }

  private evict(): void {
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.options.maxPages) return;
      if (!this.wanted.has(key)) {
        this.cache.delete(key);
        this.stale.delete(key);
      }
    }
  }
}
