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
  TrainingDecision,
} from './api/contract.js';
import { validateCall } from './api/validate.js';
import * as albums from './albums/store.js';
import * as people from './albums/people.js';
import * as views from './albums/views.js';
import { exportPhotos, type ExportItem } from './library/export.js';
import { getSetting, openDatabase, setSetting, type Db } from './db/database.js';
import { ShoeboxError, toApiError } from './errors.js';
import { JobManager } from './jobs.js';
import type { Library } from './library.js';
import { makePreview, makeThumbnail, prunePreviews, thumbFile } from './library/thumbs.js';
import { LibraryLock } from './lock.js';
import { bundledModelsDir, isInside, libraryLayout, type LibraryLayout } from './paths.js';
import { backboneEncoder, DEFAULT_ENCODER_ID, libraryBackboneId, listEncoders } from './encoders.js';
import { detectEnvironment, deviceChoices } from './ml/providers.js';
import { runOrganize, type OrganizeHooks, type OrganizeOptions, type OrganizeReport } from './pipeline.js';
import { TRAINING } from './stages/train.js';
import { cleanStaleFiles } from './versions.js';
import type { CoreHandle, CoreOptions } from './handle.js';

export type { CoreHandle, CoreOptions } from './handle.js';

export interface ServiceOptions {
  /** Named in the lock, so a second process can say who holds the library. */
  command?: string;
  /** Replace pipeline stages (tests). */
  hooks?: OrganizeHooks;
}

/** New previews between two checks of the preview cache's size (the first one checks too). */
const PREVIEW_PRUNE_EVERY = 64;

export const DEFAULT_SETTINGS: Settings = {
  device: 'auto',
  albums: 'auto',
  train: true,
  trainSteps: TRAINING.steps,
  method: 'propos',
  encoder: DEFAULT_ENCODER_ID,
  sortOrder: 'oldest',
};

type Handlers = { [M in ApiMethod]: (svc: LibraryService, args: ApiArgs<M>) => ApiValue<M> };
type Changed = ('albums' | 'photos' | 'roots' | 'settings')[];

/** An edit: run it, then tell every client that albums changed. */
function edit<A, R>(fn: (db: Db, a: A) => R): (svc: LibraryService, a: A) => R {
  return (svc, a) => {
    const r = fn(svc.db, a);
    svc.changed(['albums']);
    return r;
  };
}

