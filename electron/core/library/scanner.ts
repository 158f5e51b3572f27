/**
 * The scanner: finds photos under the library roots and brings the index up to date, incrementally.
 *
 * - new and changed files (size/mtime, then content hash) are read once: hash + EXIF + thumbnail;
 * - unchanged files are skipped (a killed scan resumes without redoing finished files);
 * - a file that disappeared from one path and appeared at another with the same content keeps its identity
 *   (photo id, album, every user edit);
 * - vanished files are marked missing, not deleted, so nothing the person did is lost if they come back;
 * - every bad file becomes an error row with a code and a message, and the scan carries on.
 * Roots are only ever read.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { getSetting, setSetting, type Db } from '../db/database.js';
import { FileError, fileErrorFromFs } from '../errors.js';
import type { JobContext } from '../jobs.js';
import { readExif } from './exif.js';
import { HEIC_DECODER_MISSING, readHeifExif } from './heic.js';
import { makeThumbnail, probe, thumbFile } from './thumbs.js';
import { walkRoot, type FoundFile, type WalkProblem } from './walk.js';

export interface ScanSummary {
  roots: number;
  found: number;
  processed: number;
  unchanged: number;
  added: number;
  updated: number;
  moved: number;
  missing: number;
  errors: number;
  duplicates: number;
}

interface ExistingRow {
  id: number;
  rel_path: string;
  size: number;
  mtime_ms: number;
  hash: string | null;
  status: string;
  error_code: string | null;
  error_message: string | null;
}

type Outcome =
  | {
      kind: 'ok';
      rootId: number;
      file: FoundFile;
      hash: string;
      width: number;
      height: number;
      format: string;
      exif: Awaited<ReturnType<typeof readExif>>;
      thumbW: number;
      thumbH: number;
    }
  | { kind: 'error'; rootId: number; file: FoundFile; error: FileError };

export interface ScanOptions {
  cacheDir: string;
  /** Files processed at once; default: number of cores. */
  concurrency?: number;
  /** Observer called after the walk with the files about to be read (tests use it to change the disk mid-scan). */
  onWalked?: (files: { rootPath: string; relPath: string }[]) => void | Promise<void>;
}

/** Files larger than this are not read (a photo is read whole, to hash and decode it once). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** HEIC refused only because no HEVC decoder was there (older builds, or libheif-js missing): read again. */
function noHevcDecoder(message: string | null): boolean {
  return message !== null && (message.startsWith(HEIC_DECODER_MISSING) || message.startsWith('HEIC/HEIF photos encoded with HEVC cannot be decoded by this build'));
}

/** Process one file: read it once, hash, probe, EXIF, thumbnail. Never throws (errors become outcomes). */
async function processFile(rootPath: string, rootId: number, file: FoundFile, cacheDir: string): Promise<Outcome> {
  const abs = path.join(rootPath, ...file.relPath.split('/'));
  try {
    // Checked before reading, so a huge file never reaches memory.
    if (file.size > MAX_FILE_BYTES) {
      throw new FileError('TOO_LARGE', `file is ${(file.size / 2 ** 20).toFixed(0)} MiB, larger than ${MAX_FILE_BYTES / 2 ** 20} MiB; skipped to protect memory`);
    }
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(abs);
    } catch (e) {
      throw fileErrorFromFs(e, 'file');
    }
    if (buf.length === 0) throw new FileError('EMPTY_FILE', 'file is empty (0 bytes)');
    if (buf.length > MAX_FILE_BYTES) throw new FileError('TOO_LARGE', `file grew past ${MAX_FILE_BYTES / 2 ** 20} MiB while it was read; skipped`);
    const cur = { ...file, size: buf.length };
    const hash = createHash('sha256').update(buf).digest('hex');
    const info = await probe(buf);
    // HEIF: exifr misses some encoders' Exif items, and EXIF orientation must not rotate what irot already did.
    const exif = info.format === 'heif' ? await readHeifExif(buf) : await readExif(buf);
    const thumbPath = thumbFile(cacheDir, hash, 'thumb');
    let thumb: { width: number; height: number };
    const existing = await sharpSizeIfExists(thumbPath);
    if (existing) thumb = existing;
    else thumb = await makeThumbnail(buf, thumbPath);
    return {
      kind: 'ok',
      rootId,
      file: cur,
      hash,
      width: info.width,
      height: info.height,
      format: info.format,
      exif: { ...exif, orientation: exif.orientation ?? info.orientation },
      thumbW: thumb.width,
      thumbH: thumb.height,
    };
  } catch (e) {
    // HEIC errors come from heic.ts with libheif's reason ("HEIC variant not supported: ...", corrupt, too large).
    const error = e instanceof FileError ? e : new FileError('DECODE_FAILED', e instanceof Error ? e.message : String(e));
    return { kind: 'error', rootId, file, error };
  }
}

