/**
 * Loads an album's photos page by page, only for what is (nearly) on screen.
 *
 * - `want(pages)` declares the pages the viewport needs now; queued pages that scrolled away are dropped before
 *   they are requested, and at most `concurrency` requests run at once, nearest-to-view first.
 * - `reset()` (another album, or the album changed) starts a new generation: answers to requests of an older
 *   generation are ignored and their AbortSignals fire.
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
    this.queue = pages.filter((p) => !this.cache.has(p) && !this.inFlight.has(p));
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
    this.generation++;
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
    this.cache.clear();
    this.queue = [];
    this.wanted.clear();
  }

  /** Loads the given pages now (regardless of the viewport) and resolves when they are all cached. */
  async ensure(pages: readonly number[]): Promise<boolean> {
    const generation = this.generation;
    const missing = pages.filter((p) => !this.cache.has(p));
    const results = await Promise.all(
      missing.map(async (p) => {
        const data = await this.options.fetchPage(p * this.options.pageSize, this.options.pageSize, new AbortController().signal);
        if (data === null || generation !== this.generation) return false;
        this.store(p, data);
        return true;
      }),
    );
    return results.every(Boolean);
  }

  private pump(): void {
    while (this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const page = this.queue.shift()!;
      if (this.cache.has(page) || this.inFlight.has(page)) continue;
      this.start(page);
    }
  }

  private start(page: number): void {
    const generation = this.generation;
    const controller = new AbortController();
    this.inFlight.set(page, controller);
    const { pageSize } = this.options;
    this.options
      .fetchPage(page * pageSize, pageSize, controller.signal)
      .then(
        (data) => {
          if (generation !== this.generation || controller.signal.aborted) return;
          this.inFlight.delete(page);
          if (data !== null) this.store(page, data);
        },
        () => {
          if (generation === this.generation) this.inFlight.delete(page);
        },
      )
      .finally(() => {
        if (generation === this.generation) this.pump();
      });
  }

  private store(page: number, data: P): void {
    this.cache.delete(page);
    this.cache.set(page, data);
    this.evict();
    this.options.onPage(page, data);
  }

  private evict(): void {
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.options.maxPages) return;
      if (!this.wanted.has(key)) this.cache.delete(key);
    }
  }
}
