/**
 * HEIC/HEIF: most phone photos. sharp's bundled libvips reads HEIF containers (metadata) and decodes AV1 (AVIF) but
 * not HEVC, so HEVC images are decoded by libheif-js (LGPL-3.0, WebAssembly) in worker threads (heic-worker.ts):
 * a small pool started on first use, reused across calls, unref'd while idle and ended after a quiet spell.
 * Each decode is bounded by a pixel limit (checked before decoding) and a time limit; every failure is a FileError.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { FileError } from '../errors.js';
import { readExif, type PhotoExif } from './exif.js';

/** ftyp brands of HEVC-coded HEIF ('heic' still images, 'hevc' sequences and their variants). */
export const HEVC_BRANDS: ReadonlySet<string> = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
/** ftyp brands of AV1-coded HEIF (AVIF). */
export const AV1_BRANDS: ReadonlySet<string> = new Set(['avif', 'avis', 'avio']);
/** Codec-neutral HEIF brands: the codec is found in the file's item properties. */
export const GENERIC_HEIF_BRANDS: ReadonlySet<string> = new Set(['mif1', 'msf1', 'mif2', 'mif3']);

const SHARP_SUFFIXES = sharp.format.heif?.input?.fileSuffix ?? [];
/** What this sharp build decodes itself (the prebuilt one: AVIF only). */
export const SHARP_DECODES = { hevc: SHARP_SUFFIXES.includes('.heic'), av1: SHARP_SUFFIXES.includes('.avif') };

/** Start of the error message when libheif-js cannot be loaded (the scanner reads such files again later). */
export const HEIC_DECODER_MISSING = 'HEIC photos need the HEIC decoder (libheif-js), which is not installed';

/** Per-decode time limit: a 12 MP photo takes about 3 s on one core, 150 MP (the limit) about 40 s. */
export const HEIC_TIMEOUT_MS = 120_000;
/** A worker whose wasm heap grew past this is ended after its decode (wasm memory never shrinks). */
const RECYCLE_HEAP_BYTES = 512 * 2 ** 20;
/** Idle workers are ended after this long. */
const IDLE_MS = 20_000;

/** Whether libheif-js can be found (resolved as heic-worker.ts loads it, without loading it). */
export function heicDecoderInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('libheif-js/wasm-bundle');
    return true;
  } catch {
    return false;
  }
}

/** The major and compatible brands of an ISO-BMFF `ftyp` box at the start of `buf`, or null when there is none. */
export function ftypBrands(buf: Uint8Array): string[] | null {
  if (buf.length < 16) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (String.fromCharCode(buf[4], buf[5], buf[6], buf[7]) !== 'ftyp') return null;
  let size = dv.getUint32(0);
  let start = 8;
  if (size === 1) {
    if (buf.length < 24) return null;
    size = Number(dv.getBigUint64(8));
    start = 16;
  }
  const end = Math.min(size === 0 ? buf.length : size, buf.length, 4096);
  if (end < start + 8) return null;
  const brands: string[] = [];
  const read = (o: number): string => String.fromCharCode(buf[o], buf[o + 1], buf[o + 2], buf[o + 3]);
  brands.push(read(start));
  for (let o = start + 8; o + 4 <= end; o += 4) brands.push(read(o));
  return brands;
}

/** Which codec an HEIF file's brands announce; null when the bytes are not HEIF at all. */
export function heifCodec(buf: Uint8Array): 'hevc' | 'av1' | 'unknown' | null {
  const brands = ftypBrands(buf);
  if (!brands) return null;
  if (brands.some((b) => HEVC_BRANDS.has(b))) return 'hevc';
  if (brands.some((b) => AV1_BRANDS.has(b))) return 'av1';
  if (brands.some((b) => GENERIC_HEIF_BRANDS.has(b))) return 'unknown';
  return null;
}

/**
 * Whether `buf` is HEIF that sharp cannot decode and libheif-js must: HEVC brands, or codec-neutral brands whose
 * image turns out (sharp reads the header) not to be AV1. AVIF stays with sharp.
 */
export async function needsHeicDecoder(buf: Uint8Array): Promise<boolean> {
  const codec = heifCodec(buf);
  if (codec === null) return false;
  if (codec === 'hevc') return !SHARP_DECODES.hevc;
  if (codec === 'av1') return !SHARP_DECODES.av1;
  try {
    const m = await sharp(buf).metadata();
    if (m.compression === 'av1') return !SHARP_DECODES.av1;
    return m.compression === 'hevc' ? !SHARP_DECODES.hevc : true;
  } catch {
    return true; // libheif will say what is wrong with it
  }
}

/** Whether the first bytes of a file (at least 64) say it needs {@link decodeHeic}; see {@link needsHeicDecoder}. */
export function mayNeedHeicDecoder(head: Uint8Array): boolean {
  const codec = heifCodec(head);
  return codec === 'unknown' || (codec === 'hevc' && !SHARP_DECODES.hevc) || (codec === 'av1' && !SHARP_DECODES.av1);
}