async function sharpSizeIfExists(file: string): Promise<{ width: number; height: number } | null> {
  try {
    const st = await fs.promises.stat(file);
    if (st.size === 0) return null;
  } catch {
    return null;
  }
  try {
    const m = await sharp(file).metadata();
    return m.width && m.height ? { width: m.width, height: m.height } : null;
  } catch {
    return null;
  }
}

/**
 * Grid thumbnails were WebP before they became JPEG: this scan re-makes any photo's missing JPEG thumbnail (the
 * file check below), so the old files are garbage. Removed once per library.
 */
function removeOldWebpThumbnails(db: Db, cacheDir: string): void {
  if (getSetting(db, 'thumbnailsJpeg', false)) return;
  const dir = path.join(cacheDir, 'thumbs');
  try {
    for (const sub of fs.readdirSync(dir)) {
      const d = path.join(dir, sub);
      try {
        for (const f of fs.readdirSync(d)) if (f.endsWith('.webp')) fs.rmSync(path.join(d, f), { force: true });
      } catch {
        // not a folder, or vanished: nothing to clean
      }
    }
  } catch {
    // no thumbnails yet
  }
  setSetting(db, 'thumbnailsJpeg', true);
}

interface Root {
  id: number;
  path: string;
}

type Work = { rootId: number; rootPath: string; file: FoundFile }[];

/** Bring the index up to date for every root. `ctx` reports progress and carries the cancel signal. */
export async function scanLibrary(db: Db, opts: ScanOptions, ctx: JobContext): Promise<ScanSummary> {
  const roots = db.prepare('SELECT id, path FROM roots ORDER BY id').all() as Root[];
  const summary: ScanSummary = {
    roots: roots.length,
    found: 0,
    processed: 0,
    unchanged: 0,
    added: 0,
    updated: 0,
    moved: 0,
    missing: 0,
    errors: 0,
    duplicates: 0,
  };
  ctx.stage('scan', 0, 'Looking for photos');
  removeOldWebpThumbnails(db, opts.cacheDir);
  const { work, seen } = await walkRoots(db, roots, opts, summary, ctx);
  const vanished = vanishedPhotos(db, roots, seen);
  await opts.onWalked?.(work.map((w) => ({ rootPath: w.rootPath, relPath: w.file.relPath })));
  const movedIds = await readFiles(db, work, vanished.byHash, opts, summary, ctx);
  ctx.signal.throwIfAborted();
  markMissing(db, roots, vanished.ids, movedIds, summary);
  summary.duplicates = (
    db
      .prepare(
        `SELECT COUNT(*) AS n FROM (SELECT hash FROM photos WHERE status = 'ok' AND hash IS NOT NULL GROUP BY hash HAVING COUNT(*) > 1)`,
      )
      .get() as { n: number }
  ).n;
  ctx.progress(summary.processed, work.length, { message: scanMessage(summary) });
  ctx.flush();
  return summary;
}

