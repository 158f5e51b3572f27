/** The album list, its ordering and which album is open. */
import type { AlbumSummary, ShoeboxApi } from '../../../electron/core/api/contract.js';
import { sortAlbums, type AlbumSort } from './albums.js';
import type { Alerts } from './alerts.svelte.js';
import { coalesce } from './coalesce.js';
import { isNumber, loadPref, savePref } from './prefs.js';

const isSort = (v: unknown): v is AlbumSort => v === 'size' || v === 'name';

export class Albums {
  list = $state.raw<AlbumSummary[]>([]);
  loaded = $state(false);
  sort = $state<AlbumSort>(loadPref('albumSort', 'size', isSort));
  selectedId = $state<number | null>(loadPref<number | null>('album', null, isNumber));
  /** The album whose name is being edited in place. */
  renamingId = $state<number | null>(null);
  sorted = $derived(sortAlbums(this.list, this.sort));
  selected = $derived(this.list.find((a) => a.id === this.selectedId) ?? null);
  /** Albums other than Unsorted: "organized" in the person's eyes. */
  organizedCount = $derived(this.list.filter((a) => a.kind !== 'unsorted').length);

  readonly refresh = coalesce(async () => {
    const list = this.alerts.unwrap('Could not load albums', await this.api.call('listAlbums', {}));
    if (list) {
      const hadAlbums = this.loaded && this.organizedCount > 0;
      this.list = list;
      // The first albums just appeared (an organize while the window is open): open the largest, as a fresh load does.
      if (this.loaded && !hadAlbums && this.organizedCount > 0) this.openLargest();
      else if (this.selected === null || this.selected.count === 0) this.selectDefault();
    }
    this.loaded = true;
  });

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
  ) {}

  byId(id: number): AlbumSummary | undefined {
    return this.list.find((a) => a.id === id);
  }

  select(id: number): void {
    this.selectedId = id;
    savePref('album', id);
  }

  setSort(sort: AlbumSort): void {
    this.sort = sort;
    savePref('albumSort', sort);
  }

  private openLargest(): void {
    const largest = [...this.list].filter((a) => a.kind !== 'unsorted').sort((a, b) => b.count - a.count)[0];
    if (largest) this.select(largest.id);
  }

  /** Keeps the current album if it still exists, else opens the first non-empty one in display order. */
  private selectDefault(): void {
    const current = this.selected;
    if (current !== null && (current.count > 0 || current.kind !== 'unsorted')) return;
    const first = this.sorted.find((a) => a.count > 0) ?? this.sorted[0];
    if (first) this.select(first.id);
  }
}
