/**
 * Drag and drop between the photo grid and the album sidebar.
 *
 * HTML5 DnD only exposes `dataTransfer.types` during dragover, so the payload itself lives here (one drag at a
 * time per window) and the MIME type tells drop targets what kind of drag it is.
 */
import type { Range } from './selection.js';

export const PHOTOS_MIME = 'application/x-shoebox-photos';
export const ALBUM_MIME = 'application/x-shoebox-album';

export type DragPayload =
  | { kind: 'photos'; fromAlbumId: number; ranges: readonly Range[]; count: number }
  | { kind: 'album'; albumId: number; name: string };

export interface DropTarget {
  id: number;
  kind: 'auto' | 'user' | 'unsorted';
}

export type DropAction =
  | { kind: 'move'; fromAlbumId: number; ranges: readonly Range[]; count: number; toAlbumId: number }
  | { kind: 'merge'; sourceId: number; targetId: number };

export function mimeFor(payload: DragPayload): string {
  return payload.kind === 'photos' ? PHOTOS_MIME : ALBUM_MIME;
}

/** What dropping `payload` on `target` would do, or null if it cannot be dropped there. */
export function dropAction(payload: DragPayload | null, target: DropTarget): DropAction | null {
  if (payload === null) return null;
  if (payload.kind === 'photos') {
    if (payload.fromAlbumId === target.id || payload.count === 0) return null;
    return { kind: 'move', fromAlbumId: payload.fromAlbumId, ranges: payload.ranges, count: payload.count, toAlbumId: target.id };
  }
  if (payload.albumId === target.id) return null;
  return { kind: 'merge', sourceId: payload.albumId, targetId: target.id };
}

/** Whether a dragover with these dataTransfer types may be one of ours (before the payload is checked). */
export function isShoeboxDrag(types: readonly string[]): boolean {
  return types.includes(PHOTOS_MIME) || types.includes(ALBUM_MIME);
}

/** Label for the drag image badge. */
export function dragLabel(payload: DragPayload): string {
  if (payload.kind === 'album') return payload.name;
  return payload.count === 1 ? '1 photo' : `${payload.count.toLocaleString('en-US')} photos`;
}