/** Phase 1: walk every root and keep what needs reading (new, changed, or missing its thumbnail); a stat per file. */
async function walkRoots(db: Db, roots: Root[], opts: ScanOptions, summary: ScanSummary, ctx: JobContext): Promise<{ work: Work; seen: Map<number, Set<string>> }> {
  const work: Work = [];
  const seen = new Map<number, Set<string>>();
  for (const root of roots) {
    let found: FoundFile[];
    let problems: WalkProblem[];
    try {
      const res = await walkRoot(root.path, ctx.signal);
      found = res.files;
      problems = res.problems;
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new FileError(
        'NOT_FOUND',
        code === 'ENOTDIR' ? `library folder ${root.path} is not a folder` : `library folder ${root.path} cannot be opened (${code ?? String(e)})`,
      );
    }
    if (problems.some((p) => p.relPath === '.')) {
      throw new FileError('UNREADABLE', `library folder ${root.path} cannot be read (${problems.find((p) => p.relPath === '.')!.message})`);
    }
    summary.found += found.length;
    const rows = db.prepare('SELECT id, rel_path, size, mtime_ms, hash, status, error_code, error_message FROM photos WHERE root_id = ?').all(root.id) as ExistingRow[];
    const byPath = new Map(rows.map((r) => [r.rel_path, r]));
    const seenHere = new Set<string>();
    // An unreadable folder or file is an error with its reason; what was known inside a folder that cannot be
    // read now is left as it was (it is out of reach, not gone).
    for (const p of problems) {
      recordWalkProblem(db, root.id, p.relPath, p.code, p.message);
      summary.errors++;
      seenHere.add(p.relPath);
      if (p.kind === 'folder') for (const r of rows) if (r.rel_path.startsWith(`${p.relPath}/`)) seenHere.add(r.rel_path);
    }
    for (const f of found) {
      seenHere.add(f.relPath);
      const row = byPath.get(f.relPath);
      const same = row && row.size === f.size && row.mtime_ms === f.mtimeMs;
      // A file that could not be opened is tried again (permissions change without touching mtime); one that
      // could not be decoded is not, until it changes.
      const finished =
        row && (row.status === 'ok' || (row.status === 'error' && row.error_code !== 'UNREADABLE') || (row.status === 'unsupported' && !noHevcDecoder(row.error_message)));
      if (same && finished && (row.status !== 'ok' || (row.hash && fs.existsSync(thumbFile(opts.cacheDir, row.hash, 'thumb'))))) {
        summary.unchanged++;
        continue;
      }
      work.push({ rootId: root.id, rootPath: root.path, file: f });
    }
    seen.set(root.id, seenHere);
    // Errors about paths that are gone now (a folder readable again, a vanished unreadable file) are dropped, not
    // kept as missing photos: they never had content in the library.
    const drop = db.prepare('DELETE FROM photos WHERE id = ?');
    for (const r of rows) if (r.status === 'error' && r.hash === null && !seenHere.has(r.rel_path)) drop.run(r.id);
  }
  return { work, seen };
}

/**
 * Phase 2: rows whose file is gone from its path. They are candidates for move detection (the same content found
 * elsewhere keeps its photo), and become missing at the end; rows missing since earlier scans can be found again.
 */
function vanishedPhotos(db: Db, roots: Root[], seen: Map<number, Set<string>>): { byHash: Map<string, number[]>; ids: number[] } {
  const byHash = new Map<string, number[]>();
  const ids: number[] = [];
  for (const root of roots) {
    const seenHere = seen.get(root.id) ?? new Set<string>();
    const rows = db.prepare(`SELECT id, rel_path, hash, status FROM photos WHERE root_id = ? AND status != 'missing'`).all(root.id) as ExistingRow[];
    for (const r of rows) {
      if (seenHere.has(r.rel_path)) continue;
      ids.push(r.id);
      if (r.hash) byHash.set(r.hash, [...(byHash.get(r.hash) ?? []), r.id]);
    }
  }
  for (const r of db.prepare(`SELECT id, hash FROM photos WHERE status = 'missing' AND hash IS NOT NULL`).all() as { id: number; hash: string }[]) {
    byHash.set(r.hash, [...(byHash.get(r.hash) ?? []), r.id]);
  }
  return { byHash, ids };
}

/**
 * When a photo was taken: EXIF's time (with its offset when recorded), else the file's modification time, marked
 * 'file'. `takenLocal` is the clock the photographer saw, read as UTC; for a file time that is this machine's zone.
 */