/** Decoded pixels: packed 8-bit RGB or RGBA, ready for `sharp(data, { raw })`. */
export interface HeicPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
  premultiplied: boolean;
  /** The worker thread that decoded it (never the caller's). */
  threadId: number;
  /** Time the worker spent decoding, ms. */
  ms: number;
}

export interface HeicDecodeOptions {
  /** Refuse images with more pixels than this (after the file's transforms); the scanner's limit is 150 MP. */
  maxPixels: number;
  /** Give up (and end the worker) after this long; default {@link HEIC_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** A request to heic-worker.ts. */
export interface HeicRequest {
  id: number;
  data: Uint8Array;
  maxPixels: number;
}

/** heic-worker.ts's answer. */
export type HeicReply =
  | {
      id: number;
      ok: true;
      width: number;
      height: number;
      channels: 3 | 4;
      premultiplied: boolean;
      data: ArrayBuffer;
      threadId: number;
      heapBytes: number;
      ms: number;
    }
  | {
      id: number;
      ok: false;
      kind: 'libheif';
      stage: 'read' | 'handle' | 'decode';
      code: number;
      subcode: number;
      message: string;
      heapBytes: number;
    }
  | { id: number; ok: false; kind: 'too-large'; width: number; height: number; heapBytes: number }
  | { id: number; ok: false; kind: 'missing' | 'crash'; message: string };

// libheif's heif_error_code values that mean "a kind of HEIF this decoder does not handle".
const UNSUPPORTED_CODES = new Set([3 /* filetype */, 4 /* feature */, 7 /* decoder plugin */, 11 /* plugin loading */]);
const MEMORY_CODE = 6;
const SECURITY_LIMIT_SUBCODE = 1000;
// No meta box, no primary item: what an image sequence (burst, animation) without a still image gives.
const NO_STILL_SUBCODES = new Set([104, 107, 124]);
const SEQUENCE_BRANDS = new Set(['msf1', 'hevs', 'avis']);

/** Turn a libheif error into the scanner's per-file error, with libheif's own words as the reason. */
export function heifErrorToFileError(code: number, subcode: number, message: string, sequence = false): FileError {
  const why = message.trim() || `libheif error ${code}.${subcode}`;
  if (code === MEMORY_CODE || subcode === SECURITY_LIMIT_SUBCODE) {
    return new FileError('TOO_LARGE', `HEIC image needs more memory than the decoder allows (${why}); skipped`);
  }
  if (UNSUPPORTED_CODES.has(code)) return new FileError('UNSUPPORTED', `HEIC variant not supported: ${why}`);
  if (sequence && NO_STILL_SUBCODES.has(subcode))
    return new FileError('UNSUPPORTED', `HEIC variant not supported: an image sequence without a still image (${why})`);
  return new FileError('DECODE_FAILED', `HEIC file is corrupt or truncated: ${why}`);
}

function replyError(r: Exclude<HeicReply, { ok: true }>, job: Job): FileError {
  const maxPixels = job.maxPixels;
  switch (r.kind) {
    case 'libheif':
      return heifErrorToFileError(r.code, r.subcode, r.message, job.sequence);
    case 'too-large':
      return r.width > 0 && r.height > 0
        ? new FileError(
            'TOO_LARGE',
            `image is ${r.width}x${r.height}, larger than ${maxPixels / 1e6} megapixels; skipped to protect memory`,
          )
        : new FileError('DECODE_FAILED', 'HEIC file is corrupt or truncated: the image has no dimensions');
    case 'missing':
      return new FileError('UNSUPPORTED', `${HEIC_DECODER_MISSING} (${r.message})`);
    case 'crash':
      return new FileError('DECODE_FAILED', `HEIC file could not be decoded (the decoder failed: ${r.message})`);
  }
}

interface Job {
  id: number;
  data: Uint8Array;
  maxPixels: number;
  timeoutMs: number;
  sequence: boolean;
  resolve: (p: HeicPixels) => void;
  reject: (e: FileError) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  idle: NodeJS.Timeout | null;
}

const maxWorkers = Math.max(1, Math.min(4, os.availableParallelism() - 1));
const slots = new Set<Slot>();
const queue: Job[] = [];
let nextId = 1;

/** How many decoder workers are running now (tests check that idle ones go away). */
export function heicWorkerCount(): number {
  return slots.size;
}

function retire(slot: Slot): Promise<number> {
  slots.delete(slot);
  if (slot.timer) clearTimeout(slot.timer);
  if (slot.idle) clearTimeout(slot.idle);
  slot.worker.removeAllListeners();
  slot.worker.on('error', () => {}); // an error racing the termination is of no interest any more
  return slot.worker.terminate();
}

function settle(slot: Slot, fn: (job: Job) => void): void {
  const job = slot.job;
  if (!job) return;
  slot.job = null;
  if (slot.timer) clearTimeout(slot.timer);
  slot.timer = null;
  fn(job);
}

function startWorker(): Slot {
  // No inherited node flags: the worker needs none, and some (--input-type, --eval's) make a worker fail to start.
  const worker = new Worker(new URL('./heic-worker.js', import.meta.url), { execArgv: [] });
  const slot: Slot = { worker, job: null, timer: null, idle: null };
  worker.on('message', (r: HeicReply) => {
    if (!slot.job || r.id !== slot.job.id) return;
    const heap = 'heapBytes' in r ? r.heapBytes : 0;
    settle(slot, (job) => {
      if (r.ok) {
        job.resolve({
          data: Buffer.from(r.data),
          width: r.width,
          height: r.height,
          channels: r.channels,
          premultiplied: r.premultiplied,
          threadId: r.threadId,
          ms: r.ms,
        });
      } else {
        job.reject(replyError(r, job));
      }
    });
    if ((!r.ok && r.kind === 'crash') || heap > RECYCLE_HEAP_BYTES) void retire(slot);
    else idleOrNext(slot);
    pump();
  });
  const lost = (why: string): void => {
    settle(slot, (job) => job.reject(new FileError('DECODE_FAILED', `HEIC file could not be decoded (the decoder stopped: ${why})`)));
    void retire(slot);
    pump();
  };
  worker.on('error', (e) => lost(e.message));
  worker.on('exit', (code) => lost(`exit code ${code}`));
  slots.add(slot);
  return slot;
}

function idleOrNext(slot: Slot): void {
  if (queue.length > 0) return; // pump() gives it the next job
  slot.worker.unref();
  slot.idle = setTimeout(() => void retire(slot), IDLE_MS);
  slot.idle.unref();
}

function assign(slot: Slot, job: Job): void {
  if (slot.idle) clearTimeout(slot.idle);
  slot.idle = null;
  slot.job = job;
  slot.worker.ref();
  slot.timer = setTimeout(() => {
    settle(slot, (j) =>
      j.reject(
        new FileError(
          'DECODE_FAILED',
          `HEIC decode did not finish within ${j.timeoutMs >= 1000 ? `${Math.round(j.timeoutMs / 1000)} s` : `${j.timeoutMs} ms`}; skipped`,
        ),
      ),
    );
    void retire(slot); // the only way to stop a running wasm decode
    pump();
  }, job.timeoutMs);
  slot.worker.postMessage({ id: job.id, data: job.data, maxPixels: job.maxPixels } satisfies HeicRequest);
}

function pump(): void {
  while (queue.length > 0) {
    let free: Slot | undefined;
    for (const s of slots) if (!s.job) free = s;
    if (!free && slots.size < maxWorkers) free = startWorker();
    if (!free) return;
    assign(free, queue.shift()!);
  }
}

/**
 * Decode the primary image of a HEIC/HEIF file in a worker thread. Rejects with FileError: TOO_LARGE over
 * `maxPixels`, UNSUPPORTED for a variant libheif does not decode, DECODE_FAILED for corrupt, truncated or timed-out.
 */
export function decodeHeic(buf: Uint8Array, opts: HeicDecodeOptions): Promise<HeicPixels> {
  return new Promise<HeicPixels>((resolve, reject) => {
    // The caller keeps its buffer (it is hashed and read for EXIF too); the worker gets a copy.
    const sequence = (ftypBrands(buf) ?? []).some((b) => SEQUENCE_BRANDS.has(b));
    queue.push({
      id: nextId++,
      data: buf,
      maxPixels: opts.maxPixels,
      timeoutMs: opts.timeoutMs ?? HEIC_TIMEOUT_MS,
      sequence,
      resolve,
      reject,
    });
    pump();
  });
}

/** End every decoder worker now (idle ones end by themselves); pending decodes are rejected. */
export async function closeHeicDecoders(): Promise<void> {
  for (const job of queue.splice(0)) job.reject(new FileError('DECODE_FAILED', 'HEIC decoding was stopped'));
  const all = [...slots];
  for (const s of all) settle(s, (job) => job.reject(new FileError('DECODE_FAILED', 'HEIC decoding was stopped')));
  await Promise.all(all.map((s) => retire(s)));
}

const hasAny = (e: PhotoExif): boolean => e.takenAt !== null || e.camera !== null || e.lat !== null || e.lon !== null;

/**
 * EXIF of a HEIF file. exifr reads the container's Exif item but ignores iloc base offsets (libheif's own
 * encoder writes them), so when it finds nothing the Exif block sharp extracts is read instead. Orientation is
 * dropped: HEIF's irot/imir transforms are applied by the decoder, and EXIF's tag must not rotate the image again.
 */
export async function readHeifExif(buf: Buffer): Promise<PhotoExif> {
  let exif = await readExif(buf);
  if (!hasAny(exif)) {
    try {
      const block = (await sharp(buf).metadata()).exif;
      // libvips hands the TIFF block, sometimes behind JPEG's "Exif\0\0" marker, which exifr would not expect here.
      const tiff = block?.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? block.subarray(6) : block;
      if (tiff && tiff.length > 8) exif = await readExif(tiff);
    } catch {
      // no readable container metadata: no EXIF
    }
  }
  return { ...exif, orientation: null };
}
