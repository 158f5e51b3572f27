/**
 * The slice of the core that the transports (browser-mode server, Electron shell) depend on.
 *
 * This mirrors `CoreHandle` from `electron/core/service.ts` structurally, so the real core handle and the test
 * fake are both assignable to it and the transports never depend on how the core is built.
 */
import type { ApiEvent, ApiMethod, ApiResult, ApiValue } from '../core/api/contract.js';

export type ImageKind = 'thumb' | 'preview';

export interface CoreHandle {
  /** Validates args at the boundary; never throws; errors come back as {ok:false,error}. */
  call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>>;
  subscribe(listener: (e: ApiEvent) => void): () => void;
  /** Absolute path of a cached thumbnail/preview of a known photo (inside the library cache), or null. */
  imagePath(photoId: number, kind: ImageKind): Promise<string | null>;
  close(): Promise<void>;
}

export const IMAGE_KINDS: readonly ImageKind[] = ['thumb', 'preview'];

/** Photo ids cross the boundary as decimal strings in URLs; accept only canonical positive safe integers. */
export function parsePhotoId(text: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}

export function isImageKind(text: string): text is ImageKind {
  return (IMAGE_KINDS as readonly string[]).includes(text);
}
