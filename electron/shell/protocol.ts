/**
 * URL handling for the shell's two custom schemes, kept free of Electron so it can be tested in plain Node:
 *
 *   app://shoebox/<path>              files of the built renderer (dist/renderer)
 *   shoebox-img://<thumb|preview>/<id> cached images, resolved only through core.imagePath
 */
import path from 'node:path';
import { isImageKind, parsePhotoId, type ImageKind } from '../transport/core-handle.js';
import { resolveStatic, safeSegments, type StaticRoot } from '../transport/static-files.js';

export const APP_SCHEME = 'app';
export const APP_HOST = 'shoebox';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const IMAGE_SCHEME = 'shoebox-img';

/** CSP for documents served over app:// (index.html repeats it in a meta tag). */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  `img-src 'self' blob: ${IMAGE_SCHEME}:`,
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * The renderer file an app:// URL names, or null. Only our host, only plain relative paths inside `rendererDir`
 * (the percent-encoded form is checked segment by segment, so encoded separators and dot-segments never pass).
 */
export function appFile(url: string, rendererDir: string): string | null {
  const parsed = parse(url);
  if (parsed?.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return null;
  // URL parsing already resolved literal "..": refuse anything that still is not a plain path.
  const segments = safeSegments(parsed.pathname);
  if (segments === null) return null;
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, ...segments);
  const rel = path.relative(root, file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? null : file;
}

/**
 * The file to serve for an app:// URL: as {@link appFile}, and then with symlinks resolved, so a link inside the
 * renderer folder cannot lead out of it (the same rule as browser mode's static files). Null for anything else.
 */
export async function servedAppFile(url: string, root: StaticRoot): Promise<string | null> {
  const parsed = parse(url);
  if (parsed?.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return null;
  return (await resolveStatic(root, parsed.pathname))?.file ?? null;
}

/** The image a shoebox-img:// URL asks for, or null when it is not exactly <thumb|preview>/<positive id>. */
export function imageRequest(url: string): { kind: ImageKind; photoId: number } | null {
  const parsed = parse(url);
  if (parsed?.protocol !== `${IMAGE_SCHEME}:` || parsed.search !== '' || parsed.hash !== '') return null;
  const kind = parsed.host;
  const match = /^\/([^/]+)$/.exec(parsed.pathname);
  const photoId = match ? parsePhotoId(match[1]) : null;
  if (!isImageKind(kind) || photoId === null) return null;
  return { kind, photoId };
}

/** Whether a navigation target stays inside the app (everything else is refused). */
export function isAppUrl(url: string): boolean {
  const parsed = parse(url);
  return parsed?.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
}
