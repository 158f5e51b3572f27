/** Album list ordering and labels. */
import type { AlbumSummary } from '../../../electron/core/api/contract.js';
import { formatCount } from './format.js';

export type AlbumSort = 'size' | 'name';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Biggest (or A–Z) first; Unsorted always last. */
export function sortAlbums(albums: readonly AlbumSummary[], mode: AlbumSort): AlbumSummary[] {
  return [...albums].sort((a, b) => {
    const unsorted = Number(a.kind === 'unsorted') - Number(b.kind === 'unsorted');
    if (unsorted !== 0) return unsorted;
    if (mode === 'size' && a.count !== b.count) return b.count - a.count;
    return collator.compare(a.name, b.name) || a.id - b.id;
  });
}

/** Accessible name of an album button: starts with the album's name. */
export function albumLabel(album: Pick<AlbumSummary, 'name' | 'count'>): string {
  return `${album.name}, ${formatCount(album.count)}`;
}

/** A new album name that does not clash with existing ones: "New album", "New album 2", ... */
export function uniqueName(base: string, existing: readonly string[]): string {
  const taken = new Set(existing.map((n) => n.toLocaleLowerCase()));
  if (!taken.has(base.toLocaleLowerCase())) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base} ${i}`;
    if (!taken.has(candidate.toLocaleLowerCase())) return candidate;
  }
}

/** Trimmed, non-empty, at most 200 characters; null if unusable. */
export function cleanAlbumName(input: string): string | null {
  const name = input.replace(/\s+/g, ' ').trim();
  return name === '' || name.length > 200 ? null : name;
}
