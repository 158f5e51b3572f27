/**
 * The objects stage on a scanned library: the detector's labels land in photo_objects, an auto album whose photos
 * share a distinctive object is named after it (a person's name never changes), and a re-run, a cancel and a
 * changed file each cost only what is new. The photos with a person are crops of @vladmandic/human's MIT-licensed
 * sample collage, read from node_modules at test time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { JobInfo } from '../../../electron/core/api/contract.js';
import { openDatabase, type Db } from '../../../electron/core/db/database.js';
import { JobContext, PROGRESS_INTERVAL_MS } from '../../../electron/core/jobs.js';
import type { Library } from '../../../electron/core/library.js';
import { scanLibrary } from '../../../electron/core/library/scanner.js';
import { thumbFile } from '../../../electron/core/library/thumbs.js';
import { DEFAULT_DETECTOR_ID } from '../../../electron/core/ml/objects.js';
import { libraryLayout } from '../../../electron/core/paths.js';
import { runOrganize } from '../../../electron/core/pipeline.js';
import { LibraryService } from '../../../electron/core/service.js';
import { objectsStage, pendingObjects } from '../../../electron/core/stages/objects.js';
import { findPackageDir } from '../../../training/convert/encoders.js';
import { scenePhoto, tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function ctx(controller = new AbortController(), events: JobInfo[] = []): JobContext {
  const info: JobInfo = { id: 't', kind: 'organize', state: 'running', stage: null, done: 0, total: 0, rate: 0, etaSec: null, message: '', startedAt: Date.now(), finishedAt: null };
  return new JobContext(info, controller, (j) => events.push({ ...j }));
}

/** Crops of the sample collage's restaurant photo (a man at a table), each a little different. */
async function personPhotos(root: string, n: number): Promise<string[]> {
  const collage = path.join(findPackageDir('@vladmandic/human'), 'assets', 'samples.jpg');
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(root, `person-${i}.jpg`);
    let img = sharp(collage).extract({ left: 330 + 4 * i, top: 2 * i, width: 206, height: 156 });
    if (i % 2) img = img.flop();
    await img.resize(412, 312).jpeg({ quality: 92 }).toFile(file);
    out.push(file);
  }
  return out;
}

