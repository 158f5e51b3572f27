/**
 * Resolving request paths to files of the built renderer without ever leaving its directory.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
};

export function mimeType(file: string): string {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Turns a URL pathname into path segments, or null when it is not a plain relative path: every segment is
 * percent-decoded once and must then be a normal file name (no '', '.', '..', separators, NUL or drive letters).
 * `/` maps to `index.html`. Encoded separators (`%2f`, `%5c`) therefore never survive.
 */
export function safeSegments(pathname: string): string[] | null {
  if (!pathname.startsWith('/')) return null;
  if (pathname === '/') return ['index.html'];
  const segments: string[] = [];
  for (const raw of pathname.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' || segment === '.' || segment === '..') return null;
    if (/[/\\\0:]/.test(segment)) return null;
    segments.push(segment);
  }
  return segments;
}

export interface StaticRoot {
  /** Real (symlink-resolved) absolute path of the served directory. */
  dir: string;
}

export async function openStaticRoot(dir: string): Promise<StaticRoot> {
  return { dir: await realpath(path.resolve(dir)) };
}

function inside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The regular file a pathname names inside the root, or null (directories are never listed). */
export async function resolveStatic(root: StaticRoot, pathname: string): Promise<{ file: string; size: number; mtimeMs: number } | null> {
  const segments = safeSegments(pathname);
  if (segments === null) return null;
  const candidate = path.resolve(root.dir, ...segments);
  if (!inside(root.dir, candidate)) return null;
  try {
    // Resolve symlinks too: a link inside the root must not lead out of it.
    const real = await realpath(candidate);
    if (!inside(root.dir, real)) return null;
    const info = await stat(real);
    return info.isFile() ? { file: real, size: info.size, mtimeMs: info.mtimeMs } : null;
  } catch {
    return null;
  }
}