/** The handler of every API method (a missing one does not compile); arguments arrive validated. */
const HANDLERS: Handlers = {
  getStatus: (svc) => svc.status(),
  listRoots: (svc) => svc.roots(),
  addRoot: (svc, a) => svc.addRoot(a.path),
  removeRoot: (svc, a) => svc.removeRoot(a.rootId),
  listErrors: (svc, a) => {
    const total = (svc.db.prepare(`SELECT COUNT(*) AS n FROM photos WHERE status IN ('error', 'unsupported')`).get() as { n: number }).n;
    const rows = svc.db
      .prepare(
        `SELECT r.path || '/' || p.rel_path AS path, p.error_code AS code, p.error_message AS message FROM photos p
           JOIN roots r ON r.id = p.root_id WHERE p.status IN ('error', 'unsupported') ORDER BY p.id LIMIT ? OFFSET ?`,
      )
      .all(a.limit, a.offset) as { path: string; code: string; message: string }[];
    return { total, rows };
  },
  listJobs: (svc) => svc.jobs.list(),
  organize: (svc, a) => ({
    jobId: svc.organize({
      ...(a.train !== undefined ? { train: a.train } : {}),
      retrain: a.retrain ?? false,
      reorganize: a.reorganize ?? false,
    }).id,
  }),
  cancelJob: (svc, a) => ({ cancelled: svc.jobs.cancel(a.jobId) }),
  listAlbums: (svc) => albums.listAlbums(svc.db),
  getAlbumPhotos: (svc, a) => albums.albumPage(svc.db, a.albumId, a.offset, a.limit, svc.settings().sortOrder),
  getPhotos: (svc, a) => {
    if (a.view.kind === 'album') return albums.albumPage(svc.db, a.view.albumId, a.offset, a.limit, svc.settings().sortOrder);
    return views.viewPage(svc.db, a.view, svc.settings().sortOrder, a.offset, a.limit);
  },
  getTimelineMonths: (svc) => views.timelineMonths(svc.db, svc.settings().sortOrder),
  search: (svc, a) => views.search(svc.db, a.query),
  listPeople: (svc) => people.listPeople(svc.db),
  listFaces: (svc, a) => people.listFaces(svc.db, a.personId),
  moveFaces: edit((db, a: ApiArgs<'moveFaces'>) => people.moveFaces(db, a.faceIds, a.toPersonId)),
  mergePeople: edit((db, a: ApiArgs<'mergePeople'>) => people.mergePeople(db, a.sourceId, a.targetId)),
  notThisPerson: edit((db, a: ApiArgs<'notThisPerson'>) => people.notThisPerson(db, a.faceIds, a.personId)),
  renamePerson: (svc, a) => {
    const r = people.renamePerson(svc.db, a.personId, a.name);
    svc.changed(['albums']);
    return r;
  },
  exportAlbum: (svc, a) => ({ jobId: svc.exportAlbum(a).id }),
  getPhoto: (svc, a) => svc.photoDetails(a.photoId),
  movePhotos: edit((db, a: ApiArgs<'movePhotos'>) => albums.movePhotos(db, a.photoIds, a.toAlbumId)),
  createAlbum: edit((db, a: ApiArgs<'createAlbum'>) => albums.createAlbum(db, a.name, a.photoIds)),
  renameAlbum: edit((db, a: ApiArgs<'renameAlbum'>) => albums.renameAlbum(db, a.albumId, a.name)),
  mergeAlbums: edit((db, a: ApiArgs<'mergeAlbums'>) => albums.mergeAlbums(db, a.sourceId, a.targetId)),
  deleteAlbum: edit((db, a: ApiArgs<'deleteAlbum'>) => albums.deleteAlbum(db, a.albumId)),
  undo: edit((db) => albums.undo(db)),
  redo: edit((db) => albums.redo(db)),
  getSettings: (svc) => svc.settings(),
  listEncoders: () => listEncoders(),
  listDevices: () => deviceChoices(detectEnvironment()),
  setSettings: (svc, a) => {
    const next = { ...svc.settings(), ...a };
    // An encoder must exist and have a valid manifest before it is saved (throws a clear UNAVAILABLE otherwise).
    if (next.encoder !== svc.settings().encoder) backboneEncoder(svc.db, next.encoder);
    const reordered = next.sortOrder !== svc.settings().sortOrder;
    setSetting(svc.db, 'settings', next);
    svc.changed(reordered ? ['settings', 'photos'] : ['settings']);
    return next;
  },
  // Only the Electron shell can reveal a file; it resolves the path itself via getPhoto.
  showInFolder: () => {
    throw new ShoeboxError('UNAVAILABLE', 'Show in folder is only available in the desktop app');
  },
};

export class LibraryService implements CoreHandle, Library {
  readonly db: Db;
  readonly layout: LibraryLayout;
  readonly jobs: JobManager;
  private readonly lock: LibraryLock;
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private organizing: { id: string; done: Promise<JobInfo> } | null = null;
  private lastReport: OrganizeReport | null = null;
  private closed = false;
  /** Previews made since the library was opened (the cache is pruned every PREVIEW_PRUNE_EVERY). */
  private previewsMade = 0;
  /** The backbone at the root of the active model, once the library has one (see settings()). */
  private builtWith: string | null = null;

