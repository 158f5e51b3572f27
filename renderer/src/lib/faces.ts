/** Plain helpers for people edits and a person's faces mode (no runes, so they are tested without a DOM). */
import type { FaceInfo, PersonInfo } from '../../../electron/core/api/contract.js';
import { formatCount } from './format.js';
import type { Range } from './selection.js';

/** The ids of `faces` that are in one of `photoIds`. */
export function facesInPhotos(faces: readonly FaceInfo[], photoIds: readonly number[]): number[] {
  const photos = new Set(photoIds);
  return faces.filter((f) => photos.has(f.photoId)).map((f) => f.id);
}

/** What a person's view shows: their photos, or one tile per face (kept as a preference). */
export type PersonMode = 'photos' | 'faces';

export const isPersonMode = (value: unknown): value is PersonMode => value === 'photos' || value === 'faces';

/** The faces at `ranges` (positions in `faces`, as the face grid's selection holds them). */
export function facesAt(faces: readonly FaceInfo[], ranges: readonly Range[]): FaceInfo[] {
  return ranges.flatMap(([start, end]) => faces.slice(start, end));
}

/** The photos of the faces at `ranges`, each once, in order (for "More like this"). */
export function photoIdsOfFaces(faces: readonly FaceInfo[], ranges: readonly Range[]): number[] {
  return [...new Set(facesAt(faces, ranges).map((f) => f.photoId))];
}

/** How a face tile is announced: its place in the grid, and whether it is low quality or placed by the person. */
export function faceLabel(face: FaceInfo, index: number, total: number): string {
  const notes = [face.lowQuality ? 'low quality' : null, face.pinned ? 'placed by you' : null].filter((n) => n !== null);
  return [`Face ${index + 1} of ${total}`, ...notes].join(', ');
}

type Named = Pick<PersonInfo, 'name' | 'count'>;

/** The question and explanation before `source` is merged into `target`; an unnamed person is "this person". */
export function mergePeopleText(source: Named, target: Named): { title: string; body: string } {
  const from = source.name === null ? 'this person' : `“${source.name}”`;
  const into = target.name !== null ? `“${target.name}”` : source.name === null ? 'the other person' : 'this person';
  // The merged person keeps the target's name, or takes the source's when the target has none.
  const renamed = target.name === null && source.name !== null ? `, who is then called “${source.name}”` : '';
  return {
    title: `Merge ${from} into ${into}?`,
    body: `The ${formatCount(source.count)} of ${from} ${source.count === 1 ? 'goes' : 'go'} to ${into}${renamed}. You can undo this.`,
  };
}
