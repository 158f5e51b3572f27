/**
 * Decoding and thumbnails with sharp. Thumbnails live in the library's cache folder, keyed by content hash, so
 * moved/renamed files and exact duplicates share them. EXIF orientation is applied. Input pixels are bounded so
 * decompression bombs fail fast instead of eating memory. HEVC-coded HEIC is decoded by heic.ts (libheif-js in a
 * worker, with the file's own irot/imir transforms and no EXIF rotation) and its pixels go through the same sharp steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { FileError, fileErrorFromFs } from '../errors.js';
import { decodeHeic, mayNeedHeicDecoder, needsHeicDecoder } from './heic.js';

/** Largest image we decode: 150 megapixels (a 30000x30000 "bomb" is 900 MP). */
export const MAX_INPUT_PIXELS = 150_000_000;
/** Short side of grid thumbnails (also the embedder's input, so it is at least the model's 224 px). */
export const THUMB_SIZE = 256;
/** Long side of lightbox previews (made on demand). */
export const PREVIEW_SIZE = 1600;

export type ImageKind = 'thumb' | 'preview';

export interface DecodedInfo {
  width: number;
  height: number;
  format: string;
  orientation: number | null;
}

/**
 * Grid thumbnails are JPEG: on 2 cores libjpeg-turbo decodes a 256 px thumbnail (what the embed stage reads for
 * every photo) in 3.2 ms with the resize to the model input, WebP in 5.6 ms, and encodes it in 1.9 ms vs 4.0 ms
 * (files are about twice as big, ~9 KB). Previews stay WebP (made on demand, read once).
 */
export function thumbFile(cacheDir: string, hash: string, kind: ImageKind): string {
  return path.join(cacheDir, kind === 'thumb' ? 'thumbs' : 'previews', hash.slice(0, 2), `${hash}.${kind === 'thumb' ? 'jpg' : 'webp'}`);
}

/** The grid thumbnail's encoding (shared with the benchmarks' bare loops so they do the same work). */
export function encodeThumbnail(s: Sharp): Sharp {
  return s.jpeg({ quality: 82 });
}

/** Turn a sharp/libvips error into a clear per-file error. */
export function classifySharpError(e: unknown): FileError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(msg)) {
    return new FileError('TOO_LARGE', `image is larger than ${MAX_INPUT_PIXELS / 1e6} megapixels; skipped to protect memory`);
  }
  if (/unsupported image format/i.test(msg)) {
    return new FileError('DECODE_FAILED', 'not an image, or an image format Shoebox does not know');
  }
  if (/heif|heic|compression format has not been built in/i.test(msg)) {
    return new FileError('UNSUPPORTED', `this image format cannot be decoded by this build (${msg.split('\n')[0]})`);
  }
  return new FileError('DECODE_FAILED', `image is corrupt or truncated (${msg.split('\n')[0]})`);
}

function sharpOf(input: Buffer | string): Sharp {
  return sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', sequentialRead: true });
}

/**
 * A sharp pipeline with the image upright: HEIC decoded by libheif (transforms already applied, so no EXIF
 * rotation), anything else decoded by sharp with EXIF rotation. HEIC errors arrive as FileError.
 */
async function uprightImage(input: Buffer | string): Promise<Sharp> {
  let buf: Buffer | null = typeof input === 'string' ? null : input;
  if (typeof input === 'string') {
    // Only a file whose first bytes say HEIF is read whole here; everything else streams from disk as before.
    try {
      const head = Buffer.alloc(4096);
      const fd = await fs.promises.open(input, 'r');
      try {
        const { bytesRead } = await fd.read(head, 0, head.length, 0);
        if (mayNeedHeicDecoder(head.subarray(0, bytesRead))) buf = await fs.promises.readFile(input);
      } finally {
        await fd.close();
      }
    } catch (e) {
      throw fileErrorFromFs(e, 'file');
    }
  }
  if (buf && (await needsHeicDecoder(buf))) {
    const px = await decodeHeic(buf, { maxPixels: MAX_INPUT_PIXELS });
    return sharp(px.data, {
      raw: { width: px.width, height: px.height, channels: px.channels, premultiplied: px.premultiplied },
      limitInputPixels: MAX_INPUT_PIXELS,
    });
  }
  return sharpOf(input).rotate();
}

