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
