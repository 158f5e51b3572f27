/** Small generated images for tests: no fixtures on disk, nothing from ../shared. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';

export function tmpDir(prefix = 'shoebox-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A JPEG of a solid colour with deterministic noise so different seeds give different content. */
export async function jpeg(
  file: string,
  opts: { width?: number; height?: number; rgb?: [number, number, number]; seed?: number; exif?: Record<string, Record<string, string>>; orientation?: number } = {},
): Promise<Buffer> {
  const w = opts.width ?? 64;
  const h = opts.height ?? 48;
  const [r, g, b] = opts.rgb ?? [200, 80, 40];
  const raw = Buffer.alloc(w * h * 3);
  let s = (opts.seed ?? 1) >>> 0 || 1;
  for (let i = 0; i < w * h; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const n = ((s >>> 0) % 41) - 20;
    raw[3 * i] = Math.max(0, Math.min(255, r + n));
    raw[3 * i + 1] = Math.max(0, Math.min(255, g + n));
    raw[3 * i + 2] = Math.max(0, Math.min(255, b + n));
  }
  let img = sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 });
  if (opts.exif) img = img.withExif(opts.exif);
  if (opts.orientation) img = img.withMetadata({ orientation: opts.orientation });
  const buf = await img.toBuffer();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, buf);
  return buf;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A tiny PNG file whose header claims width x height (a decompression bomb's header; the body is a few rows). */
export function pngBomb(file: string, width = 30000, height = 30000): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const rows = Buffer.alloc((width + 1) * 4); // 4 rows of zeros: compresses to almost nothing
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  fs.writeFileSync(file, png);
}

/**
 * A photo from one of a few visually distinct "scenes" (for clustering tests):
 * 0 warm noisy texture, 1 green vertical stripes, 2 blue sky gradient with a white disc, 3 dark checkerboard.
 */
export async function scenePhoto(file: string, scene: number, seed: number, size = 160): Promise<void> {
  let s = (seed * 2654435761) >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const w = size;
  const h = Math.round(size * 0.75);
  const raw = Buffer.alloc(w * h * 3);
  const phase = rnd() * 20;
  const period = 12 + Math.floor(rnd() * 3);
  const cx = w * (0.3 + 0.4 * rnd());
  const cy = h * (0.3 + 0.4 * rnd());
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r: number;
      let g: number;
      let b: number;
      const n = (rnd() - 0.5) * 30;
      switch (scene % 4) {
        case 0:
          r = 200 + n * 2;
          g = 90 + n * 2;
          b = 40 + n;
          break;
        case 1: {
          const on = Math.floor((x + phase) / period) % 2 === 0;
          r = on ? 30 : 120;
          g = on ? 160 : 220;
          b = on ? 40 : 90;
          r += n;
          g += n;
          break;
        }
        case 2: {
          const d = Math.hypot(x - cx, y - cy);
          const sky = 255 - (y / h) * 120;
          r = d < h / 6 ? 250 : 80 + n;
          g = d < h / 6 ? 250 : 140 + n;
          b = d < h / 6 ? 250 : sky;
          break;
        }
        default: {
          const c = (Math.floor(x / 12) + Math.floor(y / 12)) % 2 === 0;
          r = g = b = c ? 20 + n : 70 + n;
        }
      }
      const o = 3 * (y * w + x);
      raw[o] = Math.max(0, Math.min(255, r));
      raw[o + 1] = Math.max(0, Math.min(255, g));
      raw[o + 2] = Math.max(0, Math.min(255, b));
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 88 }).toFile(file);
}

export interface PhotoMeta {
  /** "YYYY:MM:DD HH:MM:SS" */
  date?: string;
  offset?: string;
  gps?: { lat: number; lon: number };
  make?: string;
  model?: string;
}

const dms = (v: number): string => {
  const a = Math.abs(v);
  const d = Math.floor(a);
  const m = Math.floor((a - d) * 60);
  const s = Math.round(((a - d) * 60 - m) * 60 * 100);
  return `${d}/1 ${m}/1 ${s}/100`;
};

/** Rewrites a JPEG with EXIF: capture date (and offset), camera, GPS. */
export async function withMeta(file: string, meta: PhotoMeta): Promise<void> {
  const exif: Record<string, Record<string, string>> = { IFD0: {}, IFD2: {}, IFD3: {} };
  if (meta.make) exif.IFD0.Make = meta.make;
  if (meta.model) exif.IFD0.Model = meta.model;
  if (meta.date) exif.IFD2.DateTimeOriginal = meta.date;
  if (meta.offset) exif.IFD2.OffsetTimeOriginal = meta.offset;
  if (meta.gps) {
    exif.IFD3 = {
      GPSLatitudeRef: meta.gps.lat >= 0 ? 'N' : 'S',
      GPSLatitude: dms(meta.gps.lat),
      GPSLongitudeRef: meta.gps.lon >= 0 ? 'E' : 'W',
      GPSLongitude: dms(meta.gps.lon),
    };
  }
  const buf = await sharp(fs.readFileSync(file)).jpeg({ quality: 90 }).withExif(exif).toBuffer();
  fs.writeFileSync(file, buf);
}
