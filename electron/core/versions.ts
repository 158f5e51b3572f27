/**
 * Disk use of a library folder stays bounded: fine-tuned encoder versions beyond the active one and the one before
 * it are deleted (folder, registry row, stored vectors), files a killed process left behind are removed at start,
 * and `libraryUsage` reports what the folder holds.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './db/database.js';
import * as embeddings from './embeddings.js';
import type { Library } from './library.js';
import { isInside } from './paths.js';

interface ModelRow {
  key: string;
  id: string;
  dir: string;
  parent: string | null;
  created_at: number;
  active: number;
}

function rootOf(db: Db, key: string): string {
  let cur = key;
  for (let i = 0; i < 100; i++) {
    const r = db.prepare('SELECT parent FROM models WHERE key = ?').get(cur) as { parent: string | null } | undefined;
    if (!r?.parent) return cur;
    cur = r.parent;
  }
  return cur;
}

/**
 * Delete fine-tuned versions nobody needs: kept are the active version, the newest other version of the active
 * backbone (the one to roll back to), and the newest version of each other backbone (switching back to it needs no
 * retraining). Returns the keys deleted.
 */
export function pruneVersions(lib: Library): string[] {
  const db = lib.db;
  const tuned = db.prepare(`SELECT key, id, dir, parent, created_at, active FROM models WHERE parent IS NOT NULL ORDER BY created_at DESC, key DESC`).all() as ModelRow[];
  if (tuned.length === 0) return [];
  const active = db.prepare(`SELECT key FROM models WHERE active = 1 LIMIT 1`).get() as { key: string } | undefined;
  const activeRoot = active ? rootOf(db, active.key) : null;
  const keep = new Set<string>();
  if (active) keep.add(active.key);
  const newestOf = new Map<string, string>();
  for (const m of tuned) {
    const root = rootOf(db, m.key);
    if (root === activeRoot && m.key !== active?.key && !newestOf.has(`rollback:${root}`)) newestOf.set(`rollback:${root}`, m.key);
    if (root !== activeRoot && !newestOf.has(root)) newestOf.set(root, m.key);
  }
  for (const k of newestOf.values()) keep.add(k);
  const deleted: string[] = [];
  for (const m of tuned) {
    if (keep.has(m.key)) continue;
    db.transaction(() => {
      embeddings.deleteModel(db, m.key);
      // Versions fine-tuned from this one (none today) would lose their parent: re-point them at its parent.
      db.prepare('UPDATE models SET parent = ? WHERE parent = ?').run(m.parent, m.key);
      db.prepare('DELETE FROM models WHERE key = ?').run(m.key);
    })();
    if (isInside(lib.layout.models, m.dir) && path.resolve(m.dir) !== path.resolve(lib.layout.models)) fs.rmSync(m.dir, { recursive: true, force: true });
    deleted.push(m.key);
  }
  return deleted;
}

/**
 * Remove what an interrupted process left behind: temporary files of atomic writes, checkpoints of runs that are
 * not running any more, and model folders no registry row names. Call only while holding the library lock.
 */
export function cleanStaleFiles(lib: Library): string[] {
  const removed: string[] = [];
  const rm = (p: string): void => {
    try {
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // unreadable or vanished: leave it
    }
  };
  const running = new Set(
    (lib.db.prepare(`SELECT id FROM training_runs WHERE status IN ('running', 'cancelled')`).all() as { id: number }[]).map((r) => `run-${r.id}.ckpt`),
  );
  for (const f of safeList(lib.layout.training)) {
    if (f.endsWith('.tmp') || (/^run-\d+\.ckpt$/.test(f) && !running.has(f))) rm(path.join(lib.layout.training, f));
  }
  const dirs = new Set((lib.db.prepare('SELECT dir FROM models').all() as { dir: string }[]).map((r) => path.resolve(r.dir)));
  for (const f of safeList(lib.layout.models)) {
    const p = path.join(lib.layout.models, f);
    if (f.endsWith('.tmp')) rm(p);
    else if (isDir(p) && !dirs.has(path.resolve(p))) rm(p);
    else if (isDir(p)) for (const g of safeList(p)) if (g.endsWith('.tmp')) rm(path.join(p, g));
  }
  return removed;
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Bytes and files under a folder (symlinks are not followed). */
export function folderSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          bytes += fs.statSync(p).size;
          files++;
        } catch {
          // vanished
        }
      }
    }
  }
  return { bytes, files };
}

export interface LibraryUsage {
  total: number;
  parts: { name: string; what: string; bytes: number; files: number }[];
  /** Stored vectors per key, largest first. */
  vectors: { key: string; rows: number; bytes: number }[];
  versions: { key: string; active: boolean; bytes: number }[];
}

/** What the library folder holds and how big each part is. */
export function libraryUsage(lib: Library): LibraryUsage {
  const dir = lib.libraryDir;
  const db = ['library.db', 'library.db-wal', 'library.db-shm'].reduce(
    (a, f) => {
      try {
        return { bytes: a.bytes + fs.statSync(path.join(dir, f)).size, files: a.files + 1 };
      } catch {
        return a;
      }
    },
    { bytes: 0, files: 0 },
  );
  const thumbs = folderSize(path.join(lib.layout.cache, 'thumbs'));
  const previews = folderSize(path.join(lib.layout.cache, 'previews'));
  const models = folderSize(lib.layout.models);
  const training = folderSize(lib.layout.training);
  const parts = [
    { name: 'library.db', what: 'index, albums, edits, settings and stored vectors', ...db },
    { name: 'cache/thumbs', what: 'grid thumbnails', ...thumbs },
    { name: 'cache/previews', what: 'large previews (made when a photo is opened)', ...previews },
    { name: 'models', what: 'fine-tuned encoder versions', ...models },
    { name: 'training', what: 'training state and checkpoints', ...training },
  ];
  const vectors = (
    lib.db.prepare(`SELECT model_key AS key, COUNT(*) AS rows, SUM(LENGTH(vector)) AS bytes FROM embeddings GROUP BY model_key ORDER BY bytes DESC`).all() as {
      key: string;
      rows: number;
      bytes: number;
    }[]
  ).map((v) => ({ ...v, bytes: v.bytes ?? 0 }));
  const versions = (lib.db.prepare(`SELECT key, dir, active FROM models WHERE parent IS NOT NULL ORDER BY created_at`).all() as { key: string; dir: string; active: number }[]).map(
    (m) => ({ key: m.key, active: m.active === 1, bytes: isInside(lib.layout.models, m.dir) ? folderSize(m.dir).bytes : 0 }),
  );
  return { total: parts.reduce((a, p) => a + p.bytes, 0), parts, vectors, versions };
}
