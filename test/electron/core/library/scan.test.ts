import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import type { JobInfo } from '../../../../electron/core/api/contract.js';
import { openDatabase, type Db } from '../../../../electron/core/db/database.js';
import { JobContext } from '../../../../electron/core/jobs.js';
import { scanLibrary, type ScanOptions } from '../../../../electron/core/library/scanner.js';
import { thumbFile } from '../../../../electron/core/library/thumbs.js';
import { jpeg, pngBomb, tmpDir } from '../../../helpers/images.js';
import { DIST } from '../../../helpers/repo.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function ctx(events: JobInfo[] = []): JobContext {
  const info: JobInfo = { id: 't', kind: 'scan', state: 'running', stage: null, done: 0, total: 0, rate: 0, etaSec: null, message: '', startedAt: Date.now(), finishedAt: null };
  return new JobContext(info, new AbortController(), (j) => events.push(j));
}

function setup(): { root: string; lib: string; db: Db; scan: (o?: Partial<ScanOptions>) => ReturnType<typeof scanLibrary> } {
  const root = tmpDir('shoebox-root-');
  const lib = tmpDir('shoebox-lib-');
  dirs.push(root, lib);
  const db = openDatabase(lib);
  db.prepare('INSERT INTO roots(path, added_at) VALUES (?, ?)').run(fs.realpathSync(root), Date.now());
  return { root, lib, db, scan: (o = {}) => scanLibrary(db, { cacheDir: path.join(lib, 'cache'), ...o }, ctx()) };
}

type Row = { id: number; rel_path: string; status: string; error_code: string | null; error_message: string | null; hash: string | null; width: number | null; height: number | null };
const rows = (db: Db): Row[] => db.prepare('SELECT * FROM photos ORDER BY rel_path').all() as Row[];
const byPath = (db: Db, p: string): Row | undefined => rows(db).find((r) => r.rel_path === p);

