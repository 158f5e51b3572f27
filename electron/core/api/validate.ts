/**
 * Validation of untrusted API arguments at the boundary (IPC or HTTP). Each validator returns the typed args or
 * throws ShoeboxError('INVALID_INPUT') with a message naming the bad field.
 */
import type { ApiArgs, ApiMethod, Device, PhotoView, Settings } from './contract.js';
import { ShoeboxError } from '../errors.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ShoeboxError('INVALID_INPUT', 'Arguments must be an object');
  return v as Obj;
}

function id(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
    throw new ShoeboxError('INVALID_INPUT', `${k} must be a positive integer`);
  return v;
}

function int(o: Obj, k: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ShoeboxError('INVALID_INPUT', `${k} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function ids(o: Obj, k: string, optional = false): number[] {
  const v = o[k];
  if (v === undefined && optional) return [];
  if (!Array.isArray(v) || v.length > 1_000_000) throw new ShoeboxError('INVALID_INPUT', `${k} must be an array of photo ids`);
  for (const x of v) {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= 0)
      throw new ShoeboxError('INVALID_INPUT', `${k} must contain positive integers`);
  }
  return v as number[];
}

function name(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ShoeboxError('INVALID_INPUT', `${k} must be a string`);
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (s.length === 0) throw new ShoeboxError('INVALID_INPUT', `${k} must not be empty`);
  if (s.length > 200) throw new ShoeboxError('INVALID_INPUT', `${k} must be at most 200 characters`);
  return s;
}

function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096)
    throw new ShoeboxError('INVALID_INPUT', `${k} must be a non-empty string`);
  return v;
}

function bool(o: Obj, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ShoeboxError('INVALID_INPUT', `${k} must be true or false`);
  return v;
}

/** Encoder ids name files in the models folder: no path separators, no leading dot. */
export const ENCODER_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Every device setting (the API, the CLI and Settings accept these). */
export const DEVICES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const satisfies readonly Device[];

const SETTINGS: readonly string[] = [
  'device',
  'albums',
  'train',
  'trainSteps',
  'method',
  'encoder',
  'sortOrder',
] satisfies (keyof Settings)[];

/** Bounds of the training step budget (the API, the CLI and the Settings form use these). */
export const TRAIN_STEPS_MIN = 100;
export const TRAIN_STEPS_MAX = 100_000;

function settings(o: Obj): Partial<Settings> {
  const out: Partial<Settings> = {};
  for (const k of Object.keys(o)) {
    if (!SETTINGS.includes(k)) throw new ShoeboxError('INVALID_INPUT', `Unknown setting ${k.slice(0, 64)}`);
  }
  if (o.device !== undefined) {
    if (!(DEVICES as readonly unknown[]).includes(o.device))
      throw new ShoeboxError('INVALID_INPUT', `device must be one of ${DEVICES.join(', ')}`);
    out.device = o.device as Device;
  }
  if (o.albums !== undefined) out.albums = o.albums === 'auto' ? 'auto' : int(o, 'albums', 1, 1000);
  if (o.train !== undefined) out.train = bool(o, 'train');
  if (o.trainSteps !== undefined) out.trainSteps = int(o, 'trainSteps', TRAIN_STEPS_MIN, TRAIN_STEPS_MAX);
  if (o.method !== undefined) {
    if (o.method !== 'propos' && o.method !== 'byol' && o.method !== 'moco')
      throw new ShoeboxError('INVALID_INPUT', 'method must be propos, byol or moco');
    out.method = o.method;
  }
  if (o.encoder !== undefined) {
    if (typeof o.encoder !== 'string' || !ENCODER_ID.test(o.encoder)) {
      throw new ShoeboxError('INVALID_INPUT', 'encoder must be a model id: 1-64 letters, digits, _ . or - (a manifest models/<id>.json)');
    }
    out.encoder = o.encoder;
  }
  if (o.sortOrder !== undefined) {
    if (o.sortOrder !== 'oldest' && o.sortOrder !== 'newest') throw new ShoeboxError('INVALID_INPUT', 'sortOrder must be oldest or newest');
    out.sortOrder = o.sortOrder;
  }
  return out;
}

function text(o: Obj, k: string, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max)
    throw new ShoeboxError('INVALID_INPUT', `${k} must be a string of at most ${max} characters`);
  return v;
}

function optText(o: Obj, k: string): string | undefined {
  return o[k] === undefined ? undefined : text(o, k, 200);
}

/** A PhotoView (see the contract); "more like this" takes at most 1,000 seed photos. */
function view(v: unknown): PhotoView {
  const o = obj(v);
  switch (o.kind) {
    case 'album':
      known(o, ['kind', 'albumId']);
      return { kind: 'album', albumId: id(o, 'albumId') };
    case 'timeline':
      known(o, ['kind']);
      return { kind: 'timeline' };
    case 'similar': {
      known(o, ['kind', 'photoIds']);
      const photoIds = ids(o, 'photoIds');
      if (photoIds.length === 0 || photoIds.length > 1000)
        throw new ShoeboxError('INVALID_INPUT', 'photoIds must hold 1 to 1,000 photo ids');
      return { kind: 'similar', photoIds };
    }
    case 'place': {
      known(o, ['kind', 'country', 'region', 'city']);
      const region = optText(o, 'region');
      const city = optText(o, 'city');
      return {
        kind: 'place',
        country: text(o, 'country', 200),
        ...(region !== undefined ? { region } : {}),
        ...(city !== undefined ? { city } : {}),
      };
    }
    case 'date': {
      known(o, ['kind', 'year', 'month']);
      const year = o.year === undefined ? undefined : int(o, 'year', 1800, 3000);
      const month = o.month === undefined ? undefined : int(o, 'month', 1, 12);
      if (year === undefined && month === undefined) throw new ShoeboxError('INVALID_INPUT', 'a date view needs a year, a month or both');
      return { kind: 'date', ...(year !== undefined ? { year } : {}), ...(month !== undefined ? { month } : {}) };
    }
    case 'camera':
      known(o, ['kind', 'camera']);
      return { kind: 'camera', camera: text(o, 'camera', 200) };
    case 'object':
      known(o, ['kind', 'label']);
      return { kind: 'object', label: text(o, 'label', 100) };
    case 'person':
      known(o, ['kind', 'personId']);
      return { kind: 'person', personId: id(o, 'personId') };
    case 'file':
      known(o, ['kind', 'text']);
      return { kind: 'file', text: name(o, 'text') };
    default:
      throw new ShoeboxError('INVALID_INPUT', 'view.kind must be album, timeline, similar, place, date, camera, object, person or file');
  }
}

type Validators = { [M in ApiMethod]: (o: Obj) => ApiArgs<M> };

const none = (): Record<string, never> => ({});

/**
 * The argument validator of every API method, one entry per method of the contract (a missing one does not
 * compile); the list of methods the transports accept is derived from it.
 */
const VALIDATORS: Validators = {
  getStatus: none,
  listRoots: none,
  addRoot: (o) => ({ path: str(o, 'path') }),
  removeRoot: (o) => ({ rootId: id(o, 'rootId') }),
  listErrors: (o) => ({ offset: int(o, 'offset', 0, 1e9), limit: int(o, 'limit', 1, 1000) }),
  listJobs: none,
  organize: (o) => {
    known(o, ['train', 'retrain', 'reorganize']);
    return { train: bool(o, 'train'), retrain: bool(o, 'retrain'), reorganize: bool(o, 'reorganize') };
  },
  cancelJob: (o) => ({ jobId: str(o, 'jobId') }),
  listAlbums: none,
  getAlbumPhotos: (o) => ({ albumId: id(o, 'albumId'), offset: int(o, 'offset', 0, 1e9), limit: int(o, 'limit', 1, 2000) }),
  getPhotos: (o) => ({ view: view(o.view), offset: int(o, 'offset', 0, 1e9), limit: int(o, 'limit', 1, 2000) }),
  getTimelineMonths: none,
  search: (o) => ({ query: text(o, 'query', 200) }),
  listPeople: none,
  listFaces: (o) => ({ personId: id(o, 'personId') }),
  moveFaces: (o) => {
    known(o, ['faceIds', 'toPersonId']);
    return { faceIds: ids(o, 'faceIds'), ...(o.toPersonId === undefined ? {} : { toPersonId: id(o, 'toPersonId') }) };
  },
  mergePeople: (o) => ({ sourceId: id(o, 'sourceId'), targetId: id(o, 'targetId') }),
  notThisPerson: (o) => ({ faceIds: ids(o, 'faceIds'), personId: id(o, 'personId') }),
  renamePerson: (o) => {
    known(o, ['personId', 'name']);
    if (typeof o.name !== 'string' || o.name.length > 200)
      throw new ShoeboxError('INVALID_INPUT', 'name must be a string of at most 200 characters');
    return { personId: id(o, 'personId'), name: o.name };
  },
  exportAlbum: (o) => {
    known(o, ['albumId', 'folder', 'mode', 'xmp']);
    if (o.mode !== 'copy' && o.mode !== 'link') throw new ShoeboxError('INVALID_INPUT', 'mode must be copy or link');
    return { albumId: id(o, 'albumId'), folder: str(o, 'folder'), mode: o.mode, xmp: bool(o, 'xmp') ?? false };
  },
  getPhoto: (o) => ({ photoId: id(o, 'photoId') }),
  movePhotos: (o) => ({ photoIds: ids(o, 'photoIds'), toAlbumId: id(o, 'toAlbumId') }),
  createAlbum: (o) => ({ name: name(o, 'name'), photoIds: ids(o, 'photoIds', true) }),
  renameAlbum: (o) => ({ albumId: id(o, 'albumId'), name: name(o, 'name') }),
  mergeAlbums: (o) => ({ sourceId: id(o, 'sourceId'), targetId: id(o, 'targetId') }),
  deleteAlbum: (o) => ({ albumId: id(o, 'albumId') }),
  undo: none,
  redo: none,
  getSettings: none,
  listEncoders: none,
  listDevices: none,
  setSettings: settings,
  showInFolder: (o) => ({ photoId: id(o, 'photoId') }),
};

/** Every method of the contract. */
export const API_METHODS = Object.keys(VALIDATORS) as readonly ApiMethod[];

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(VALIDATORS, name);
}

function known(o: Obj, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ShoeboxError('INVALID_INPUT', `Unknown argument ${k.slice(0, 64)}`);
}

/** Check that `method` is part of the contract and its args are well-formed. */
export function validateCall<M extends ApiMethod>(method: M, raw: unknown): { method: M; args: ApiArgs<M> };
export function validateCall(method: unknown, raw: unknown): { method: ApiMethod; args: ApiArgs<ApiMethod> };
export function validateCall(method: unknown, raw: unknown): { method: ApiMethod; args: ApiArgs<ApiMethod> } {
  if (!isApiMethod(method)) throw new ShoeboxError('NOT_FOUND', `Unknown API method ${String(method).slice(0, 64)}`);
  const validate = VALIDATORS[method] as (o: Obj) => ApiArgs<ApiMethod>;
  return { method, args: validate(obj(raw)) };
}
