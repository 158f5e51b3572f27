import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { threadId } from 'node:worker_threads';
import sharp from 'sharp';
import type { JobInfo } from '../../../../electron/core/api/contract.js';
import { openDatabase, type Db } from '../../../../electron/core/db/database.js';
import { JobContext } from '../../../../electron/core/jobs.js';
import {
  closeHeicDecoders,
  decodeHeic,
  ftypBrands,
  heifCodec,
  heifErrorToFileError,
  heicDecoderInstalled,
  heicWorkerCount,
  needsHeicDecoder,
  readHeifExif,
  SHARP_DECODES,
} from '../../../../electron/core/library/heic.js';
import { scanLibrary } from '../../../../electron/core/library/scanner.js';
import { makePreview, MAX_INPUT_PIXELS, probe, thumbFile } from '../../../../electron/core/library/thumbs.js';
import { decodeRgb, type PreprocessSpec } from '../../../../electron/core/ml/preprocess.js';
import { tmpDir } from '../../../helpers/images.js';
import { DIST, REPO } from '../../../helpers/repo.js';

// test/fixtures/README.md says how this file was made: libheif 1.15.1's heif-enc (x265) from a 600x400 JPEG whose
// pixel (x, y) is its quadrant's colour plus 40(x/600 - 0.5) + 40(y/400 - 0.5), with EXIF date, GPS, Orientation 6.
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'heic-600x400-exif.heic');
const FIXTURE_SHA256 = 'a09d201dd3a19c898249ce8d127db6c0d36ff91e981c55979d171b088fa4f8d7';
const QUADRANTS = { tl: [200, 40, 40], tr: [40, 180, 60], bl: [40, 60, 200], br: [180, 180, 180] } as const;

// Without libheif-js every HEIC is an UNSUPPORTED row, which the last test checks.
const HAVE_DECODER = heicDecoderInstalled();
const skipWithout = HAVE_DECODER ? false : 'libheif-js is not installed';

