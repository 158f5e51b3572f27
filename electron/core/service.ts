/**
 * The core service: implements the API contract over the library database, runs jobs, and emits events.
 * Plain Node: no Electron. `openCore({inWorker: true})` runs it in a worker thread (see service-worker.ts) so
 * SQLite and job bookkeeping never block the Electron main process or the browser-mode server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  ApiArgs,
  ApiEvent,
  ApiMethod,
  ApiResult,
  ApiValue,
  JobInfo,
  LibraryStatus,
  PhotoDetails,
  RootInfo,
  Settings,
} from './api/contract.js';
import { validateCall } from './api/validate.js';
import * as albums from './albums/store.js';
import { getSetting, openDatabase, setSetting, type Db } from './db/database.js';
import { ShoeboxError, toApiError } from './errors.js';
import { JobManager } from './jobs.js';
import { makePreview, makeThumbnail, thumbFile } from './library/thumbs.js';
import { isInside, libraryLayout } from './paths.js';
import { backboneModel, DEFAULT_MODEL_ID, listEncoders } from './models.js';
import { runOrganize, type OrganizeOptions, type OrganizeReport } from './pipeline.js';

export interface CoreHandle {
  /** Validates args at the boundary; never throws; errors come back as {ok:false,error}. */
  call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>>;
  subscribe(listener: (e: ApiEvent) => void): () => void;
  /** Absolute path of a cached thumbnail/preview of a known photo (inside the library cache), or null. */
  imagePath(photoId: number, kind: 'thumb' | 'preview'): Promise<string | null>;
  close(): Promise<void>;
}

export interface CoreOptions {
  libraryDir: string;
  roots: string[];
  /** Run the core in a worker thread (Electron main process, browser-mode server). */
  inWorker?: boolean;
  /** Execution provider override; default from settings ('auto'). */
  device?: string;
  /** Start organizing in the background when the library has never been organized. */
  autoOrganize?: boolean;
}

/**
 * Training epochs per organize. 120 rather than the 80 used through the fifth session: at batch 64 the full pipeline
 * (3 seeds) went on intel-scenes from 0.783 to 0.801 true-K ACC and 0.707 to 0.747 for the albums, on CIFAR-10 (2,000)
 * from 0.311 to 0.34-0.38 for the albums and 0.527 to 0.545 kNN-20 (true-K k-means within its noise), for a train
 * stage of 242-320 s instead of 200-285 s (docs/results.md, "Epochs").
 */
export const DEFAULT_EPOCHS = 120;
export const DEFAULT_SETTINGS: Settings = { device: 'auto', albums: 'auto', train: true, epochs: DEFAULT_EPOCHS, method: 'propos', encoder: DEFAULT_MODEL_ID };

export class LibraryService implements CoreHandle {
  readonly db: Db;
  readonly layout: ReturnType<typeof libraryLayout>;
  readonly jobs: JobManager;
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private organizing: { id: string; done: Promise<JobInfo> } | null = null;
  private lastReport: OrganizeReport | null = null;

  constructor(readonly libraryDir: string) {
    this.layout = libraryLayout(libraryDir);
    this.db = openDatabase(libraryDir);
    fs.mkdirSync(this.layout.cache, { recursive: true });
    this.jobs = new JobManager(this.db, (e) => this.emit(e));
    albums.unsortedAlbumId(this.db);
  }

