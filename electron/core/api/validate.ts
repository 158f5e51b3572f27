/**
 * Validation of untrusted API arguments at the boundary (IPC or HTTP). Each validator returns the typed args or
 * throws ShoeboxError('INVALID_INPUT') with a message naming the bad field.
 */
import type { ApiArgs, ApiMethod, Device, Settings } from './contract.js';
import { API_METHODS } from './contract.js';
import { ShoeboxError } from '../errors.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ShoeboxError('INVALID_INPUT', 'Arguments must be an object');
  return v as Obj;
}

function id(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new ShoeboxError('INVALID_INPUT', `${k} must be a positive integer`);
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
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= 0) throw new ShoeboxError('INVALID_INPUT', `${k} must contain positive integers`);
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
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw new ShoeboxError('INVALID_INPUT', `${k} must be a non-empty string`);
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

const DEVICES: readonly Device[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

function settings(o: Obj): Partial<Settings> {
  const out: Partial<Settings> = {};
  for (const k of Object.keys(o)) {
    if (!['device', 'albums', 'train', 'epochs', 'method', 'encoder'].includes(k)) throw new ShoeboxError('INVALID_INPUT', `Unknown setting ${k}`);
  }
  if (o.device !== undefined) {
    if (!DEVICES.includes(o.device as Device)) throw new ShoeboxError('INVALID_INPUT', `device must be one of ${DEVICES.join(', ')}`);
    out.device = o.device as Device;
  }
  if (o.albums !== undefined) out.albums = o.albums === 'auto' ? 'auto' : int(o, 'albums', 1, 1000);
  if (o.train !== undefined) out.train = bool(o, 'train');
  if (o.epochs !== undefined) out.epochs = int(o, 'epochs', 0, 1000);
  if (o.method !== undefined) {
    if (o.method !== 'propos' && o.method !== 'byol' && o.method !== 'moco') throw new ShoeboxError('INVALID_INPUT', 'method must be propos, byol or moco');
    out.method = o.method;
  }
  if (o.encoder !== undefined) {
    if (typeof o.encoder !== 'string' || !ENCODER_ID.test(o.encoder)) {
      throw new ShoeboxError('INVALID_INPUT', 'encoder must be a model id: 1-64 letters, digits, _ . or - (a manifest models/<id>.json)');
    }
    out.encoder = o.encoder;
  }
  return out;
}

/** Check that `method` is part of the contract and its args are well-formed. */
export function validateCall(method: unknown, raw: unknown): { method: ApiMethod; args: ApiArgs<ApiMethod> } {
  if (typeof method !== 'string' || !(API_METHODS as readonly string[]).includes(method)) {
    throw new ShoeboxError('NOT_FOUND', `Unknown API method ${String(method).slice(0, 64)}`);
  }
  const m = method as ApiMethod;
  const o = obj(raw);
  let args: unknown;
  switch (m) {
    case 'getStatus':
    case 'listRoots':
    case 'listJobs':
    case 'listAlbums':
    case 'undo':
    case 'redo':
    case 'getSettings':
    case 'listEncoders':
      args = {};
      break;
    case 'addRoot':
      args = { path: str(o, 'path') };
      break;
    case 'listErrors':
      args = { offset: int(o, 'offset', 0, 1e9), limit: int(o, 'limit', 1, 1000) };
      break;
    case 'organize':
      args = { train: bool(o, 'train'), rescan: bool(o, 'rescan') };
      break;
    case 'cancelJob':
      args = { jobId: str(o, 'jobId') };
      break;
    case 'getAlbumPhotos':
      args = { albumId: id(o, 'albumId'), offset: int(o, 'offset', 0, 1e9), limit: int(o, 'limit', 1, 2000) };
      break;
    case 'getPhoto':
    case 'showInFolder':
      args = { photoId: id(o, 'photoId') };
      break;
    case 'movePhotos':
      args = { photoIds: ids(o, 'photoIds'), toAlbumId: id(o, 'toAlbumId') };
      break;
    case 'createAlbum':
      args = { name: name(o, 'name'), photoIds: ids(o, 'photoIds', true) };
      break;
    case 'renameAlbum':
      args = { albumId: id(o, 'albumId'), name: name(o, 'name') };
      break;
    case 'mergeAlbums':
      args = { sourceId: id(o, 'sourceId'), targetId: id(o, 'targetId') };
      break;
    case 'deleteAlbum':
      args = { albumId: id(o, 'albumId') };
      break;
    case 'setSettings':
      args = settings(o);
      break;
  }
  return { method: m, args: args as ApiArgs<ApiMethod> };
}
