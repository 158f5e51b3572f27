/**
 * The library database: one SQLite file per library folder, WAL mode, foreign keys on, versioned migrations
 * applied at open. All writes go through transactions. This module is synchronous (better-sqlite3); the core runs
 * it in a worker thread (see ../service.ts) so it never blocks the UI or the Electron main process.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export const DB_FILE = 'library.db';

export interface OpenOptions {
  /** Open read-only (e.g. for a second reader); migrations are not applied. */
  readonly?: boolean;
}

/** Open (creating if needed) the library database in `libraryDir` and bring its schema up to date. */
export function openDatabase(libraryDir: string, opts: OpenOptions = {}): Db {
  fs.mkdirSync(libraryDir, { recursive: true });
  const file = path.join(libraryDir, DB_FILE);
  const db = new Database(file, { readonly: opts.readonly ?? false });
  if (!opts.readonly) db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    try {
      migrate(db);
      // Planner statistics (refreshed only when stale): without them SQLite walks photos_status, which every photo
      // shares, inside per-photo subqueries, and album pages turn quadratic in the library size.
      db.pragma('optimize = 0x10002');
    } catch (e) {
      db.close();
      throw e;
    }
  }
  return db;
}

/** Apply every migration newer than the database's user_version, each in its own transaction. */
export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `library database schema v${current} is newer than this Shoebox (v${MIGRATIONS.length}); update Shoebox`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const step = MIGRATIONS[v];
    db.transaction(() => {
      db.exec(step);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}

/** SQLite's integrity check plus foreign-key check; returns a list of problems (empty when healthy). */
export function integrityCheck(db: Db): string[] {
  const problems: string[] = [];
  const rows = db.pragma('integrity_check') as { integrity_check: string }[];
  for (const r of rows) if (r.integrity_check !== 'ok') problems.push(r.integrity_check);
  const fk = db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
  for (const r of fk) problems.push(`foreign key violation: ${r.table} row ${r.rowid} -> ${r.parent}`);
  return problems;
}

/** Run `fn` in an IMMEDIATE transaction (takes the write lock up front). */
export function tx<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

export function getSetting<T>(db: Db, key: string, fallback: T): T {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
  if (!row) return fallback;
  try {
    return JSON.parse(row.value) as T;
  } catch {
    return fallback;
  }
}

export function setSetting(db: Db, key: string, value: unknown): void {
  db.prepare('INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(
    key,
    JSON.stringify(value),
  );
}