/** Read header-level facts (dimensions after EXIF rotation, format); throws FileError. */
export async function probe(buf: Buffer): Promise<DecodedInfo> {
  let meta: Metadata;
  try {
    meta = await sharpOf(buf).metadata();
  } catch (e) {
    // sharp reads HEIF headers; when it cannot, libheif decodes the file and says why (or gives its size).
    if (!(await needsHeicDecoder(buf))) throw classifySharpError(e);
    const px = await decodeHeic(buf, { maxPixels: MAX_INPUT_PIXELS });
    return { width: px.width, height: px.height, format: 'heif', orientation: null };
  }
  if (!meta.width || !meta.height) throw new FileError('DECODE_FAILED', 'image has no dimensions');
  if (meta.width * meta.height > MAX_INPUT_PIXELS) {
    throw new FileError(
      'TOO_LARGE',
      `image is ${meta.width}x${meta.height}, larger than ${MAX_INPUT_PIXELS / 1e6} megapixels; skipped to protect memory`,
    );
  }
  // For HEIF, libvips reports no EXIF orientation: irot/imir are the image's transforms (and already in its size).
  const o = meta.format === 'heif' ? null : (meta.orientation ?? null);
  const swap = o !== null && o >= 5 && o <= 8;
  return {
    width: swap ? meta.height : meta.width,
    height: swap ? meta.width : meta.height,
    format: meta.format ?? 'unknown',
    orientation: o,
  };
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.promises.writeFile(tmp, data);
  await fs.promises.rename(tmp, file);
}

/**
 * Write the grid thumbnail (short side THUMB_SIZE, JPEG) for an image buffer; decodes the full image once with
 * shrink-on-load. Returns the thumbnail's size. Throws FileError for undecodable input.
 */
export async function makeThumbnail(buf: Buffer, file: string): Promise<{ width: number; height: number }> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    const out0 = (await uprightImage(buf)).resize(THUMB_SIZE, THUMB_SIZE, {
      fit: 'outside',
      withoutEnlargement: true,
      fastShrinkOnLoad: true,
    });
    out = await encodeThumbnail(out0).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw e instanceof FileError ? e : classifySharpError(e);
  }
  await writeAtomic(file, out.data);
  return { width: out.info.width, height: out.info.height };
}

/** The original file upright (EXIF rotation applied, HEIC decoded), at most `maxSide` on its long side, as RGB. */
export async function uprightRgb(source: string, maxSide: number): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await (
      await uprightImage(source)
    )
      .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    throw e instanceof FileError ? e : classifySharpError(e);
  }
}

/** Write a lightbox preview (long side PREVIEW_SIZE) from the original file. */
export async function makePreview(source: string, file: string): Promise<{ width: number; height: number }> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await (
      await uprightImage(source)
    )
      .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 82 })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw e instanceof FileError ? e : classifySharpError(e);
  }
  await writeAtomic(file, out.data);
  return { width: out.info.width, height: out.info.height };
}

/** Disk the lightbox previews may take before the least recently shown are deleted (they are made again on demand). */
export const PREVIEW_CACHE_BYTES = 1024 ** 3;

/**
 * Keep the previews folder under `maxBytes`: when it is over, delete the least recently shown previews (oldest
 * modification time; a shown preview is touched) until it is at 80% of the limit. Previews touched in the last
 * minute stay, so one being served is never removed. Returns what it found and removed.
 */
export async function prunePreviews(
  cacheDir: string,
  maxBytes = PREVIEW_CACHE_BYTES,
  now = Date.now(),
): Promise<{ files: number; bytes: number; removed: number; removedBytes: number }> {
  const root = path.join(cacheDir, 'previews');
  const files: { file: string; size: number; mtime: number }[] = [];
  const list = (dir: string): Promise<string[]> => fs.promises.readdir(dir).catch(() => []);
  const dirs = await list(root);
  for (const d of dirs) {
    for (const n of await list(path.join(root, d))) {
      const file = path.join(root, d, n);
      try {
        const st = await fs.promises.stat(file);
        if (st.isFile()) files.push({ file, size: st.size, mtime: st.mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
  }
  const bytes = files.reduce((s, f) => s + f.size, 0);
  let left = bytes;
  let removed = 0;
  if (bytes > maxBytes) {
    files.sort((a, b) => a.mtime - b.mtime);
    for (const f of files) {
      if (left <= 0.8 * maxBytes || f.mtime > now - 60_000) break;
      try {
        await fs.promises.rm(f.file, { force: true });
        left -= f.size;
        removed++;
      } catch {
        // in use or gone: leave it
      }
    }
  }
  return { files: files.length, bytes, removed, removedBytes: bytes - left };
}