describe('objects stage', () => {
  let root: string;
  let lib: Library;
  let db: Db;
  const idOf = (name: string): number => (db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(name) as { id: number }).id;
  const labels = (name: string): string[] => db.prepare('SELECT label FROM photo_objects WHERE photo_id = ? ORDER BY score DESC').pluck().all(idOf(name)) as string[];
  const albumName = (id: number): { name: string; name_reason: string | null } =>
    db.prepare('SELECT name, name_reason FROM albums WHERE id = ?').get(id) as { name: string; name_reason: string | null };

  before(async () => {
    requireModel(DEFAULT_DETECTOR_ID);
    root = tmpDir('shoebox-objects-root-');
    const dir = tmpDir('shoebox-objects-lib-');
    dirs.push(root, dir);
    await personPhotos(root, 4);
    for (let i = 0; i < 6; i++) await scenePhoto(path.join(root, `scene-${i}.jpg`), i % 3, 40 + i, 320);
    db = openDatabase(dir);
    lib = { libraryDir: dir, db, layout: libraryLayout(dir) };
    db.prepare('INSERT INTO roots(path, added_at) VALUES (?, ?)').run(fs.realpathSync(root), Date.now());
    await scanLibrary(db, { cacheDir: lib.layout.cache }, ctx());
  });
  after(() => db.close());

  test('finds the person in the photos that show one, names their album after it, and keeps a name the person gave', async () => {
    const now = Date.now();
    const mk = (name: string, source: 'auto' | 'user'): number =>
      Number(db.prepare(`INSERT INTO albums(name, kind, name_source, created_at, updated_at) VALUES (?, 'auto', ?, ?, ?)`).run(name, source, now, now).lastInsertRowid);
    const people = mk('Album 1', 'auto');
    const scenes = mk('Album 2', 'auto');
    const mine = mk('Dinner', 'user');
    const put = db.prepare(`INSERT INTO album_members(photo_id, album_id, source, pinned, updated_at) VALUES (?, ?, 'auto', 0, ?)`);
    for (const i of [0, 1, 2]) put.run(idOf(`person-${i}.jpg`), people, now);
    put.run(idOf('person-3.jpg'), mine, now);
    for (let i = 0; i < 6; i++) put.run(idOf(`scene-${i}.jpg`), scenes, now);

    const events: JobInfo[] = [];
    const r = await objectsStage(lib, 'cpu', ctx(new AbortController(), events));
    assert.equal(r.looked, 10);
    assert.equal(r.failed, 0);
    assert.equal(r.device, 'cpu');
    for (let i = 0; i < 4; i++) assert.equal(labels(`person-${i}.jpg`)[0], 'person', `person-${i}: ${labels(`person-${i}.jpg`).join(',')}`);
    for (let i = 0; i < 6; i++) assert.ok(!labels(`scene-${i}.jpg`).includes('person'), `scene-${i}: ${labels(`scene-${i}.jpg`).join(',')}`);
    assert.equal(db.prepare('SELECT COUNT(*) FROM objects_done').pluck().get(), 10);
    // Progress ran as the 'objects' stage up to every photo (the last event comes after the throttle interval),
    // and the job says it is refining.
    await new Promise((resolve) => setTimeout(resolve, PROGRESS_INTERVAL_MS + 50));
    const last = events.at(-1)!;
    assert.equal(last.stage, 'objects');
    assert.equal(last.done, 10);
    assert.equal(last.refining, true);

    assert.match(albumName(people).name, /\bpeople\b/i); // e.g. "Cups and people": the table shows a glass too
    assert.match(albumName(people).name_reason ?? '', /people/);
    assert.equal(albumName(scenes).name, 'Album 2');
    assert.equal(albumName(mine).name, 'Dinner');
  });

  test('a re-run opens no detector; a changed photo and a missing thumbnail are looked at again, nothing else', async () => {
    const again = await objectsStage(lib, 'cpu', ctx());
    assert.deepEqual(again, { looked: 0, withObjects: 0, failed: 0, device: null });

    // person-1 becomes a scene: its new content is looked at and its old person label goes.
    await scenePhoto(path.join(root, 'person-1.jpg'), 1, 999, 320);
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(root, 'person-1.jpg'), t, t);
    await scanLibrary(db, { cacheDir: lib.layout.cache }, ctx());
    const thumbHash = db.prepare('SELECT hash FROM photos WHERE rel_path = ?').pluck().get('scene-0.jpg') as string;
    db.prepare(`DELETE FROM objects_done WHERE photo_id = ?`).run(idOf('scene-0.jpg'));
    fs.renameSync(thumbFile(lib.layout.cache, thumbHash, 'thumb'), thumbFile(lib.layout.cache, thumbHash, 'thumb') + '.away');
    const r = await objectsStage(lib, 'cpu', ctx());
    assert.equal(r.looked, 1);
    assert.equal(r.failed, 1, 'the photo whose thumbnail is gone');
    assert.deepEqual(labels('person-1.jpg'), []);
    assert.equal(pendingObjects(lib, db.prepare('SELECT model_key FROM objects_done LIMIT 1').pluck().get() as string).length, 1, 'retried next run');
    fs.renameSync(thumbFile(lib.layout.cache, thumbHash, 'thumb') + '.away', thumbFile(lib.layout.cache, thumbHash, 'thumb'));
    assert.equal((await objectsStage(lib, 'cpu', ctx())).looked, 1);
  });

  test('a cancelled run keeps what it found and the next run does only the rest', async () => {
    db.prepare('DELETE FROM objects_done').run();
    const controller = new AbortController();
    const events: JobInfo[] = [];
    const c = ctx(controller, events);
    const progress = c.progress.bind(c);
    c.progress = (done, total, extra) => {
      if (done >= 4) controller.abort();
      progress(done, total, extra);
    };
    await assert.rejects(objectsStage(lib, 'cpu', c, { chunk: 2 }), (e: unknown) => (e as Error).name === 'AbortError');
    const kept = db.prepare('SELECT COUNT(*) FROM objects_done').pluck().get() as number;
    assert.ok(kept >= 4 && kept < 10, `${kept} photos kept`);
    const rest = await objectsStage(lib, 'cpu', ctx());
    assert.equal(rest.looked, 10 - kept);
  });
});

