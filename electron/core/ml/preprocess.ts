/**
 * Image pre-processing for the encoder, exactly as its manifest prescribes:
 *
 *   decode (sharp/libvips; JPEG shrink-on-load) -> EXIF auto-rotation -> flatten alpha on white -> sRGB, 8 bit
 *   -> resize ('cover': scale to cover, centre-crop; 'fill': stretch) -> float32: range, then (x - mean) / std
 *   -> the manifest's layout (NHWC or NCHW).
 *
 * Decoding runs on libuv's thread pool (HEVC-coded HEIC: libheif-js in a worker thread, library/heic.ts); the float
 * conversion is a table lookup on the calling thread. Bad input never throws anything but an `ImageError` with a code.
 */
import { open, readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { CreateRaw } from 'sharp';
import type { EncoderManifest } from '../../../training/manifest.js';
import { decodeHeic, mayNeedHeicDecoder, needsHeicDecoder } from '../library/heic.js';
import { MAX_INPUT_PIXELS } from '../library/thumbs.js';
import { ImageError, decodeImageError, fsImageError } from './errors.js';

/** The parts of a manifest pre-processing depends on. */
export type PreprocessSpec = Pick<EncoderManifest, 'input' | 'preprocess'>;

/** Resampling kernel used when resizing (sharp's names). */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

export interface DecodeOptions {
  /** Reject images declaring more pixels than this (decompression-bomb guard); default 100 MP. */
  maxPixels?: number;
  /**
   * Resampling kernel; default 'cubic' (Catmull-Rom; libvips scales the kernel when shrinking, so it antialiases).
   * On 256 px thumbnails going to a 320 px model input it costs 4.7 CPU ms per image where lanczos3 costs 6.6.
   */
  kernel?: ResizeKernel;
  /**
   * The inputs have no alpha channel (e.g. the scan's JPEG thumbnails): skip flattening onto white, which costs
   * about 0.5 ms per image even when there is nothing to flatten. Default false.
   */
  opaque?: boolean;
}

/** The decoder's pixel limit: the scanner's (library/thumbs.ts), so a photo the scan accepted also decodes here. */
export const DEFAULT_MAX_PIXELS = MAX_INPUT_PIXELS;

/** Decoded, resized pixels: interleaved 8-bit RGB, `width * height * 3` bytes, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

const WHITE = { r: 255, g: 255, b: 255 };

/**
 * Decode `input` (a path or encoded bytes) to `width x height` 8-bit RGB as the manifest says.
 * Rejects with `ImageError` (NOT_FOUND, UNREADABLE, EMPTY_FILE, TOO_LARGE, DECODE_FAILED); never anything else.
 * A path should name a regular file, as the scanner's walk and the thumbnail cache only give (a named pipe would
 * keep a decode thread waiting); a directory or a missing file is told apart after the decoder fails.
 */
export async function decodeRgb(input: string | Uint8Array, spec: PreprocessSpec, opts: DecodeOptions = {}): Promise<RgbImage> {
  if (typeof input !== 'string' && input.byteLength === 0) throw new ImageError('EMPTY_FILE', 'empty buffer');
  const what = typeof input === 'string' ? input : `${input.byteLength}-byte buffer`;
  // A path goes straight to libvips, so the whole decode is one job on libuv's pool: a `stat` first would need
  // the JS thread between the two steps, which inference may be holding (the embedder queues decodes before
  // each run). The file is examined only when decoding fails, to say why (or to find HEIC that sharp cannot read).
  try {
    if (typeof input !== 'string' && (await needsHeicDecoder(input))) return await decodeHeicRgb(input, what, spec, opts);
    return await decodeWithSharp(input, spec, opts);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    if (typeof input === 'string') {
      let size: number;
      let head: Uint8Array;
      try {
        const st = await stat(input);
        if (!st.isFile()) throw new ImageError('UNREADABLE', `not a regular file: ${input}`);
        size = st.size;
        const fd = await open(input, 'r');
        try {
          head = new Uint8Array(4096);
          head = head.subarray(0, (await fd.read(head, 0, head.length, 0)).bytesRead);
        } finally {
          await fd.close();
        }
      } catch (se) {
        throw se instanceof ImageError ? se : fsImageError(se, input);
      }
      if (size === 0) throw new ImageError('EMPTY_FILE', `empty file: ${input}`);
      if (mayNeedHeicDecoder(head)) {
        let buf: Buffer;
        try {
          buf = await readFile(input);
        } catch (re) {
          throw fsImageError(re, input);
        }
        if (await needsHeicDecoder(buf)) return await decodeHeicRgb(buf, what, spec, opts);
      }
    }
    throw decodeImageError(e, what);
  }
}

/** HEIC via libheif-js (its transforms applied, no EXIF rotation), then the same resize and conversion as sharp's. */
async function decodeHeicRgb(buf: Uint8Array, what: string, spec: PreprocessSpec, opts: DecodeOptions): Promise<RgbImage> {
  let px;
  try {
    px = await decodeHeic(buf, { maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS });
  } catch (e) {
    throw e instanceof ImageError ? new ImageError(e.code, `${what}: ${e.message}`, { cause: e }) : decodeImageError(e, what);
  }
  const raw: CreateRaw = { width: px.width, height: px.height, channels: px.channels, premultiplied: px.premultiplied };
  try {
    return await decodeWithSharp(px.data, spec, { ...opts, opaque: opts.opaque || px.channels === 3 }, raw);
  } catch (e) {
    throw decodeImageError(e, what);
  }
}

async function decodeWithSharp(input: string | Uint8Array, spec: PreprocessSpec, opts: DecodeOptions, raw?: CreateRaw): Promise<RgbImage> {
  const { width, height } = spec.input;
  const img = sharp(input, {
    raw,
    limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    // Abort on truncated/corrupt pixel data, but tolerate the benign warnings many camera JPEGs trigger.
    failOn: 'truncated',
    autoOrient: true,
    sequentialRead: true,
  });
  const { data, info } = await (opts.opaque ? img : img.flatten({ background: WHITE }))
    .resize({
      width,
      height,
      fit: spec.preprocess.resize,
      position: 'centre',
      kernel: opts.kernel ?? 'cubic',
      fastShrinkOnLoad: true,
    })
    // Greyscale, CMYK, 16-bit and wide-gamut inputs all end up as 8-bit sRGB.
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3 || data.length !== width * height * 3) {
    throw new Error(`unexpected decoder output ${info.width}x${info.height}x${info.channels}`);
  }
  return { data, width, height };
}

