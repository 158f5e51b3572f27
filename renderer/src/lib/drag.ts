/**
 * Drag and drop between the photo grid and the album sidebar.
 *
 * HTML5 DnD only exposes `dataTransfer.types` during dragover, so the payload itself lives here (one drag at a
 * time per window) and the MIME type tells drop targets what kind of drag it is.
 */
import type { Range } from './selection.js';

export const PHOTOS_MIME = 'application/x-shoebox-photos';
export const ALBUM_MIME = 'application/x-shoebox-album';
export const PERSON_MIME = 'application/x-shoebox-person';

export type DragPayload =
  /** `fromPersonId`: the photos are dragged out of a person's view (their faces can go to another person). */
  | { kind: 'photos'; fromAlbumId: number; ranges: readonly Range[]; count: number; fromPersonId?: number }
  | { kind: 'album'; albumId: number; name: string }
  | { kind: 'person'; personId: number; name: string };

export interface DropTarget {
  id: number;
  kind: 'auto' | 'user' | 'unsorted';
}

export type DropAction =
  | { kind: 'move'; fromAlbumId: number; ranges: readonly Range[]; count: number; toAlbumId: number }
  | { kind: 'merge'; sourceId: number; targetId: number };

export function mimeFor(payload: DragPayload): string {
  return payload.kind === 'photos' ? PHOTOS_MIME : payload.kind === 'album' ? ALBUM_MIME : PERSON_MIME;
}

export type PersonDropAction =
  | { kind: 'move-faces'; fromPersonId: number; ranges: readonly Range[]; count: number; toPersonId: number }
  | { kind: 'merge-people'; sourceId: number; targetId: number };

/** What dropping `payload` on person `personId` would do: their faces in photos from another person, or a merge. */
export function personDropAction(payload: DragPayload | null, personId: number): PersonDropAction | null {
  if (payload?.kind === 'person')
    return payload.personId === personId ? null : { kind: 'merge-people', sourceId: payload.personId, targetId: personId };
  if (payload?.kind === 'photos' && payload.fromPersonId !== undefined && payload.fromPersonId !== personId && payload.count > 0)
    return { kind: 'move-faces', fromPersonId: payload.fromPersonId, ranges: payload.ranges, count: payload.count, toPersonId: personId };
  return null;
}

/** What dropping `payload` on `target` would do, or null if it cannot be dropped there. */
export function dropAction(payload: DragPayload | null, target: DropTarget): DropAction | null {
  if (payload === null) return null;
  if (payload.kind === 'photos') {
    if (payload.fromAlbumId === target.id || payload.count === 0) return null;
    return { kind: 'move', fromAlbumId: payload.fromAlbumId, ranges: payload.ranges, count: payload.count, toAlbumId: target.id };
  }
  if (payload.kind === 'person' || payload.albumId === target.id) return null;
  return { kind: 'merge', sourceId: payload.albumId, targetId: target.id };
}

/** Whether a dragover with these dataTransfer types may be one of ours (before the payload is checked). */
export function isShoeboxDrag(types: readonly string[]): boolean {
  return types.includes(PHOTOS_MIME) || types.includes(ALBUM_MIME) || types.includes(PERSON_MIME);
}

/** Label for the drag image badge. */
export function dragLabel(payload: DragPayload): string {
  if (payload.kind === 'album' || payload.kind === 'person') return payload.name;
  return payload.count === 1 ? '1 photo' : `${payload.count.toLocaleString('en-US')} photos`;
}