test('organize runs the objects stage last, after the albums, and a re-run skips it', async () => {
  requireModel(DEFAULT_DETECTOR_ID);
  const root = tmpDir('shoebox-objects-org-');
  const dir = tmpDir('shoebox-objects-org-lib-');
  dirs.push(root, dir);
  await personPhotos(root, 2);
  for (let i = 0; i < 4; i++) await scenePhoto(path.join(root, `scene-${i}.jpg`), i % 2, 70 + i, 200);
  const phases: string[] = [];
  const svc = new LibraryService(dir, { hooks: { onAlbums: (p) => phases.push(p) } });
  try {
    svc.addRoot(root);
    const events: JobInfo[] = [];
    const unsubscribe = svc.subscribe((e) => {
      if (e.type === 'job-progress' && e.job.kind === 'organize') events.push(e.job);
    });
    const info = await svc.organize({ train: false, device: 'cpu' }).done;
    unsubscribe();
    assert.equal(info.state, 'done', info.message);
    assert.deepEqual(phases, ['first', 'named']);
    // The banner's steps: one active at a time and only forward, from finding photos to refining (the detector), each
    // event with an overall ETA; the objects stage is part of the refine step.
    const order = ['scan', 'embed', 'albums', 'refine'];
    let furthest = 0;
    for (const e of events) {
      const active = e.steps!.filter((s) => s.state === 'active');
      assert.equal(active.length, 1, JSON.stringify(e.steps));
      const at = order.indexOf(active[0].id);
      assert.ok(at >= furthest, `step ${active[0].id} after ${order[furthest]}`);
      furthest = at;
      assert.ok(e.overallEtaSec === null || e.overallEtaSec! >= (e.etaSec ?? 0) - 1e-9, `overall ${e.overallEtaSec} < stage ${e.etaSec}`);
      if (e.stage === 'objects') assert.equal(active[0].id, 'refine');
    }
    assert.equal(order[furthest], 'refine');
    assert.ok(events.some((e) => e.stage === 'scan' && e.steps!.find((s) => s.state === 'active')!.id === 'scan'));
    assert.ok((svc.report?.timings.objects ?? 0) > 0);
    assert.equal(svc.db.prepare(`SELECT COUNT(*) FROM objects_done`).pluck().get(), 6);
    const details = await svc.call('getPhoto', { photoId: svc.db.prepare(`SELECT id FROM photos WHERE rel_path = 'person-0.jpg'`).pluck().get() as number });
    assert.ok(details.ok && details.value.objects.includes('person'), JSON.stringify(details));
    phases.length = 0;
    let looked = -1;
    const report = await runOrganize(svc, svc.organizeOptions({ train: false, device: 'cpu' }), ctx(), {
      stages: {
        objects: async (...a) => {
          const r = await objectsStage(...a);
          looked = r.looked;
          return r;
        },
      },
      onAlbums: (p) => phases.push(p),
    });
    assert.equal(looked, 0);
    assert.deepEqual(phases, ['first']);
    assert.ok(report.timings.objects < 1, `a no-op objects stage took ${report.timings.objects} s`);
  } finally {
    await svc.close();
  }
});