/** Writes one decoded image as normalized floats into a batch buffer at element `offset`. */
export type Normalizer = (rgb: Uint8Array, out: Float32Array, offset: number) => void;

/**
 * Build the uint8 RGB -> float32 converter for a manifest: `v = range[0] + (range[1] - range[0]) * p / 255`,
 * then `(v - mean[c]) / std[c]`, written in the manifest's layout. Uses a 3x256 lookup table.
 */
export function createNormalizer(spec: PreprocessSpec): Normalizer {
  const { width, height, layout } = spec.input;
  const { range, mean, std } = spec.preprocess;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 256; p++) {
      const v = range[0] + ((range[1] - range[0]) * p) / 255;
      lut[c * 256 + p] = (v - mean[c]) / std[c];
    }
  }
  const plane = width * height;
  if (layout === 'NHWC' && lut.every((v, i) => v === i % 256)) {
    // Raw 0..255 values in sharp's own layout (the default encoder): a native uint8 -> float32 copy, about 20x
    // faster than the table loop on the thread that also runs inference.
    return (rgb, out, offset) => {
      if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} bytes, got ${rgb.length}`);
      out.set(rgb, offset);
    };
  }
  if (layout === 'NHWC') {
    return (rgb, out, offset) => {
      if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} bytes, got ${rgb.length}`);
      for (let i = 0; i < plane * 3; i += 3) {
        out[offset + i] = lut[rgb[i]];
        out[offset + i + 1] = lut[256 + rgb[i + 1]];
        out[offset + i + 2] = lut[512 + rgb[i + 2]];
      }
    };
  }
  return (rgb, out, offset) => {
    if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} bytes, got ${rgb.length}`);
    const g = offset + plane;
    const b = offset + 2 * plane;
    for (let i = 0, j = 0; j < plane; i += 3, j++) {
      out[offset + j] = lut[rgb[i]];
      out[g + j] = lut[256 + rgb[i + 1]];
      out[b + j] = lut[512 + rgb[i + 2]];
    }
  };
}

/** Number of float32 elements one pre-processed image occupies. */
export function elementsPerImage(spec: PreprocessSpec): number {
  return spec.input.width * spec.input.height * spec.input.channels;
}

/** Decode and normalize one image into a fresh `Float32Array` (one batch item, the manifest's layout). */
export async function preprocessImage(input: string | Uint8Array, spec: PreprocessSpec, opts: DecodeOptions = {}): Promise<Float32Array> {
  const rgb = await decodeRgb(input, spec, opts);
  const out = new Float32Array(elementsPerImage(spec));
  createNormalizer(spec)(rgb.data, out, 0);
  return out;
}