export function takenFields(exif: { takenAt: number | null; tz: string | null }, mtimeMs: number): {
  takenAt: number | null;
  tz: string | null;
  takenLocal: number | null;
  takenSource: 'exif' | 'file' | null;
} {
  if (exif.takenAt !== null) {
    const o = exif.tz ? /^([+-])(\d{2}):(\d{2})$/.exec(exif.tz) : null;
    const offsetMin = o ? (Number(o[2]) * 60 + Number(o[3])) * (o[1] === '-' ? -1 : 1) : 0;
    return { takenAt: exif.takenAt, tz: exif.tz, takenLocal: exif.takenAt + offsetMin * 60_000, takenSource: 'exif' };
  }
  if (!(mtimeMs > 0)) return { takenAt: null, tz: null, takenLocal: null, takenSource: null };
  const local = mtimeMs - new Date(mtimeMs).getTimezoneOffset() * 60_000;
  return { takenAt: local, tz: null, takenLocal: local, takenSource: 'file' };
}

/** Phase 3: read new and changed files in parallel and write the results in small transactions; returns the moved ids. */
async function readFiles(db: Db, work: Work, vanished: Map<string, number[]>, opts: ScanOptions, summary: ScanSummary, ctx: JobContext): Promise<Set<number>> {
  ctx.stage('scan', work.length, `Reading ${work.length} new or changed photos`);
  const upsert = db.prepare(`
    INSERT INTO photos(root_id, rel_path, size, mtime_ms, hash, width, height, format, taken_at, tz, taken_local,
                       taken_source, camera, lat, lon, orientation, status, error_code, error_message, scanned_at)
    VALUES (@rootId, @relPath, @size, @mtime, @hash, @width, @height, @format, @takenAt, @tz, @takenLocal,
            @takenSource, @camera, @lat, @lon, @orientation, @status, @errorCode, @errorMessage, @now)
    ON CONFLICT(root_id, rel_path) DO UPDATE SET
      size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, width = excluded.width,
      height = excluded.height, format = excluded.format, taken_at = excluded.taken_at, tz = excluded.tz,
      taken_local = excluded.taken_local, taken_source = excluded.taken_source, camera = excluded.camera, lat = excluded.lat, lon = excluded.lon, orientation = excluded.orientation,
      status = excluded.status, error_code = excluded.error_code, error_message = excluded.error_message,
      scanned_at = excluded.scanned_at, city = NULL, region = NULL, country = NULL, place_key = NULL
    RETURNING id`);
  const moveRow = db.prepare(`
    UPDATE photos SET root_id = @rootId, rel_path = @relPath, size = @size, mtime_ms = @mtime, width = @width,
      height = @height, format = @format, taken_at = @takenAt, tz = @tz, taken_local = @takenLocal,
      taken_source = @takenSource, camera = @camera, lat = @lat, lon = @lon, orientation = @orientation, city = NULL, region = NULL, country = NULL, place_key = NULL, status = 'ok', error_code = NULL, error_message = NULL, scanned_at = @now
    WHERE id = @id`);
  const existsAt = db.prepare('SELECT id FROM photos WHERE root_id = ? AND rel_path = ?');
  const putThumb = db.prepare(`
    INSERT INTO thumbnails(photo_id, kind, file, width, height, hash) VALUES (?, 'thumb', ?, ?, ?, ?)
    ON CONFLICT(photo_id, kind) DO UPDATE SET file = excluded.file, width = excluded.width, height = excluded.height,
      hash = excluded.hash`);

  const movedIds = new Set<number>();
  const writeBatch = (batch: Outcome[]): void => {
    const now = Date.now();
    db.transaction(() => {
      for (const o of batch) {
        const base = { rootId: o.rootId, relPath: o.file.relPath, size: o.file.size, mtime: o.file.mtimeMs, now };
        if (o.kind === 'error') {
          upsert.get({
            ...base,
            hash: null,
            width: null,
            height: null,
            format: null,
            takenAt: null,
            tz: null,
            takenLocal: null,
            takenSource: null,
            camera: null,
            lat: null,
            lon: null,
            orientation: null,
            status: o.error.code === 'UNSUPPORTED' ? 'unsupported' : 'error',
            errorCode: o.error.code,
            errorMessage: o.error.message,
          });
          summary.errors++;
          continue;
        }
        const fields = {
          ...base,
          hash: o.hash,
          width: o.width,
          height: o.height,
          format: o.format,
          ...takenFields(o.exif, o.file.mtimeMs),
          camera: o.exif.camera,
          lat: o.exif.lat,
          lon: o.exif.lon,
          orientation: o.exif.orientation,
        };
        let id: number;
        const here = existsAt.get(o.rootId, o.file.relPath) as { id: number } | undefined;
        const candidates = (vanished.get(o.hash) ?? []).filter((cid) => !movedIds.has(cid));
        if (!here && candidates.length > 0) {
          // Same content reappeared at a new path: keep the photo's identity.
          id = candidates[0];
          movedIds.add(id);
          moveRow.run({ ...fields, id });
          summary.moved++;
        } else {
          const row = upsert.get({ ...fields, status: 'ok', errorCode: null, errorMessage: null }) as { id: number };
          id = row.id;
          if (here) summary.updated++;
          else summary.added++;
        }
        putThumb.run(id, thumbFile('', o.hash, 'thumb'), o.thumbW, o.thumbH, o.hash);
      }
    })();
  };

  // Two files per core: while one file's JS-side work (hash, EXIF, index) runs, another decodes on the pool.
  const concurrency = Math.max(1, opts.concurrency ?? 2 * os.availableParallelism());
  let next = 0;
  let pending: Outcome[] = [];
  let lastWrite = Date.now();
  const flush = (): void => {
    if (pending.length === 0) return;
    writeBatch(pending);
    pending = [];
    lastWrite = Date.now();
  };
  const worker = async (): Promise<void> => {
    while (next < work.length) {
      if (ctx.signal.aborted) return;
      const item = work[next++];
      const outcome = await processFile(item.rootPath, item.rootId, item.file, opts.cacheDir);
      pending.push(outcome);
      summary.processed++;
      if (pending.length >= 64 || Date.now() - lastWrite > 500) flush();
      ctx.progress(summary.processed);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, work.length)) }, () => worker()));
  } finally {
    flush(); // whatever finished is kept, also on cancel
  }
  return movedIds;
}