const dirs: string[] = [];
after(async () => {
  await closeHeicDecoders();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function fixture(): Buffer {
  return fs.readFileSync(FIXTURE);
}

/** The generator's colour at (x, y) of the 600x400 source. */
function expected(x: number, y: number): number[] {
  const c = y < 200 ? (x < 300 ? QUADRANTS.tl : QUADRANTS.tr) : x < 300 ? QUADRANTS.bl : QUADRANTS.br;
  const g = 40 * (x / 600 - 0.5) + 40 * (y / 400 - 0.5);
  return c.map((v) => v + g);
}

/** Mean colours of the 100x100 blocks of a 600x400 (or 400x600) image, each over its inner 80x80: of a linear ramp, that is its centre's value. */
function cells(px: { data: Buffer; width: number; height: number; channels: number }): number[][][] {
  const w = px.width / 100;
  const h = px.height / 100;
  return Array.from({ length: h }, (_, by) =>
    Array.from({ length: w }, (_, bx) => {
      const sum = [0, 0, 0];
      for (let y = by * 100 + 10; y < by * 100 + 90; y++) {
        for (let x = bx * 100 + 10; x < bx * 100 + 90; x++)
          for (let k = 0; k < 3; k++) sum[k] += px.data[(y * px.width + x) * px.channels + k];
      }
      return sum.map((v) => v / 6400);
    }),
  );
}

function near(actual: number[], want: number[], tol: number, what: string): void {
  for (let k = 0; k < 3; k++)
    assert.ok(Math.abs(actual[k] - want[k]) <= tol, `${what}: got ${actual.join(',')}, expected about ${want.map(Math.round).join(',')}`);
}

// --- a HEIF box editor for one test: add an irot (rotation) property to the primary item, as iPhones write ---

function readUint(b: Buffer, o: number, n: number): number {
  return n === 0 ? 0 : b.readUIntBE(o, n);
}

interface Box {
  type: string;
  start: number;
  end: number;
}

function children(b: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  for (let o = start; o + 8 <= end;) {
    const size = b.readUInt32BE(o);
    assert.ok(size >= 8, 'the fixture uses 32-bit box sizes');
    out.push({ type: b.toString('latin1', o + 4, o + 8), start: o, end: o + size });
    o += size;
  }
  return out;
}

const find = (list: Box[], type: string): Box => {
  const box = list.find((x) => x.type === type);
  assert.ok(box, `box ${type}`);
  return box;
};

function withSize(b: Buffer): Buffer {
  b.writeUInt32BE(b.length, 0);
  return b;
}

/** The file with an `irot` of `quarterTurns` x 90° anticlockwise on its primary image; everything else unchanged. */
function addIrot(file: Buffer, quarterTurns: number): Buffer {
  const top = children(file, 0, file.length);
  const meta = find(top, 'meta');
  assert.ok(top.indexOf(meta) < top.indexOf(find(top, 'mdat')), 'mdat follows meta');
  const inMeta = children(file, meta.start + 12, meta.end);
  const primary = readUint(file, find(inMeta, 'pitm').start + 12, 2);
  const iprp = find(inMeta, 'iprp');
  const inIprp = children(file, iprp.start + 8, iprp.end);
  const ipco = find(inIprp, 'ipco');
  const ipma = find(inIprp, 'ipma');
  const irotIndex = children(file, ipco.start + 8, ipco.end).length + 1;
  const newIpco = withSize(
    Buffer.concat([file.subarray(ipco.start, ipco.end), Buffer.from([0, 0, 0, 9, ...Buffer.from('irot'), quarterTurns & 3])]),
  );
  // ipma: per item, its property indices; the primary item gets the new one, marked essential.
  const version = file[ipma.start + 8];
  const wide = (file.readUInt32BE(ipma.start + 8) & 1) === 1;
  const parts: Buffer[] = [file.subarray(ipma.start, ipma.start + 16)];
  let o = ipma.start + 16;
  for (let n = file.readUInt32BE(ipma.start + 12); n > 0; n--) {
    const idLen = version < 1 ? 2 : 4;
    const item = readUint(file, o, idLen);
    const count = file[o + idLen];
    const assocLen = count * (wide ? 2 : 1);
    const assoc = file.subarray(o + idLen + 1, o + idLen + 1 + assocLen);
    if (item === primary) {
      const extra = wide ? Buffer.from([0x80 | (irotIndex >> 8), irotIndex & 0xff]) : Buffer.from([0x80 | irotIndex]);
      parts.push(file.subarray(o, o + idLen), Buffer.from([count + 1]), assoc, extra);
    } else {
      parts.push(file.subarray(o, o + idLen + 1 + assocLen));
    }
    o += idLen + 1 + assocLen;
  }
  const newIpma = withSize(Buffer.concat(parts));
  const newIprp = withSize(Buffer.concat([file.subarray(iprp.start, iprp.start + 8), newIpco, newIpma]));
  const delta = newIprp.length - (iprp.end - iprp.start);
  // iloc points into mdat with absolute offsets, which all move by `delta`.
  const ilocBox = find(inMeta, 'iloc');
  const iloc = Buffer.from(file.subarray(ilocBox.start, ilocBox.end));
  const v = iloc[8];
  const offsetSize = iloc[12] >> 4;
  const lengthSize = iloc[12] & 15;
  const baseSize = iloc[13] >> 4;
  const indexSize = v === 1 || v === 2 ? iloc[13] & 15 : 0;
  let p = 14;
  const itemCount = readUint(iloc, p, v < 2 ? 2 : 4);
  p += v < 2 ? 2 : 4;
  for (let i = 0; i < itemCount; i++) {
    p += v < 2 ? 2 : 4;
    if (v === 1 || v === 2) {
      assert.equal(iloc.readUInt16BE(p) & 15, 0, 'construction method 0 (file offsets)');
      p += 2;
    }
    p += 2; // data_reference_index
    const base = p;
    p += baseSize;
    const extents = iloc.readUInt16BE(p);
    p += 2;
    if (baseSize > 0) iloc.writeUIntBE(readUint(iloc, base, baseSize) + delta, base, baseSize);
    for (let e = 0; e < extents; e++) {
      p += indexSize;
      if (baseSize === 0) iloc.writeUIntBE(readUint(iloc, p, offsetSize) + delta, p, offsetSize);
      p += offsetSize + lengthSize;
    }
  }
  const metaBody = Buffer.concat([
    file.subarray(meta.start, ilocBox.start),
    iloc,
    file.subarray(ilocBox.end, iprp.start),
    newIprp,
    file.subarray(iprp.end, meta.end),
  ]);
  return Buffer.concat([file.subarray(0, meta.start), withSize(metaBody), file.subarray(meta.end)]);
}

// --- scanning ---

function ctx(): JobContext {
  const info: JobInfo = {
    id: 't',
    kind: 'scan',
    state: 'running',
    stage: null,
    done: 0,
    total: 0,
    rate: 0,
    etaSec: null,
    message: '',
    startedAt: Date.now(),
    finishedAt: null,
  };
  return new JobContext(info, new AbortController(), () => {});
}

interface Row {
  rel_path: string;
  status: string;
  error_code: string | null;
  error_message: string | null;
  hash: string | null;
  width: number | null;
  height: number | null;
  format: string | null;
  taken_at: number | null;
  tz: string | null;
  camera: string | null;
  lat: number | null;
  lon: number | null;
  orientation: number | null;
}

async function scanFolder(
  files: Record<string, Buffer>,
): Promise<{ db: Db; cache: string; row: (p: string) => Row; thumb: (p: string) => { width: number; height: number } }> {
  const root = tmpDir('shoebox-heic-root-');
  const lib = tmpDir('shoebox-heic-lib-');
  dirs.push(root, lib);
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(root, name), data);
  const db = openDatabase(lib);
  db.prepare('INSERT INTO roots(path, added_at) VALUES (?, ?)').run(fs.realpathSync(root), Date.now());
  const cache = path.join(lib, 'cache');
  await scanLibrary(db, { cacheDir: cache }, ctx());
  const row = (p: string): Row => {
    const r = db.prepare('SELECT * FROM photos WHERE rel_path = ?').get(p) as Row | undefined;
    assert.ok(r, `a row for ${p}`);
    return r;
  };
  const thumb = (p: string): { width: number; height: number } =>
    db
      .prepare(`SELECT t.width, t.height FROM thumbnails t JOIN photos p ON p.id = t.photo_id WHERE p.rel_path = ? AND t.kind = 'thumb'`)
      .get(p) as {
      width: number;
      height: number;
    };
  return { db, cache, row, thumb };
}

describe('HEIC detection', () => {
  test('ftyp brands tell HEVC HEIF from AVIF and from other ISO-BMFF files', () => {
    const ftyp = (major: string, ...compat: string[]): Buffer => {
      const b = Buffer.alloc(16 + 4 * compat.length);
      b.writeUInt32BE(b.length, 0);
      b.write('ftyp', 4, 'latin1');
      b.write(major, 8, 'latin1');
      compat.forEach((c, i) => b.write(c, 16 + 4 * i, 'latin1'));
      return b;
    };
    assert.deepEqual(ftypBrands(ftyp('heic', 'mif1', 'heic')), ['heic', 'mif1', 'heic']);
    assert.equal(heifCodec(ftyp('heic', 'mif1', 'heic')), 'hevc');
    assert.equal(heifCodec(ftyp('mif1', 'heic')), 'hevc');
    for (const b of ['heix', 'hevc', 'heim', 'heis', 'hevm', 'hevs']) assert.equal(heifCodec(ftyp(b)), 'hevc', b);
    assert.equal(heifCodec(ftyp('avif', 'mif1', 'miaf')), 'av1');
    assert.equal(heifCodec(ftyp('mif1', 'miaf')), 'unknown');
    assert.equal(heifCodec(ftyp('msf1')), 'unknown');
    assert.equal(heifCodec(ftyp('isom', 'mp42')), null, 'an MP4 video is not HEIF');
    assert.equal(heifCodec(Buffer.from('\xff\xd8\xff\xe0 not a box at all', 'latin1')), null);
    assert.equal(ftypBrands(Buffer.alloc(10)), null);
  });

  test("libheif's errors become the scanner's codes, with libheif's words as the reason", () => {
    const j = (code: number, sub: number, msg: string, seq = false): unknown => heifErrorToFileError(code, sub, msg, seq).toJSON();
    assert.deepEqual(j(4, 3000, 'Unsupported feature: Unsupported codec'), {
      code: 'UNSUPPORTED',
      message: 'HEIC variant not supported: Unsupported feature: Unsupported codec',
    });
    assert.deepEqual(j(7, 6003, 'No decoder'), { code: 'UNSUPPORTED', message: 'HEIC variant not supported: No decoder' });
    assert.deepEqual(j(2, 100, 'Invalid input: Unexpected end of file'), {
      code: 'DECODE_FAILED',
      message: 'HEIC file is corrupt or truncated: Invalid input: Unexpected end of file',
    });
    assert.equal(
      (j(2, 124, 'No or invalid primary item', true) as { code: string }).code,
      'UNSUPPORTED',
      'a sequence without a still image',
    );
    assert.equal((j(2, 124, 'No or invalid primary item') as { code: string }).code, 'DECODE_FAILED');
    assert.equal((j(6, 0, 'Memory allocation error') as { code: string }).code, 'TOO_LARGE');
    assert.equal((j(5, 1000, 'Security limit exceeded') as { code: string }).code, 'TOO_LARGE');
  });

  test('AVIF stays with sharp; HEVC HEIC goes to libheif', async () => {
    const avif = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 10, g: 200, b: 30 } } })
      .avif()
      .toBuffer();
    assert.equal(heifCodec(avif), 'av1');
    assert.equal(await needsHeicDecoder(avif), !SHARP_DECODES.av1);
    assert.equal(await needsHeicDecoder(fixture()), !SHARP_DECODES.hevc);
    if (SHARP_DECODES.av1) assert.deepEqual(await probe(avif), { width: 32, height: 24, format: 'heif', orientation: null });
  });
});

