/**
 * The open album's photos for the virtualized grid: paging, selection, keyboard focus and the lightbox cursor.
 *
 * Only pages the viewport needs are fetched (PageLoader); until the first page answers, the album summary's count
 * sizes the scroll area, so a 100,000-photo album opens at once at its full height.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { ApiError, PhotoPage, PhotoView, ShoeboxApi, TimelineMonth } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';
import { PageLoader, pagesForRange } from './paging.js';
import { isNumber, loadPref, savePref } from './prefs.js';
import { Selection, type Range } from './selection.js';

export const PAGE_SIZE = 200;
export const THUMB_MIN = 80;
export const THUMB_MAX = 320;

export interface PhotoCell {
  index: number;
  id: number;
  name: string;
  width: number;
  height: number;
  takenAt: number | null;
  pinned: boolean;
}

/** Grid ids of the views that are not albums (album ids are positive). */
export const TIMELINE_ID = -1;
export const SIMILAR_ID = -2;
export const RESULT_ID = -3;

export class AlbumPhotos {
  /** The open grid: an album's id, or TIMELINE_ID, SIMILAR_ID or RESULT_ID. */
  albumId = $state<number | null>(null);
  view = $state.raw<PhotoView | null>(null);
  /** The timeline's months (its section headers and scrubber); null for other views. */
  months = $state.raw<TimelineMonth[] | null>(null);
  total = $state(0);
  /**
   * Per page, bumped when that page arrives: a cell depends on its own page's entry only, so a page that arrives
   * re-renders its own cells, not the whole grid (as immich keeps its timeline's state per segment).
   */
  private readonly pageVersions = new SvelteMap<number, number>();
  /** Bumped when another album opens (every cell changes). */
  private epoch = $state(0);
  selection = $state.raw<Selection>(Selection.empty);
  /** Keyboard focus position in the grid. */
  focus = $state(0);
  /** Lightbox position, or null when closed. */
  viewing = $state<number | null>(null);
  thumbSize = $state(loadPref('thumbSize', 160, isNumber));
  /** The first page has not answered yet. */
  loading = $state(false);
  error = $state.raw<ApiError | null>(null);

  private window: [number, number] = [0, 0];
  private readonly loader: PageLoader<PhotoPage>;

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
  ) {
    this.loader = new PageLoader<PhotoPage>({
      pageSize: PAGE_SIZE,
      maxPages: 60,
      concurrency: 3,
      fetchPage: (offset, limit) => this.fetchPage(offset, limit),
      onPage: (page, data) => {
        if (this.total !== data.total) this.total = data.total;
        this.loading = false;
        this.error = null;
        if (this.selection.size > 0) this.selection = this.selection.clamp(data.total);
        this.pageVersions.set(page, (this.pageVersions.get(page) ?? 0) + 1);
      },
    });
  }

  private async fetchPage(offset: number, limit: number): Promise<PhotoPage | null> {
    const albumId = this.albumId;
    const view = this.view;
    if (albumId === null || view === null) return null;
    const result = await this.api.call('getPhotos', { view, offset, limit });
    if (result.ok) return result.value;
    if (albumId === this.albumId) {
      this.loading = false;
      this.error = result.error;
      this.alerts.report('Could not load photos', result.error);
    }
    return null;
  }

  /** Opens an album (or another view); `estimate` (its summary count) sizes the grid until the first page answers. */
  open(albumId: number, estimate: number, view: PhotoView = { kind: 'album', albumId }): void {
    if (albumId === this.albumId && JSON.stringify(view) === JSON.stringify(this.view)) return;
    this.loader.reset();
    this.albumId = albumId;
    this.view = view;
    this.months = null;
    if (view.kind === 'timeline') void this.loadMonths();
    this.total = estimate;
    this.selection = Selection.empty;
    this.focus = 0;
    this.viewing = null;
    this.error = null;
    this.loading = estimate > 0;
    this.window = [0, 0];
    this.pageVersions.clear();
    this.epoch++;
    // Start on the first page now rather than after the grid has measured itself.
    if (estimate > 0) this.loader.want([0]);
  }

  private async loadMonths(): Promise<void> {
    const result = await this.api.call('getTimelineMonths', {});
    if (result.ok && this.view?.kind === 'timeline') this.months = result.value;
  }

  close(): void {
    this.loader.reset();
    this.albumId = null;
    this.view = null;
    this.months = null;
    this.total = 0;
    this.selection = Selection.empty;
    this.viewing = null;
  }

  /** The album's contents changed: refetch what is visible, keep showing the old pages meanwhile. */
  reload(): void {
    if (this.albumId === null) return;
    if (this.view?.kind === 'timeline') void this.loadMonths();
    this.loader.invalidate();
    this.request();
  }

  /** The grid shows positions [first, last); fetch those pages, then their neighbours. */
  setWindow(first: number, last: number): void {
    this.window = [first, last];
    this.request();
  }

  private request(): void {
    const [first, last] = this.window;
    const visible = pagesForRange(first, Math.max(last, first + 1), PAGE_SIZE);
    const around = pagesForRange(Math.max(0, first - PAGE_SIZE / 2), Math.min(this.total, last + PAGE_SIZE / 2), PAGE_SIZE);
    this.loader.want([...visible, ...around.filter((p) => !visible.includes(p))]);
  }

  photoAt(index: number): PhotoCell | undefined {
    void this.epoch;
    void this.pageVersions.get(Math.floor(index / PAGE_SIZE));
    if (index < 0 || index >= this.total) return undefined;
    const page = this.loader.pageOf(index);
    if (!page) return undefined;
    const i = index - page.offset;
    if (i < 0 || i >= page.ids.length) return undefined;
    return {
      index,
      id: page.ids[i],
      name: page.names[i],
      width: page.widths[i],
      height: page.heights[i],
      takenAt: page.takenAt[i],
      pinned: page.pinned[i],
    };
  }

  setThumbSize(size: number): void {
    this.thumbSize = Math.min(THUMB_MAX, Math.max(THUMB_MIN, Math.round(size)));
    savePref('thumbSize', this.thumbSize);
  }

  /** Photo ids at the given positions, fetching pages not cached; null if a page failed to load. */
  async idsOf(ranges: readonly Range[]): Promise<number[] | null> {
    // Ranges are sorted and disjoint, so duplicate pages can only be neighbours.
    const wanted = ranges.flatMap(([s, e]) => pagesForRange(s, e, PAGE_SIZE)).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    const pages = await this.loader.collect(wanted);
    if (pages === null) return null;
    const ids: number[] = [];
    for (const [s, e] of ranges) {
      for (let i = s; i < e; i++) {
        const page = pages.get(Math.floor(i / PAGE_SIZE));
        const id = page?.ids[i - page.offset];
        if (id === undefined) return null;
        ids.push(id);
      }
    }
    return ids;
  }

  /** The position of a photo in the open view, reading pages from the first until it is found; null if absent. */
  async indexOfPhoto(photoId: number): Promise<number | null> {
    const pages = pagesForRange(0, this.total, PAGE_SIZE);
    for (let i = 0; i < pages.length; i += 3) {
      const loaded = await this.loader.collect(pages.slice(i, i + 3));
      if (loaded === null) return null;
      for (const page of loaded.values()) {
        const at = page.ids.indexOf(photoId);
        if (at >= 0) return page.offset + at;
      }
    }
    return null;
  }

  selectedIds(): Promise<number[] | null> {
    return this.idsOf(this.selection.ranges);
  }
}