describe('scanner', () => {
  test('bad files become error rows with codes, and the scan carries on', async () => {
    const { root, db, scan } = setup();
    await jpeg(path.join(root, 'good.jpg'));
    fs.writeFileSync(path.join(root, 'empty.jpg'), '');
    fs.writeFileSync(path.join(root, 'notes.jpg'), 'this is a text file, not a photo');
    const full = await jpeg(path.join(root, 'whole.jpg'), { width: 200, height: 150, seed: 7 });
    fs.writeFileSync(path.join(root, 'truncated.jpg'), full.subarray(0, Math.floor(full.length / 3)));
    pngBomb(path.join(root, 'bomb.png'));
    const t0 = Date.now();
    const s = await scan();
    assert.ok(Date.now() - t0 < 5000, 'a decompression bomb must be rejected quickly');
    assert.equal(s.found, 6);
    assert.equal(s.errors, 4);
    assert.equal(byPath(db, 'good.jpg')?.status, 'ok');
    assert.equal(byPath(db, 'whole.jpg')?.status, 'ok');
    assert.equal(byPath(db, 'empty.jpg')?.error_code, 'EMPTY_FILE');
    assert.equal(byPath(db, 'notes.jpg')?.error_code, 'DECODE_FAILED');
    assert.equal(byPath(db, 'truncated.jpg')?.error_code, 'DECODE_FAILED');
    assert.equal(byPath(db, 'bomb.png')?.error_code, 'TOO_LARGE');
    for (const r of rows(db).filter((x) => x.status === 'error')) assert.ok((r.error_message ?? '').length > 5, `clear message for ${r.rel_path}`);
  });

  test('a file larger than the limit is refused by its size, before it is read', async () => {
    const { root, db, scan } = setup();
    await jpeg(path.join(root, 'good.jpg'));
    // A sparse file: 300 MiB on paper, nothing on disk. Reading it would allocate all of it.
    const fd = fs.openSync(path.join(root, 'huge.jpg'), 'w');
    fs.ftruncateSync(fd, 300 * 2 ** 20);
    fs.closeSync(fd);
    const rss0 = process.memoryUsage().rss;
    const s = await scan();
    assert.equal(s.errors, 1);
    const huge = byPath(db, 'huge.jpg');
    assert.equal(huge?.error_code, 'TOO_LARGE');
    assert.match(huge?.error_message ?? '', /300 MiB, larger than 256 MiB/);
    assert.ok(process.memoryUsage().rss - rss0 < 200 * 2 ** 20, 'the file was never read into memory');
    assert.equal(byPath(db, 'good.jpg')?.status, 'ok');
  });

  test('odd Unicode and very long paths, hidden and system folders, symlink loops', async () => {
    const { root, db, scan } = setup();
    const names = ['Ünïcødé 写真 🎉.jpg', 'cafe\u0301.jpg', 'ẞpaß (1) [copy] #2 %20.jpeg'];
    for (const [i, n] of names.entries()) await jpeg(path.join(root, 'odd', n), { seed: i + 1 });
    const deep = path.join(root, ...Array.from({ length: 12 }, (_, i) => `folder-with-a-long-name-${i}-ÄÖÜ`));
    await jpeg(path.join(deep, 'deep photo.jpg'), { seed: 99 });
    await jpeg(path.join(root, '.hidden', 'secret.jpg'), { seed: 5 });
    await jpeg(path.join(root, '@eaDir', 'nas-thumb.jpg'), { seed: 6 });
    fs.symlinkSync('..', path.join(root, 'odd', 'loop'));
    const s = await scan();
    assert.equal(s.found, 4);
    const paths = rows(db).map((r) => r.rel_path);
    for (const n of names) assert.ok(paths.includes(`odd/${n}`), `indexed ${n}`);
    const longRel = paths.find((p) => p.endsWith('deep photo.jpg'));
    assert.ok(longRel && longRel.length > 300, 'long path indexed');
    assert.ok(rows(db).every((r) => r.status === 'ok'));
  });

  test('incremental rescan: unchanged skipped, changed re-read, moved keeps identity, deleted marked missing, duplicates grouped', async () => {
    const { root, db, scan } = setup();
    for (let i = 0; i < 5; i++) await jpeg(path.join(root, `p${i}.jpg`), { seed: i + 10 });
    fs.copyFileSync(path.join(root, 'p0.jpg'), path.join(root, 'p0-copy.jpg'));
    let s = await scan();
    assert.equal(s.added, 6);
    assert.equal(s.duplicates, 1);
    const before = byPath(db, 'p1.jpg')!;

    s = await scan();
    assert.equal(s.processed, 0);
    assert.equal(s.unchanged, 6);

    fs.mkdirSync(path.join(root, 'moved'));
    fs.renameSync(path.join(root, 'p1.jpg'), path.join(root, 'moved', 'renamed.jpg'));
    fs.rmSync(path.join(root, 'p2.jpg'));
    await jpeg(path.join(root, 'p3.jpg'), { seed: 1234, width: 80 }); // same path, new content
    const oldHash3 = byPath(db, 'p3.jpg')!.hash;
    s = await scan();
    assert.equal(s.moved, 1);
    assert.equal(s.missing, 1);
    assert.equal(s.updated, 1);
    const moved = byPath(db, 'moved/renamed.jpg')!;
    assert.equal(moved.id, before.id, 'a moved photo keeps its id (and so its album and edits)');
    assert.equal(moved.hash, before.hash);
    assert.equal(byPath(db, 'p2.jpg')!.status, 'missing');
    assert.notEqual(byPath(db, 'p3.jpg')!.hash, oldHash3);
    assert.equal(byPath(db, 'p3.jpg')!.width, 80);
  });

  test('files vanishing or being replaced during the scan', async () => {
    const { root, db, scan } = setup();
    for (let i = 0; i < 4; i++) await jpeg(path.join(root, `v${i}.jpg`), { seed: i + 40 });
    const s = await scan({
      concurrency: 1,
      onWalked: () => {
        fs.rmSync(path.join(root, 'v1.jpg'));
        fs.writeFileSync(path.join(root, 'v2.jpg'), 'replaced by something that is not an image');
      },
    });
    assert.equal(s.found, 4);
    assert.equal(byPath(db, 'v0.jpg')!.status, 'ok');
    assert.equal(byPath(db, 'v1.jpg')!.error_code, 'NOT_FOUND');
    assert.equal(byPath(db, 'v2.jpg')!.error_code, 'DECODE_FAILED');
    assert.equal(byPath(db, 'v3.jpg')!.status, 'ok');
  });

  test('EXIF: capture time with timezone, camera, GPS, orientation applied to size and thumbnail', async () => {
    const { root, lib, db, scan } = setup();
    await jpeg(path.join(root, 'exif.jpg'), {
      width: 80,
      height: 40,
      orientation: 6,
      exif: {
        IFD0: { Make: 'Canon', Model: 'Canon EOS 5D' },
        IFD2: { DateTimeOriginal: '2023:06:12 14:30:00', OffsetTimeOriginal: '+02:00' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100', GPSLongitudeRef: 'W', GPSLongitude: '2/1 21/1 756/100' },
      },
    });
    await scan();
    const r = db.prepare('SELECT * FROM photos').get() as Row & { taken_at: number; tz: string; camera: string; lat: number; lon: number; orientation: number };
    assert.equal(r.taken_at, Date.UTC(2023, 5, 12, 12, 30, 0));
    assert.equal(r.tz, '+02:00');
    assert.equal(r.camera, 'Canon EOS 5D');
    assert.ok(Math.abs(r.lat - 48.858233) < 1e-4);
    assert.ok(Math.abs(r.lon + 2.3521) < 1e-4);
    assert.equal(r.orientation, 6);
    assert.equal(r.width, 40, 'rotated width');
    assert.equal(r.height, 80, 'rotated height');
    const meta = await sharp(thumbFile(path.join(lib, 'cache'), r.hash!, 'thumb')).metadata();
    assert.ok(meta.height! > meta.width!, 'thumbnail is upright (portrait)');
  });

  test('a missing thumbnail is regenerated on rescan', async () => {
    const { root, lib, db, scan } = setup();
    await jpeg(path.join(root, 'a.jpg'));
    await scan();
    const f = thumbFile(path.join(lib, 'cache'), byPath(db, 'a.jpg')!.hash!, 'thumb');
    fs.rmSync(f);
    const s = await scan();
    assert.equal(s.processed, 1);
    assert.ok(fs.existsSync(f));
  });

  test('a library from before JPEG thumbnails: old WebP thumbnails are replaced, photo ids and hashes kept', async () => {
    const { root, lib, db, scan } = setup();
    await jpeg(path.join(root, 'a.jpg'), { width: 640, height: 480 });
    await scan();
    const before = byPath(db, 'a.jpg')!;
    const jpg = thumbFile(path.join(lib, 'cache'), before.hash!, 'thumb');
    assert.ok(jpg.endsWith('.jpg'));
    const meta = await sharp(jpg).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(Math.min(meta.width!, meta.height!), 256);
    // What an older version left behind: a WebP thumbnail, no JPEG, no cleanup marker.
    const webp = jpg.replace(/\.jpg$/, '.webp');
    await sharp(jpg).webp().toFile(webp);
    fs.rmSync(jpg);
    db.prepare(`DELETE FROM settings WHERE key = 'thumbnailsJpeg'`).run();
    const s = await scan();
    assert.equal(s.processed, 1);
    assert.ok(fs.existsSync(jpg), 'JPEG thumbnail made again');
    assert.ok(!fs.existsSync(webp), 'old WebP thumbnail removed');
    const after1 = byPath(db, 'a.jpg')!;
    assert.equal(after1.id, before.id);
    assert.equal(after1.hash, before.hash);
  });

  test('unreadable files and folders (permissions) are errors with their reason; photos known inside stay as they were', async (t) => {
    const { root, db, scan, lib } = setup();
    await jpeg(path.join(root, 'ok.jpg'));
    fs.mkdirSync(path.join(root, 'private'));
    await jpeg(path.join(root, 'private', 'p.jpg'), { seed: 4 });
    await scan();
    assert.equal(byPath(db, 'private/p.jpg')!.status, 'ok');
    await jpeg(path.join(root, 'locked.jpg'), { seed: 3 });
    fs.chmodSync(path.join(root, 'locked.jpg'), 0o000);
    fs.chmodSync(path.join(root, 'private'), 0o000);
    let got: { rows: { rel_path: string; status: string; error_code: string | null }[]; errors: number; missing: number };
    const rowsNow = (d: Db) => d.prepare('SELECT rel_path, status, error_code FROM photos ORDER BY rel_path').all() as typeof got.rows;
    try {
      if (process.getuid?.() === 0) {
        // root reads anything: run the scan as an unprivileged user in a child process instead.
        for (const d of [root, lib]) fs.chmodSync(d, 0o777);
        fs.chmodSync(path.join(lib, 'library.db'), 0o666);
        for (const f of fs.readdirSync(lib)) fs.chmodSync(path.join(lib, f), 0o777);
        fs.chmodSync(path.join(lib, 'cache'), 0o777);
        for (const f of fs.readdirSync(path.join(lib, 'cache'), { recursive: true })) fs.chmodSync(path.join(lib, 'cache', String(f)), 0o777);
        db.close();
        const script = `
          import { openDatabase } from ${JSON.stringify(path.join(DIST, 'electron/core/db/database.js'))};
          import { scanLibrary } from ${JSON.stringify(path.join(DIST, 'electron/core/library/scanner.js'))};
          import { JobContext } from ${JSON.stringify(path.join(DIST, 'electron/core/jobs.js'))};
          const db = openDatabase(${JSON.stringify(lib)});
          const ctx = new JobContext({ id: 'x', kind: 'scan', state: 'running', stage: null, done: 0, total: 0, rate: 0, etaSec: null, message: '', startedAt: 0, finishedAt: null }, new AbortController(), () => {});
          const s = await scanLibrary(db, { cacheDir: ${JSON.stringify(path.join(lib, 'cache'))} }, ctx);
          console.log(JSON.stringify({ rows: db.prepare("SELECT rel_path, status, error_code FROM photos ORDER BY rel_path").all(), errors: s.errors, missing: s.missing }));`;
        const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, cwd: '/' });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          p.on('close', (code) => resolve({ code, stdout, stderr }));
        });
        if (out.code !== 0 && /EACCES|permission/i.test(out.stderr) && !/locked|private/.test(out.stderr)) {
          t.skip(`cannot run an unprivileged child here: ${out.stderr.split('\n')[0]}`);
          return;
        }
        assert.equal(out.code, 0, out.stderr);
        got = JSON.parse(out.stdout.trim().split('\n').pop()!) as typeof got;
      } else {
        const s = await scan();
        got = { rows: rowsNow(db), errors: s.errors, missing: s.missing };
      }
    } finally {
      fs.chmodSync(path.join(root, 'private'), 0o755);
    }
    assert.deepEqual(got.rows.map((r) => [r.rel_path, r.status, r.error_code]), [
      ['locked.jpg', 'error', 'UNREADABLE'],
      ['ok.jpg', 'ok', null],
      ['private', 'error', 'UNREADABLE'],
      ['private/p.jpg', 'ok', null],
    ]);
    assert.equal(got.errors, 2);
    assert.equal(got.missing, 0, 'an unreadable folder is not counted as missing photos');

    // Readable again: the folder's error is gone, its photo is still the same row.
    const db2 = openDatabase(lib);
    try {
      fs.chmodSync(path.join(root, 'locked.jpg'), 0o644);
      const s = await scanLibrary(db2, { cacheDir: path.join(lib, 'cache') }, ctx());
      assert.equal(s.missing, 0);
      assert.deepEqual(rowsNow(db2).map((r) => [r.rel_path, r.status]), [
        ['locked.jpg', 'ok'],
        ['ok.jpg', 'ok'],
        ['private/p.jpg', 'ok'],
      ]);
    } finally {
      db2.close();
    }
  });

  test('progress events are throttled and carry counts', async () => {
    const { root, db } = setup();
    for (let i = 0; i < 12; i++) await jpeg(path.join(root, `e${i}.jpg`), { seed: i + 70 });
    const events: JobInfo[] = [];
    const s = await scanLibrary(db, { cacheDir: path.join(tmpDir(), 'cache') }, ctx(events));
    assert.equal(s.processed, 12);
    const last = events[events.length - 1];
    assert.equal(last.done, 12);
    assert.equal(last.total, 12);
    assert.ok(events.length < 12 + 4, `throttled: ${events.length} events for 12 files`);
  });
});

test('an HEIC header with nothing behind it is recorded as an error with a clear reason', async () => {
  const { root, db, scan } = setup();
  // An HEIF container header with an HEVC brand (what iPhones write) and no image: libheif-js finds no meta box.
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.from([0, 0, 0, 0]), Buffer.from('mif1heic')]);
  fs.writeFileSync(path.join(root, 'IMG_0001.HEIC'), Buffer.concat([ftyp, Buffer.alloc(256)]));
  await scan();
  const r = byPath(db, 'IMG_0001.HEIC')!;
  assert.equal(r.status, 'error');
  assert.equal(r.error_code, 'DECODE_FAILED');
  assert.match(r.error_message ?? '', /^HEIC file is corrupt or truncated/);
});