describe('HEIC decoding', { skip: skipWithout }, () => {
  test('the fixture is the documented file', () => {
    assert.equal(createHash('sha256').update(fixture()).digest('hex'), FIXTURE_SHA256);
  });

  test('the real HEIC decodes to its size and its colours, in a worker thread', async () => {
    const t0 = performance.now();
    const px = await decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS });
    const wall = performance.now() - t0;
    assert.deepEqual([px.width, px.height, px.channels, px.data.length], [600, 400, 3, 600 * 400 * 3]);
    assert.notEqual(px.threadId, threadId, 'decoded off the calling thread');
    assert.ok(heicWorkerCount() >= 1);
    // HEVC at quality 70 and 4:2:0 keeps a 100x100 block's mean within a few levels of the source.
    const got = cells(px);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) near(got[y][x], expected(100 * x + 50, 100 * y + 50), 10, `cell ${x},${y}`);
    // EXIF Orientation 6 is in the file, and is not applied: HEIF's own transforms decide (there are none).
    console.log(
      `# HEIC fixture: decoded in ${px.ms.toFixed(0)} ms in the worker, ${wall.toFixed(0)} ms with the hand-off (worker start included on a first call)`,
    );
  });

  test('the worker is reused, and the process can exit with it idle', async () => {
    const a = await decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS });
    const b = await decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS });
    assert.equal(a.threadId, b.threadId, 'one worker serves consecutive calls');
    const script = `import { decodeHeic } from ${JSON.stringify(path.join(DIST, 'electron/core/library/heic.js'))};
      const px = await decodeHeic((await import('node:fs')).readFileSync(${JSON.stringify(FIXTURE)}), { maxPixels: 1e9 });
      console.log(px.width + 'x' + px.height);`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 }); // flags a worker must not inherit
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '600x400');
    assert.ok(Date.now() - t0 < 10_000, 'an idle decoder worker does not keep the process alive');
  });

  test('decodes are bounded: pixel limit before decoding, time limit, and the pool recovers', async () => {
    await assert.rejects(decodeHeic(fixture(), { maxPixels: 100_000 }), {
      code: 'TOO_LARGE',
      message: /600x400, larger than 0\.1 megapixels/,
    });
    await assert.rejects(decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS, timeoutMs: 1 }), {
      code: 'DECODE_FAILED',
      message: /did not finish within 1 ms/,
    });
    const px = await decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS });
    assert.equal(px.width, 600, 'a timed-out worker is replaced');
  });

  test('many decodes at once share a few workers', async () => {
    const all = await Promise.all(Array.from({ length: 12 }, () => decodeHeic(fixture(), { maxPixels: MAX_INPUT_PIXELS })));
    assert.ok(all.every((p) => p.width === 600));
    const threads = new Set(all.map((p) => p.threadId));
    assert.ok(threads.size >= 1 && threads.size <= 4, `${threads.size} workers`);
    assert.ok(!threads.has(threadId));
  });

  test('irot is applied by libheif, and EXIF orientation is not applied on top of it', async () => {
    const rotated = addIrot(fixture(), 1); // 90° anticlockwise, with the file's EXIF Orientation 6 still there, as iPhones write
    const px = await decodeHeic(rotated, { maxPixels: MAX_INPUT_PIXELS });
    assert.deepEqual([px.width, px.height], [400, 600]);
    const got = cells(px); // 4 wide, 6 high: the source's top-left (red) is now bottom-left
    near(got[5][0], expected(50, 50), 10, 'bottom-left is the source top-left');
    near(got[0][3], expected(550, 350), 10, 'top-right is the source bottom-right');
    assert.deepEqual(await probe(rotated), { width: 400, height: 600, format: 'heif', orientation: null });
  });

  test('EXIF is read from the HEIC container (date, offset, camera, GPS), without its orientation', async () => {
    const e = await readHeifExif(fixture());
    assert.equal(e.takenAt, Date.UTC(2021, 6, 4, 13, 30, 0));
    assert.equal(e.tz, '+02:00');
    assert.equal(e.camera, 'Shoebox test fixture');
    assert.ok(Math.abs(e.lat! - 48.8584) < 1e-6 && Math.abs(e.lon! - 2.2945) < 1e-6, `${e.lat},${e.lon}`);
    assert.equal(e.orientation, null);
  });

  test('a scan gives the HEIC an ok row with its size, EXIF and a thumbnail; broken ones get error rows with reasons', async () => {
    const good = fixture();
    const garbage = Buffer.concat([good.subarray(0, 28), Buffer.from('not an image, just bytes after an HEIC ftyp box '.repeat(20))]);
    const { row, thumb, cache } = await scanFolder({
      'IMG_0001.HEIC': good,
      'IMG_0002.heic': addIrot(good, 1),
      'truncated.heic': good.subarray(0, Math.floor(good.length * 0.6)),
      'garbage.heic': garbage,
    });
    const ok = row('IMG_0001.HEIC');
    assert.equal(ok.status, 'ok', ok.error_message ?? '');
    assert.deepEqual([ok.width, ok.height, ok.format, ok.orientation], [600, 400, 'heif', null]);
    assert.deepEqual(thumb('IMG_0001.HEIC'), { width: 384, height: 256 });
    const jpg = await sharp(thumbFile(cache, ok.hash!, 'thumb'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([jpg.info.width, jpg.info.height, jpg.info.channels], [384, 256, 3]);
    near([...jpg.data.subarray((64 * 384 + 96) * 3, (64 * 384 + 96) * 3 + 3)], expected(150, 100), 16, 'thumbnail top-left quadrant');
    assert.equal(ok.taken_at, Date.UTC(2021, 6, 4, 13, 30, 0));
    assert.equal(ok.tz, '+02:00');
    assert.equal(ok.camera, 'Shoebox test fixture');
    assert.ok(Math.abs(ok.lat! - 48.8584) < 1e-6);

    const turned = row('IMG_0002.heic');
    assert.equal(turned.status, 'ok');
    assert.deepEqual([turned.width, turned.height], [400, 600]);
    assert.deepEqual(thumb('IMG_0002.heic'), { width: 256, height: 384 });

    const t = row('truncated.heic');
    assert.deepEqual([t.status, t.error_code], ['error', 'DECODE_FAILED']);
    assert.match(t.error_message ?? '', /^HEIC file is corrupt or truncated: .*end of file/i);
    const g = row('garbage.heic');
    assert.deepEqual([g.status, g.error_code], ['error', 'DECODE_FAILED']);
    assert.match(g.error_message ?? '', /^HEIC file is corrupt or truncated: .+/);
  });

  test('HEIC that an older build refused for lack of a decoder is read again, unchanged as it is', async () => {
    const { db, row } = await scanFolder({ 'IMG_0004.HEIC': fixture() });
    db.prepare(
      `UPDATE photos SET status = 'unsupported', error_code = 'UNSUPPORTED', hash = NULL, width = NULL, height = NULL,
         error_message = 'HEIC/HEIF photos encoded with HEVC cannot be decoded by this build; export them as JPEG to include them'`,
    ).run();
    const cacheDir = tmpDir('shoebox-heic-cache-');
    dirs.push(cacheDir);
    const s = await scanLibrary(db, { cacheDir }, ctx());
    assert.equal(s.unchanged, 0);
    assert.deepEqual([row('IMG_0004.HEIC').status, row('IMG_0004.HEIC').width], ['ok', 600]);
    db.prepare(
      `UPDATE photos SET status = 'unsupported', error_code = 'UNSUPPORTED', error_message = 'HEIC variant not supported: x'`,
    ).run();
    const again = await scanLibrary(db, { cacheDir }, ctx());
    assert.equal(again.unchanged, 1, "libheif's own refusal is final until the file changes");
  });

  test('previews and the encoder input decode HEIC too', async () => {
    const dir = tmpDir('shoebox-heic-preview-');
    dirs.push(dir);
    const src = path.join(dir, 'IMG_0003.HEIC');
    fs.writeFileSync(src, addIrot(fixture(), 1));
    assert.deepEqual(await makePreview(src, path.join(dir, 'p.webp')), { width: 400, height: 600 });
    const spec: PreprocessSpec = {
      input: { name: 'x', layout: 'NHWC', width: 64, height: 64, channels: 3, dtype: 'float32' },
      preprocess: { resize: 'fill', range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] },
    };
    for (const input of [src, fs.readFileSync(src)]) {
      const rgb = await decodeRgb(input, spec);
      assert.deepEqual([rgb.width, rgb.height, rgb.data.length], [64, 64, 64 * 64 * 3]);
      // Rotated: the source's top-left (red) is the bottom-left corner of the model input.
      const at = (x: number, y: number): number[] => [...rgb.data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
      near(at(8, 56), expected(50, 50), 20, 'model input bottom-left');
    }
    await assert.rejects(decodeRgb(fixture().subarray(0, 3000), spec), {
      code: 'DECODE_FAILED',
      message: /HEIC file is corrupt or truncated/,
    });
  });
});

test(
  'without the HEIC decoder, HEIC files are unsupported rows that say so',
  { skip: HAVE_DECODER ? 'libheif-js is installed' : false },
  async () => {
    const { row } = await scanFolder({ 'IMG_0001.HEIC': fixture() });
    const r = row('IMG_0001.HEIC');
    assert.deepEqual([r.status, r.error_code], ['unsupported', 'UNSUPPORTED']);
    assert.match(r.error_message ?? '', /HEIC decoder \(libheif-js\), which is not installed/);
  },
);
