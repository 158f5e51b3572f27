import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ApiMethod, ApiValue } from '../../../electron/core/api/contract.js';
import { LibraryService } from '../../../electron/core/service.js';
import { scenePhoto, tmpDir, withMeta } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function ok<M extends ApiMethod>(svc: LibraryService, method: M, args: unknown): Promise<ApiValue<M>> {
  const r = await svc.call(method, args);
  if (!r.ok) assert.fail(`${method}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

const LISBON = { lat: 38.7223, lon: -9.1393 };

describe('a photo app: dates, places, names, timeline, search, more like this, export', () => {
  let root: string;
  let svc: LibraryService;
  const id = (rel: string): number => (svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(rel) as { id: number }).id;
  const albumOf = (rel: string) =>
    svc.db
      .prepare('SELECT a.id, a.name, a.name_reason FROM album_members m JOIN albums a ON a.id = m.album_id WHERE m.photo_id = ?')
      .get(id(rel)) as {
      id: number;
      name: string;
      name_reason: string;
    };

  before(async () => {
    requireModel();
    root = tmpDir('shoebox-app-');
    const lib = tmpDir('shoebox-app-lib-');
    dirs.push(root, lib);
    for (let i = 0; i < 8; i++) {
      // A trip: Lisbon, 3-9 June 2024, on a Canon; a summer at home without GPS; old scans without any metadata.
      const trip = path.join(root, `trip-${i}.jpg`);
      await scenePhoto(trip, 0, i);
      await withMeta(trip, {
        date: `2024:06:0${3 + (i % 7)} 1${i}:00:00`,
        offset: '+01:00',
        gps: LISBON,
        make: 'Canon',
        model: 'Canon EOS R6',
      });
      const summer = path.join(root, `summer-${i}.jpg`);
      await scenePhoto(summer, 1, 100 + i);
      await withMeta(summer, { date: `2023:0${6 + (i % 3)}:1${i % 9} 09:00:00` });
      await scenePhoto(path.join(root, `scan-${i}.jpg`), 2, 200 + i);
    }
    svc = new LibraryService(lib);
    svc.addRoot(root);
    // The detector's guesses on synthetic shapes would name the scans; object names are tested in objects-stage.test.
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
  });
  after(async () => svc && (await svc.close()));

  test('dates come from EXIF with their offset, else from the file (marked); places from GPS', async () => {
    const trip = await ok(svc, 'getPhoto', { photoId: id('trip-0.jpg') });
    assert.equal(trip.takenSource, 'exif');
    assert.equal(new Date(trip.takenAt!).toISOString(), '2024-06-03T10:00:00.000Z', 'the clock the photographer saw');
    assert.deepEqual(trip.place, { city: 'Lisbon', region: null, country: 'Portugal' });
    assert.equal(trip.camera, 'Canon EOS R6');
    const scan = await ok(svc, 'getPhoto', { photoId: id('scan-0.jpg') });
    assert.equal(scan.takenSource, 'file');
    assert.equal(scan.place, null);
    assert.ok(scan.takenAt !== null);
  });

  test('albums are named by place and time, by time, or numbered, with the reason', () => {
    const trip = albumOf('trip-0.jpg');
    assert.match(trip.name, /^Lisbon, .*June 2024$/);
    assert.match(trip.name_reason, /taken near Lisbon/);
    assert.equal(albumOf('summer-0.jpg').name, 'Summer 2023');
    assert.match(albumOf('scan-0.jpg').name, /^Album \d+$/);
  });

  test('a duplicate name is refused with a clear message; a name the person gave stays through a re-organize', async () => {
    const trip = albumOf('trip-0.jpg');
    const r = await svc.call('renameAlbum', { albumId: albumOf('summer-0.jpg').id, name: trip.name.toUpperCase() });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, /already an album called/);
    await ok(svc, 'renameAlbum', { albumId: trip.id, name: 'Our trip' });
    const info = await svc.organize({ train: false, objects: false, reorganize: true }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(albumOf('trip-1.jpg').name, 'Our trip');
  });

  test('the timeline lists every photo by date, in months, either way round', async () => {
    const months = await ok(svc, 'getTimelineMonths', {});
    const page = await ok(svc, 'getPhotos', { view: { kind: 'timeline' }, offset: 0, limit: 100 });
    assert.equal(page.total, 24);
    assert.equal(
      months.reduce((a, m) => a + m.count, 0),
      24,
    );
    const times = page.takenAt.map((t) => t ?? Infinity);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    assert.deepEqual([months[0].year, months[0].month], [2023, 6]);
    months.forEach((m, i) => assert.equal(m.offset, i === 0 ? 0 : months[i - 1].offset + months[i - 1].count));
    await ok(svc, 'setSettings', { sortOrder: 'newest' });
    const newest = await ok(svc, 'getPhotos', { view: { kind: 'timeline' }, offset: 0, limit: 100 });
    const monthsNewest = await ok(svc, 'getTimelineMonths', {});
    await ok(svc, 'setSettings', { sortOrder: 'oldest' });
    const t2 = newest.takenAt.map((t) => t ?? -Infinity);
    assert.deepEqual(
      t2,
      [...t2].sort((a, b) => b - a),
    );
    assert.ok((monthsNewest[0].year ?? 0) >= 2024);
  });

  test('search finds places, dates, cameras and file names, each opening its photos', async () => {
    const r = await ok(svc, 'search', { query: 'lisbon' });
    assert.equal(r.places[0].label, 'Lisbon, Portugal');
    assert.equal(r.places[0].count, 8);
    const inLisbon = await ok(svc, 'getPhotos', { view: r.places[0].view, offset: 0, limit: 50 });
    assert.equal(inLisbon.total, 8);
    assert.ok(inLisbon.names.every((n) => n.startsWith('trip-')));
    const y = await ok(svc, 'search', { query: '2023' });
    assert.equal(y.dates[0].count, 8);
    const june = await ok(svc, 'search', { query: 'June 2024' });
    assert.equal(june.dates[0].label, 'June 2024');
    assert.equal((await ok(svc, 'search', { query: 'canon' })).cameras[0].count, 8);
    // Counts are cached until the next write: a re-read photo's new camera shows at once.
    svc.db.prepare(`UPDATE photos SET camera = 'Canon PowerShot' WHERE id = ?`).run(id('trip-7.jpg'));
    const recount = (await ok(svc, 'search', { query: 'canon' })).cameras.map((c) => [c.label, c.count]);
    svc.db.prepare(`UPDATE photos SET camera = 'Canon EOS R6' WHERE id = ?`).run(id('trip-7.jpg'));
    assert.deepEqual(recount, [
      ['Canon EOS R6', 7],
      ['Canon PowerShot', 1],
    ]);
    const files = await ok(svc, 'search', { query: 'scan-' });
    assert.equal(files.fileCount, 8);
    assert.equal((await ok(svc, 'search', { query: 'Our trip' })).albums.length, 1);
    assert.equal((await ok(svc, 'search', { query: 'zzzz' })).places.length, 0);
  });

  test('more like this returns the nearest photos of the whole library, the seeds left out', async () => {
    const seed = id('trip-0.jpg');
    const page = await ok(svc, 'getPhotos', { view: { kind: 'similar', photoIds: [seed] }, offset: 0, limit: 7 });
    assert.ok(!page.ids.includes(seed));
    assert.equal(page.total, 23);
    const trips = page.names.filter((n) => n.startsWith('trip-')).length;
    assert.ok(trips >= 6, `the 7 nearest should be the trip's photos: ${page.names.join(', ')}`);
  });

  test('export copies an album (and XMP sidecars), skips what is there, and refuses a folder inside the library', async () => {
    const out = tmpDir('shoebox-export-');
    dirs.push(out);
    const albumId = albumOf('trip-0.jpg').id;
    const { jobId } = await ok(svc, 'exportAlbum', { albumId, folder: out, mode: 'copy', xmp: true });
    const info = await svc.jobs.whenDone(jobId)!;
    assert.equal(info.state, 'done', info.message);
    const files = fs.readdirSync(out).sort();
    assert.equal(files.filter((f) => f.endsWith('.jpg')).length, 8);
    assert.ok(fs.readFileSync(path.join(out, 'trip-0.jpg.xmp'), 'utf8').includes('<rdf:li>Our trip</rdf:li>'));
    assert.deepEqual(fs.readFileSync(path.join(out, 'trip-0.jpg')), fs.readFileSync(path.join(root, 'trip-0.jpg')));
    const again = await svc.jobs.whenDone((await ok(svc, 'exportAlbum', { albumId, folder: out, mode: 'copy', xmp: false })).jobId)!;
    assert.match(again.message, /8 were already there/);
    assert.equal(fs.readdirSync(out).length, files.length, 'nothing duplicated');
    const r = await svc.call('exportAlbum', { albumId, folder: path.join(root, 'out'), mode: 'copy', xmp: false });
    assert.equal(r.ok, false);
  });
});
