/** Plain helpers for people edits (no runes, so they are tested without a DOM). */
import type { FaceInfo } from '../../../electron/core/api/contract.js';

/** The ids of `faces` that are in one of `photoIds`. */
export function facesInPhotos(faces: readonly FaceInfo[], photoIds: readonly number[]): number[] {
  const photos = new Set(photoIds);
  return faces.filter((f) => photos.has(f.photoId)).map((f) => f.id);
}
