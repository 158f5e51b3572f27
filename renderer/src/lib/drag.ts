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
export const FACES_MIME = 'application/x-shoebox-faces';

export type DragPayload =
  /** `fromPersonId`: the photos are dragged out of a person's view (their faces can go to another person). */
  | { kind: 'photos'; fromAlbumId: number; ranges: readonly Range[]; count: number; fromPersonId?: number }
  | { kind: 'album'; albumId: number; name: string }
  | { kind: 'person'; personId: number; name: string }
  /** Face tiles from a person's faces mode (the list is in memory, so the ids are resolved when the drag starts). */
  | { kind: 'faces'; fromPersonId: number; faceIds: readonly number[] };

export interface DropTarget {
  id: number;
  kind: 'auto' | 'user' | 'unsorted';
}

export type DropAction =
  | { kind: 'move'; fromAlbumId: number; ranges: readonly Range[]; count: number; toAlbumId: number }
  | { kind: 'merge'; sourceId: number; targetId: number };

export function mimeFor(payload: DragPayload): string {
  const mime = { photos: PHOTOS_MIME, album: ALBUM_MIME, person: PERSON_MIME, faces: FACES_MIME } as const;
  return mime[payload.kind];
}

export type PersonDropAction =
  | { kind: 'move-faces'; fromPersonId: number; ranges: readonly Range[]; count: number; toPersonId: number }
  | { kind: 'move-face-ids'; faceIds: readonly number[]; toPersonId: number }
  | { kind: 'merge-people'; sourceId: number; targetId: number };

/**
 * What dropping `payload` on person `personId` would do: their faces in photos (or face tiles) from another person
 * move there, or a person merges.
 */
export function personDropAction(payload: DragPayload | null, personId: number): PersonDropAction | null {
  if (payload?.kind === 'person')
    return payload.personId === personId ? null : { kind: 'merge-people', sourceId: payload.personId, targetId: personId };
  if (payload?.kind === 'photos' && payload.fromPersonId !== undefined && payload.fromPersonId !== personId && payload.count > 0)
    return { kind: 'move-faces', fromPersonId: payload.fromPersonId, ranges: payload.ranges, count: payload.count, toPersonId: personId };
  if (payload?.kind === 'faces' && payload.fromPersonId !== personId && payload.faceIds.length > 0)
    return { kind: 'move-face-ids', faceIds: payload.faceIds, toPersonId: personId };
  return null;
}

/** What dropping `payload` on `target` would do, or null if it cannot be dropped there. */
export function dropAction(payload: DragPayload | null, target: DropTarget): DropAction | null {
  if (payload === null) return null;
  if (payload.kind === 'photos') {
    if (payload.fromAlbumId === target.id || payload.count === 0) return null;
    return { kind: 'move', fromAlbumId: payload.fromAlbumId, ranges: payload.ranges, count: payload.count, toAlbumId: target.id };
  }
  if (payload.kind === 'person' || payload.kind === 'faces' || payload.albumId === target.id) return null;
  return { kind: 'merge', sourceId: payload.albumId, targetId: target.id };
}

/** Whether a dragover with these dataTransfer types may be one of ours (before the payload is checked). */
export function isShoeboxDrag(types: readonly string[]): boolean {
  return [PHOTOS_MIME, ALBUM_MIME, PERSON_MIME, FACES_MIME].some((mime) => types.includes(mime));
}

/** Label for the drag image badge. */
export function dragLabel(payload: DragPayload): string {
  if (payload.kind === 'album' || payload.kind === 'person') return payload.name;
  if (payload.kind === 'faces') return payload.faceIds.length === 1 ? '1 face' : `${payload.faceIds.length.toLocaleString('en-US')} faces`;
  return payload.count === 1 ? '1 photo' : `${payload.count.toLocaleString('en-US')} photos`;
}
