/**
 * What the transports (browser-mode server, Electron shell) need from the core, plus URL parsing helpers shared
 * by both. The handle type is the core's own; the transports depend on nothing else of it.
 */
import type { CoreHandle } from '../core/handle.js';

export type { CoreHandle };
export type ImageKind = Parameters<CoreHandle['imagePath']>[1];

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
