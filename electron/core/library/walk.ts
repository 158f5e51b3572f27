/**
 * Recursive, read-only walk of a library root that finds photo files.
 * Skips hidden and system folders, follows directory symlinks at most once per real directory (no loops),
 * and reports unreadable folders instead of failing.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PHOTO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.png', '.webp', '.avif', '.gif', '.tif', '.tiff', '.heic', '.heif',
]);

/** Folder names that belong to operating systems, NAS boxes or apps rather than to the person. */
const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '$recycle.bin', 'system volume information', 'lost+found', '@eadir', '#recycle', 'node_modules',
  '.trashes', '.spotlight-v100', '.fseventsd', '.thumbnails', '__macosx',
]);

export interface FoundFile {
  /** Path relative to the root, with '/' separators. */
  relPath: string;
  size: number;
  mtimeMs: number;
}

export interface WalkProblem {
  relPath: string;
  kind: 'folder' | 'file';
  code: 'UNREADABLE' | 'NOT_FOUND';
  message: string;
}

export interface WalkResult {
  files: FoundFile[];
  problems: WalkProblem[];
}

export function isPhotoName(name: string): boolean {
  return PHOTO_EXTENSIONS.has(path.extname(name).toLowerCase());
}

function skipDir(name: string): boolean {
  return name.startsWith('.') || SYSTEM_DIRS.has(name.toLowerCase());
}

/** Walk `root` and return every photo file under it. Throws only if the root itself is unusable. */
export async function walkRoot(root: string, signal?: AbortSignal): Promise<WalkResult> {
  const rootStat = await fs.promises.stat(root); // throws ENOENT / ENOTDIR for the caller to report
  if (!rootStat.isDirectory()) {
    const e = new Error(`${root} is not a directory`) as NodeJS.ErrnoException;
    e.code = 'ENOTDIR';
    throw e;
  }
  const files: FoundFile[] = [];
  const problems: WalkProblem[] = [];
  const seen = new Set<string>([`${rootStat.dev}:${rootStat.ino}`]);
  const stack: string[] = [''];
  while (stack.length > 0) {
    signal?.throwIfAborted();
    const rel = stack.pop()!;
    const abs = rel ? path.join(root, rel) : root;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(abs, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        relPath: rel || '.',
        kind: 'folder',
        code: code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE',
        message: code === 'ENOENT' ? 'folder vanished during the scan' : `folder cannot be read (${code ?? 'error'})`,
      });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      const childRel = rel ? `${rel}/${ent.name}` : ent.name;
      const childAbs = path.join(abs, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        try {
          const st = await fs.promises.stat(childAbs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue; // dangling link: nothing to index
        }
      }
      if (isDir) {
        if (skipDir(ent.name)) continue;
        try {
          const st = await fs.promises.stat(childAbs);
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue; // symlink loop or second link to the same folder
          seen.add(key);
        } catch {
          continue;
        }
        stack.push(childRel);
      } else if (isFile && !ent.name.startsWith('.') && isPhotoName(ent.name)) {
        try {
          const st = await fs.promises.stat(childAbs);
          files.push({ relPath: childRel, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          problems.push({
            relPath: childRel,
            kind: 'file',
            code: code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE',
            message: code === 'ENOENT' ? 'file vanished during the scan' : `file cannot be read (${code ?? 'error'})`,
          });
        }
      }
    }
  }
  return { files, problems };
}