  /** Opens (creating if needed) the library in `libraryDir`; throws BUSY when another process holds it. */
  constructor(
    readonly libraryDir: string,
    private readonly opts: ServiceOptions = {},
  ) {
    this.layout = libraryLayout(libraryDir);
    fs.mkdirSync(libraryDir, { recursive: true });
    this.lock = LibraryLock.acquire(this.layout.lock, opts.command ?? 'Shoebox');
    try {
      this.db = openDatabase(libraryDir);
    } catch (e) {
      this.lock.release();
      throw e;
    }
    fs.mkdirSync(this.layout.cache, { recursive: true });
    this.jobs = new JobManager(this.db, (e) => this.emit(e));
    albums.unsortedAlbumId(this.db);
    cleanStaleFiles(this);
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

  changed(what: Changed): void {
    this.emit({ type: 'library-changed', what });
  }

  subscribe(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  settings(): Settings {
    const saved = getSetting<Partial<Settings>>(this.db, 'settings', {});
    const s = { ...DEFAULT_SETTINGS };
    // Only known keys (a setting of an older version, such as epochs, is dropped).
    for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[])
      if (saved[k] !== undefined) (s as Record<string, unknown>)[k] = saved[k];
    // Never chosen: the backbone the library was built with, if any (a changed default must not re-embed it).
    if (saved.encoder === undefined) {
      // Read once it exists (settings are read per page request); it cannot change until the person chooses.
      this.builtWith ??= libraryBackboneId(this.db);
      const built = this.builtWith;
      if (built && fs.existsSync(path.join(bundledModelsDir(), `${built}.json`))) s.encoder = built;
    }
    return s;
  }

  /** Register a folder as a library root (idempotent). Throws ShoeboxError for a path that is not a folder. */
  addRoot(p: string): RootInfo {
    if (!path.isAbsolute(p)) throw new ShoeboxError('INVALID_INPUT', `${p} is not an absolute path: give the folder's full path`);
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
    this.changed(['roots']);
    return this.roots().find((r) => r.path === real)!;
  }

  /**
   * Take a folder out of the library: its photos leave every album (the files stay where they are), and their
   * thumbnails are deleted unless another photo has the same content. Refused while organizing runs.
   */
  removeRoot(id: number): { removed: number } {
    if (this.organizing)
      throw new ShoeboxError('BUSY', 'Organizing is running: wait for it to finish (or cancel it), then remove the folder');
    const root = this.db.prepare('SELECT id, path FROM roots WHERE id = ?').get(id) as { id: number; path: string } | undefined;
    if (!root) throw new ShoeboxError('NOT_FOUND', `Folder ${id} is not in the library`);
    const hashes = this.db.prepare(`SELECT DISTINCT hash FROM photos WHERE root_id = ? AND hash IS NOT NULL`).pluck().all(id) as string[];
    const removed = this.db.transaction(() => {
      const n = (this.db.prepare('SELECT COUNT(*) AS n FROM photos WHERE root_id = ?').get(id) as { n: number }).n;
      this.db.prepare('DELETE FROM roots WHERE id = ?').run(id); // photos, memberships, vectors, cannot-links cascade
      return n;
    })();
    const stillUsed = this.db.prepare('SELECT 1 FROM photos WHERE hash = ? LIMIT 1').pluck();
    for (const h of hashes) {
      if (stillUsed.get(h) !== undefined) continue;
      for (const kind of ['thumb', 'preview'] as const) fs.rmSync(thumbFile(this.layout.cache, h, kind), { force: true });
    }
    this.changed(['roots', 'albums', 'photos']);
    return { removed };
  }

  roots(): RootInfo[] {
    return this.db
      .prepare(
        `SELECT r.id, r.path, r.last_scan_at AS lastScanAt,
             (SELECT COUNT(*) FROM photos p WHERE p.root_id = r.id AND p.status = 'ok') AS photoCount,
             (SELECT COUNT(*) FROM photos p WHERE p.root_id = r.id AND p.status IN ('error', 'unsupported')) AS errorCount
           FROM roots r ORDER BY r.id`,
      )
      .all() as RootInfo[];
  }

  /** The library has albums (written by the first organize as soon as its photos were embedded). */
  isOrganized(): boolean {
    return this.db.prepare(`SELECT 1 FROM album_members LIMIT 1`).get() !== undefined;
  }

  /** The options of an organize: `opts` over the library's settings. */
  organizeOptions(opts: Partial<OrganizeOptions> = {}): OrganizeOptions {
    const s = this.settings();
    const steps = opts.steps ?? s.trainSteps;
    return {
      train: opts.train ?? s.train,
      retrain: opts.retrain ?? false,
      reorganize: opts.reorganize ?? false,
      steps,
      warmSteps: opts.warmSteps ?? Math.max(1, Math.round(TRAINING.warmShare * steps)),
      warmStart: opts.warmStart ?? true,
      timeLimitSec: opts.timeLimitSec ?? TRAINING.timeLimitSec,
      ...(opts.maxPasses !== undefined ? { maxPasses: opts.maxPasses } : {}),
      method: opts.method ?? s.method,
      albums: opts.albums ?? s.albums,
      device: opts.device ?? s.device,
      seed: opts.seed ?? 1,
      encoder: opts.encoder ?? s.encoder,
      ...(opts.objects !== undefined ? { objects: opts.objects } : {}),
      ...(opts.faces !== undefined ? { faces: opts.faces } : {}),
      ...(opts.finetuneBlock ? { finetuneBlock: true } : {}),
    };
  }

  /**
   * Start (or join) an organize job. The UI's Re-organize and the CLI's `--reorganize` both come here. Albums are
   * written (and `library-changed` sent) as soon as the photos are embedded, then again after a training round.
   */
  organize(opts: Partial<OrganizeOptions> = {}): { id: string; done: Promise<JobInfo> } {
    if (this.organizing) return this.organizing;
    const full = this.organizeOptions(opts);
    const job = this.jobs.start('organize', full, async (ctx) => {
      const report = await runOrganize(this, full, ctx, {
        ...this.opts.hooks,
        onAlbums: (phase, r) => {
          this.changed(['albums', 'photos']);
          this.opts.hooks?.onAlbums?.(phase, r);
        },
      });
      this.lastReport = report;
      this.db.pragma('optimize'); // statistics for the planner, after the library's shape may have changed
      this.changed(['albums', 'photos']);
      return report.message;
    });
    this.organizing = job;
    void job.done.finally(() => {
      if (this.organizing?.id === job.id) this.organizing = null;
    });
    return job;
  }

  /**
   * Export an album's photos into a folder as a job: copies or hard links, optionally XMP sidecars with the album's
   * name as a keyword. The originals are only read. Its finished message sums up what was written.
   */
  exportAlbum(a: ApiArgs<'exportAlbum'>): { id: string; done: Promise<JobInfo> } {
    if (!path.isAbsolute(a.folder))
      throw new ShoeboxError('INVALID_INPUT', `${a.folder} is not an absolute path: give the folder's full path`);
    const album = this.db.prepare('SELECT id, name FROM albums WHERE id = ? AND deleted_at IS NULL').get(a.albumId) as
      { id: number; name: string } | undefined;
    if (!album) throw new ShoeboxError('NOT_FOUND', `Album ${a.albumId} does not exist`);
    const items = (
      this.db
        .prepare(
          `SELECT p.id, r.path AS root, p.rel_path, p.taken_local, p.size, p.mtime_ms FROM album_members m
             JOIN photos p ON p.id = m.photo_id JOIN roots r ON r.id = p.root_id
            WHERE m.album_id = ? AND +p.status = 'ok' ORDER BY p.taken_local IS NULL, p.taken_local, p.rel_path`,
        )
        .all(album.id) as { id: number; root: string; rel_path: string; taken_local: number | null; size: number; mtime_ms: number }[]
    ).map((r): ExportItem => ({
      photoId: r.id,
      sourcePath: path.join(r.root, ...r.rel_path.split('/')),
      name: r.rel_path.slice(r.rel_path.lastIndexOf('/') + 1),
      takenLocal: r.taken_local,
      size: r.size,
      mtimeMs: r.mtime_ms,
    }));
    const folder = path.resolve(a.folder);
    for (const root of this.roots()) {
      if (isInside(root.path, folder))
        throw new ShoeboxError('INVALID_INPUT', `${folder} is inside the library folder ${root.path}: choose a folder outside it`);
    }
    return this.jobs.start('export', { albumId: album.id, folder, mode: a.mode, xmp: a.xmp }, async (ctx) => {
      ctx.stage('export', items.length, `Exporting “${album.name}”`);
      const r = await exportPhotos(items, {
        folder,
        mode: a.mode,
        xmp: a.xmp ? { keywords: [album.name] } : null,
        signal: ctx.signal,
        onProgress: (done, total) => ctx.progress(done, total),
      });
      const parts = [`Exported ${r.exported} of ${items.length} photos of “${album.name}” to ${r.folder}`];
      if (r.skipped > 0) parts.push(`${r.skipped} were already there`);
      if (r.failed.length > 0) parts.push(`${r.failed.length} could not be read (${r.failed[0].name}: ${r.failed[0].message})`);
      return parts.join('; ');
    });
  }

  get report(): OrganizeReport | null {
    return this.lastReport;
  }

  status(): LibraryStatus {
    const roots = this.roots();
    const active = this.db.prepare(`SELECT id, version, parent FROM models WHERE active = 1 LIMIT 1`).get() as
      { id: string; version: string; parent: string | null } | undefined;
    const trainedAt = active?.parent
      ? ((
          this.db.prepare(`SELECT finished_at FROM training_runs WHERE out_model = ?`).get(`${active.id}@${active.version}`) as
            { finished_at: number } | undefined
        )?.finished_at ?? null)
      : null;
    return {
      roots,
      photoCount: roots.reduce((a, r) => a + r.photoCount, 0),
      errorCount: roots.reduce((a, r) => a + r.errorCount, 0),
      organized: this.isOrganized(),
      model: active ? { id: active.id, version: active.version } : null,
      device: getSetting<string | null>(this.db, 'lastDevice', null),
      edits: albums.editState(this.db),
      jobs: this.jobs.list(),
      training: { lastTrainedAt: trainedAt, decision: getSetting<TrainingDecision | null>(this.db, 'lastTrainingDecision', null) },
    };
  }

  photoDetails(photoId: number): PhotoDetails {
    const r = this.db
      .prepare(
        `SELECT p.*, r.path AS root_path, m.album_id, m.pinned, a.name AS album_name FROM photos p JOIN roots r ON r.id = p.root_id
           LEFT JOIN album_members m ON m.photo_id = p.id LEFT JOIN albums a ON a.id = m.album_id WHERE p.id = ?`,
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
          taken_local: number | null;
          taken_source: 'exif' | 'file' | null;
          tz: string | null;
          city: string | null;
          region: string | null;
          country: string | null;
          album_name: string | null;
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
      ? (this.db.prepare(`SELECT id FROM photos WHERE hash = ? AND id != ? AND +status = 'ok'`).all(r.hash, r.id) as { id: number }[]).map(
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
      takenAt: r.taken_local,
      takenSource: r.taken_source,
      timezone: r.tz,
      camera: r.camera,
      gps: r.lat !== null && r.lon !== null ? { lat: r.lat, lon: r.lon } : null,
      place: r.country !== null ? { city: r.city, region: r.region, country: r.country } : null,
      objects: this.db.prepare('SELECT label FROM photo_objects WHERE photo_id = ? ORDER BY score DESC').pluck().all(r.id) as string[],
      faces: (
        this.db
          .prepare(
            'SELECT f.id, f.x, f.y, f.w, f.h, f.person_id, pe.name FROM faces f LEFT JOIN people pe ON pe.id = f.person_id WHERE f.photo_id = ? ORDER BY f.x',
          )
          .all(r.id) as { id: number; x: number; y: number; w: number; h: number; person_id: number | null; name: string | null }[]
      ).map((f) => ({ id: f.id, box: [f.x, f.y, f.w, f.h], personId: f.person_id, personName: f.name })),
      albumName: r.album_name,
      orientation: r.orientation,
      albumId: r.album_id,
      pinned: r.pinned === 1,
      status: r.status === 'pending' ? 'error' : r.status,
      error: r.error_code ? { code: 'INVALID_INPUT', message: `${r.error_code}: ${r.error_message ?? ''}` } : null,
      duplicates: dups,
    };
  }

  call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>> {
    try {
      if (this.closed) throw new ShoeboxError('UNAVAILABLE', 'The library is closed');
      const v = validateCall(method, args);
      const handler = HANDLERS[v.method] as (svc: LibraryService, a: ApiArgs<M>) => ApiValue<M>;
      return Promise.resolve({ ok: true, value: handler(this, v.args) });
    } catch (e) {
      return Promise.resolve({ ok: false, error: toApiError(e) });
    }
  }

  async imagePath(photoId: number, kind: 'thumb' | 'preview'): Promise<string | null> {
    if (!Number.isSafeInteger(photoId) || photoId <= 0) return null;
    const r = this.db
      .prepare(
        `SELECT p.hash, p.rel_path, r.path AS root FROM photos p JOIN roots r ON r.id = p.root_id WHERE p.id = ? AND p.status = 'ok'`,
      )
      .get(photoId) as { hash: string | null; rel_path: string; root: string } | undefined;
    if (!r?.hash) return null;
    const file = thumbFile(this.layout.cache, r.hash, kind);
    if (!isInside(this.layout.cache, file)) return null;
    if (fs.existsSync(file)) {
      // Shown again: the preview cache deletes the least recently shown first.
      if (kind === 'preview') fs.promises.utimes(file, new Date(), new Date()).catch(() => undefined);
      return file;
    }
    const source = path.join(r.root, ...r.rel_path.split('/'));
    if (!isInside(r.root, source)) return null;
    try {
      if (kind === 'preview') {
        await makePreview(source, file);
        // Every so many new previews, keep their folder within its bound (in the background).
        if (++this.previewsMade % PREVIEW_PRUNE_EVERY === 1) prunePreviews(this.layout.cache).catch(() => undefined);
      } else await makeThumbnail(await fs.promises.readFile(source), file);
      return file;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.jobs.cancelAll();
    this.db.close();
    this.lock.release();
  }
}

/** Open a library and return a CoreHandle (in-process, or proxied to a worker thread). */
export async function openCore(opts: CoreOptions): Promise<CoreHandle> {
  if (opts.inWorker) {
    const { WorkerCore } = await import('./service-client.js');
    return WorkerCore.start(opts);
  }
  const svc = new LibraryService(opts.libraryDir, { command: opts.command });
  for (const r of opts.roots) svc.addRoot(path.resolve(r));
  if (opts.device) setSetting(svc.db, 'settings', { ...svc.settings(), device: opts.device });
  if (opts.autoOrganize && svc.roots().length > 0) svc.organize();
  return svc;
}