  emit(e: ApiEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must not break the core
      }
    }
  }

  subscribe(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  settings(): Settings {
    return { ...DEFAULT_SETTINGS, ...getSetting<Partial<Settings>>(this.db, 'settings', {}) };
  }

  /** Register a folder as a library root (idempotent). Throws ShoeboxError for a path that is not a folder. */
  addRoot(p: string): RootInfo {
    const abs = path.resolve(p);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new ShoeboxError('NOT_FOUND', `Folder ${abs} does not exist`);
    }
    if (!st.isDirectory()) throw new ShoeboxError('INVALID_INPUT', `${abs} is not a folder`);
    const real = fs.realpathSync(abs);
    this.db.prepare('INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)').run(real, Date.now());
    this.emit({ type: 'library-changed', what: ['roots'] });
    return this.roots().find((r) => r.path === real)!;
  }

  roots(): RootInfo[] {
    return (
      this.db
        .prepare(
          `SELECT r.id, r.path, r.last_scan_at AS lastScanAt,
             (SELECT COUNT(*) FROM photos p WHERE p.root_id = r.id AND p.status = 'ok') AS photoCount,
             (SELECT COUNT(*) FROM photos p WHERE p.root_id = r.id AND p.status IN ('error', 'unsupported')) AS errorCount
           FROM roots r ORDER BY r.id`,
        )
        .all() as RootInfo[]
    );
  }

  isOrganized(): boolean {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE kind = 'organize' AND state = 'done'`).get() as { n: number }).n > 0;
  }

  /** Start (or join) an organize job. */
  organize(opts: Partial<OrganizeOptions> = {}): { id: string; done: Promise<JobInfo> } {
    if (this.organizing) return this.organizing;
    const s = this.settings();
    const full: OrganizeOptions = {
      train: opts.train ?? s.train,
      epochs: opts.epochs ?? s.epochs,
      method: opts.method ?? s.method,
      albums: opts.albums ?? s.albums,
      device: opts.device ?? s.device,
      seed: opts.seed ?? 1,
      encoder: opts.encoder ?? s.encoder,
      mode: opts.mode ?? 'auto',
    };
    const job = this.jobs.start('organize', full, async (ctx) => {
      const report = await runOrganize(this, full, ctx);
      this.lastReport = report;
      this.emit({ type: 'library-changed', what: ['albums', 'photos'] });
      return report.message;
    });
    this.organizing = job;
    void job.done.finally(() => {
      if (this.organizing?.id === job.id) this.organizing = null;
    });
    return job;
  }

  get report(): OrganizeReport | null {
    return this.lastReport;
  }

  status(): LibraryStatus {
    const roots = this.roots();
    const active = this.db.prepare(`SELECT id, version FROM models WHERE active = 1 LIMIT 1`).get() as
      | { id: string; version: string }
      | undefined;
    return {
      roots,
      photoCount: roots.reduce((a, r) => a + r.photoCount, 0),
      errorCount: roots.reduce((a, r) => a + r.errorCount, 0),
      organized: this.isOrganized(),
      model: active ?? null,
      device: getSetting<string | null>(this.db, 'lastDevice', null),
      edits: albums.editState(this.db),
      jobs: this.jobs.list(),
    };
  }

  photoDetails(photoId: number): PhotoDetails {
    const r = this.db
      .prepare(
        `SELECT p.*, r.path AS root_path, m.album_id, m.pinned FROM photos p JOIN roots r ON r.id = p.root_id
           LEFT JOIN album_members m ON m.photo_id = p.id WHERE p.id = ?`,
      )
      .get(photoId) as
      | {
          id: number;
          rel_path: string;
          root_path: string;
          size: number;
          width: number | null;
          height: number | null;
          format: string | null;
          taken_at: number | null;
          tz: string | null;
          camera: string | null;
          lat: number | null;
          lon: number | null;
          orientation: number | null;
          album_id: number | null;
          pinned: number | null;
          status: PhotoDetails['status'] | 'pending';
          error_code: string | null;
          error_message: string | null;
          hash: string | null;
        }
      | undefined;
    if (!r) throw new ShoeboxError('NOT_FOUND', `Photo ${photoId} does not exist`);
    const dups = r.hash
      ? (this.db.prepare(`SELECT id FROM photos WHERE hash = ? AND id != ? AND status = 'ok'`).all(r.hash, r.id) as { id: number }[]).map(
          (d) => d.id,
        )
      : [];
    return {
      id: r.id,
      name: r.rel_path.slice(r.rel_path.lastIndexOf('/') + 1),
      relPath: r.rel_path,
      rootPath: r.root_path,
      size: r.size,
      width: r.width,
      height: r.height,
      format: r.format,
      takenAt: r.taken_at,
      timezone: r.tz,
      camera: r.camera,
      gps: r.lat !== null && r.lon !== null ? { lat: r.lat, lon: r.lon } : null,
      orientation: r.orientation,
      albumId: r.album_id,
      pinned: r.pinned === 1,
      status: r.status === 'pending' ? 'error' : r.status,
      error: r.error_code ? { code: 'INVALID_INPUT', message: `${r.error_code}: ${r.error_message ?? ''}` } : null,
      duplicates: dups,
    };
  }

  private dispatch(method: ApiMethod, a: ApiArgs<ApiMethod>): unknown {
    const db = this.db;
    const changed = (what: ('albums' | 'photos' | 'roots' | 'settings')[]): void => this.emit({ type: 'library-changed', what });
    switch (method) {
      case 'getStatus':
        return this.status();
      case 'listRoots':
        return this.roots();
      case 'addRoot':
        return this.addRoot((a as ApiArgs<'addRoot'>).path);
      case 'listErrors': {
        const { offset, limit } = a as ApiArgs<'listErrors'>;
        const total = (db.prepare(`SELECT COUNT(*) AS n FROM photos WHERE status IN ('error', 'unsupported')`).get() as { n: number }).n;
        const rows = db
          .prepare(
            `SELECT r.path || '/' || p.rel_path AS path, p.error_code AS code, p.error_message AS message FROM photos p
               JOIN roots r ON r.id = p.root_id WHERE p.status IN ('error', 'unsupported') ORDER BY p.id LIMIT ? OFFSET ?`,
          )
          .all(limit, offset);
        return { total, rows };
      }
      case 'listJobs':
        return this.jobs.list();
      case 'organize': {
        const o = a as ApiArgs<'organize'>;
        return { jobId: this.organize({ train: o.train }).id };
      }
      case 'cancelJob':
        return { cancelled: this.jobs.cancel((a as ApiArgs<'cancelJob'>).jobId) };
      case 'listAlbums':
        return albums.listAlbums(db);
      case 'getAlbumPhotos': {
        const o = a as ApiArgs<'getAlbumPhotos'>;
        return albums.albumPage(db, o.albumId, o.offset, o.limit);
      }
      case 'getPhoto':
        return this.photoDetails((a as ApiArgs<'getPhoto'>).photoId);
      case 'movePhotos': {
        const o = a as ApiArgs<'movePhotos'>;
        const r = albums.movePhotos(db, o.photoIds, o.toAlbumId);
        changed(['albums']);
        return r;
      }
      case 'createAlbum': {
        const o = a as ApiArgs<'createAlbum'>;
        const r = albums.createAlbum(db, o.name, o.photoIds);
        changed(['albums']);
        return r;
      }
      case 'renameAlbum': {
        const o = a as ApiArgs<'renameAlbum'>;
        const r = albums.renameAlbum(db, o.albumId, o.name);
        changed(['albums']);
        return r;
      }
      case 'mergeAlbums': {
        const o = a as ApiArgs<'mergeAlbums'>;
        const r = albums.mergeAlbums(db, o.sourceId, o.targetId);
        changed(['albums']);
        return r;
      }
      case 'deleteAlbum': {
        const r = albums.deleteAlbum(db, (a as ApiArgs<'deleteAlbum'>).albumId);
        changed(['albums']);
        return r;
      }
      case 'undo': {
        const r = albums.undo(db);
        changed(['albums']);
        return r;
      }
      case 'redo': {
        const r = albums.redo(db);
        changed(['albums']);
        return r;
      }
      case 'getSettings':
        return this.settings();
      case 'listEncoders':
        return listEncoders();
      case 'setSettings': {
        const next = { ...this.settings(), ...(a as ApiArgs<'setSettings'>) };
        // An encoder must exist and have a valid manifest before it is saved (throws a clear UNAVAILABLE otherwise).
        if (next.encoder !== this.settings().encoder) backboneModel(db, next.encoder);
        setSetting(db, 'settings', next);
        changed(['settings']);
        return next;
      }
      case 'showInFolder':
        // Only the Electron shell can reveal a file; it resolves the path itself via getPhoto.
        throw new ShoeboxError('UNAVAILABLE', 'Show in folder is only available in the desktop app');
    }
  }

  call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>> {
    try {
      const v = validateCall(method, args);
      const value = this.dispatch(v.method, v.args) as ApiValue<M>;
      return Promise.resolve({ ok: true, value });
    } catch (e) {
      return Promise.resolve({ ok: false, error: toApiError(e) });
    }
  }

  async imagePath(photoId: number, kind: 'thumb' | 'preview'): Promise<string | null> {
    if (!Number.isSafeInteger(photoId) || photoId <= 0) return null;
    const r = this.db
      .prepare(`SELECT p.hash, p.rel_path, r.path AS root FROM photos p JOIN roots r ON r.id = p.root_id WHERE p.id = ? AND p.status = 'ok'`)
      .get(photoId) as { hash: string | null; rel_path: string; root: string } | undefined;
    if (!r?.hash) return null;
    const file = thumbFile(this.layout.cache, r.hash, kind);
    if (!isInside(this.layout.cache, file)) return null;
    if (fs.existsSync(file)) return file;
    const source = path.join(r.root, ...r.rel_path.split('/'));
    if (!isInside(r.root, source)) return null;
    try {
      if (kind === 'preview') await makePreview(source, file);
      else await makeThumbnail(await fs.promises.readFile(source), file);
      return file;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await this.jobs.cancelAll();
    this.db.close();
  }
}

/** Open a library and return a CoreHandle (in-process, or proxied to a worker thread). */
export async function openCore(opts: CoreOptions): Promise<CoreHandle> {
  if (opts.inWorker) {
    const { WorkerCore } = await import('./service-client.js');
    return WorkerCore.start(opts);
  }
  const svc = new LibraryService(opts.libraryDir);
  for (const r of opts.roots) svc.addRoot(r);
  if (opts.device) setSetting(svc.db, 'settings', { ...svc.settings(), device: opts.device });
  if (opts.autoOrganize && svc.roots().length > 0) svc.organize();
  return svc;
}