/** Phase 4: whatever vanished and was not found elsewhere is missing now (never deleted: it may come back). */
function markMissing(db: Db, roots: Root[], vanishedIds: number[], movedIds: Set<number>, summary: ScanSummary): void {
  const mark = db.prepare(`UPDATE photos SET status = 'missing', scanned_at = ? WHERE id = ?`);
  db.transaction(() => {
    const now = Date.now();
    for (const id of vanishedIds) {
      if (movedIds.has(id)) continue;
      mark.run(now, id);
      summary.missing++;
    }
    for (const root of roots) db.prepare('UPDATE roots SET last_scan_at = ? WHERE id = ?').run(now, root.id);
  })();
}

function recordWalkProblem(db: Db, rootId: number, relPath: string, code: string, message: string): void {
  if (relPath === '.') return;
  db.prepare(
    `INSERT INTO photos(root_id, rel_path, status, error_code, error_message, scanned_at) VALUES (?, ?, 'error', ?, ?, ?)
     ON CONFLICT(root_id, rel_path) DO UPDATE SET status = 'error', error_code = excluded.error_code,
       error_message = excluded.error_message, scanned_at = excluded.scanned_at`,
  ).run(rootId, relPath, code, message, Date.now());
}

export function scanMessage(s: ScanSummary): string {
  const parts = [`${s.found} photos found`, `${s.processed} read`];
  if (s.moved) parts.push(`${s.moved} moved`);
  if (s.missing) parts.push(`${s.missing} missing`);
  if (s.errors) parts.push(`${s.errors} could not be read`);
  if (s.duplicates) parts.push(`${s.duplicates} duplicate groups`);
  return parts.join(', ');
}
