import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as albums from '../../../electron/core/albums/store.js';
import { LibraryService } from '../../../electron/core/service.js';
import { DEFAULT_ENCODER_ID } from '../../../electron/core/encoders.js';
import { scenePhoto, tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Album id of each photo, by file name. */
function albumByName(svc: LibraryService): Map<string, number> {
  const rows = svc.db
    .prepare(`SELECT p.rel_path, m.album_id FROM photos p JOIN album_members m ON m.photo_id = p.id WHERE p.status = 'ok'`)
    .all() as { rel_path: string; album_id: number }[];
  return new Map(rows.map((r) => [r.rel_path, r.album_id]));
}

const photoId = (svc: LibraryService, rel: string): number => (svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(rel) as { id: number }).id;

describe('organize: albums and corrections that stick', () => {
  let root: string;
  let lib: string;
  let svc: LibraryService;
  before(async () => {
    requireModel();
    root = tmpDir('shoebox-scenes-');
    lib = tmpDir('shoebox-lib-');
    dirs.push(root, lib);
    for (let scene = 0; scene < 3; scene++) for (let i = 0; i < 10; i++) await scenePhoto(path.join(root, `s${scene}-${i}.jpg`), scene, scene * 100 + i);
    svc = new LibraryService(lib);
    svc.addRoot(root);
  });
  after(async () => svc && (await svc.close()));

  test('visually distinct scenes become separate albums', async () => {
    const info = await svc.organize({ train: false, albums: 'auto' }).done;
    assert.equal(info.state, 'done', info.message);
    const of = albumByName(svc);
    const unsorted = albums.unsortedAlbumId(svc.db);
    const home: number[] = [];
    for (let scene = 0; scene < 3; scene++) {
      const placed = [...of.entries()].filter(([n]) => n.startsWith(`s${scene}-`)).map(([, a]) => a);
      const real = placed.filter((a) => a !== unsorted);
      // Never split across albums; an odd photo may sit in Unsorted (outliers go there by design), but few.
      assert.equal(new Set(real).size, 1, `scene ${scene} in one album: ${JSON.stringify(placed)}`);
      assert.ok(real.length >= 8, `scene ${scene}: ${real.length}/10 in its album`);
      home.push(real[0]);
    }
    assert.equal(new Set(home).size, 3, 'three different albums');
  });

  test('moves, renames and deletions survive a full re-organize; new photos join the nearest album', async () => {
    const of = albumByName(svc);
    const a0 = of.get('s0-0.jpg')!;
    const a1 = of.get('s1-0.jpg')!;
    const a2 = of.get('s2-0.jpg')!;
    albums.movePhotos(svc.db, [photoId(svc, 's0-3.jpg')], a1); // the person says this one belongs with scene 1
    albums.renameAlbum(svc.db, a2, 'Sky');
    const info = await svc.organize({ train: false, reorganize: true }).done;
    assert.equal(info.state, 'done', info.message);
    const after1 = albumByName(svc);
    assert.equal(after1.get('s0-3.jpg'), a1, 'a moved photo stays where the person put it');
    assert.equal(albums.getAlbum(svc.db, a2)?.name, 'Sky');
    assert.equal(after1.get('s2-5.jpg'), a2, 'the renamed album keeps its photos');
    assert.equal(after1.get('s0-1.jpg'), a0, 'automatic albums keep their ids across re-organizes');

    // New photos are filed into the nearest album without reshuffling the others.
    await scenePhoto(path.join(root, 'new-sky.jpg'), 2, 999);
    await scenePhoto(path.join(root, 'new-stripes.jpg'), 1, 998);
    const before2 = albumByName(svc);
    const inc = await svc.organize({ train: false }).done;
    assert.equal(inc.state, 'done', inc.message);
    const after2 = albumByName(svc);
    assert.equal(after2.get('new-sky.jpg'), a2);
    assert.equal(after2.get('new-stripes.jpg'), a1);
    for (const [n, a] of before2) assert.equal(after2.get(n), a, `${n} did not move`);

    // Deleting an album puts its photos in Unsorted and re-organizing does not bring the album back.
    albums.deleteAlbum(svc.db, a2);
    const unsorted = albums.unsortedAlbumId(svc.db);
    await svc.organize({ train: false, reorganize: true }).done;
    const after3 = albumByName(svc);
    for (let i = 0; i < 10; i++) assert.equal(after3.get(`s2-${i}.jpg`), unsorted, `s2-${i} stays unsorted`);
  });
});

describe('organize: choosing the encoder', () => {
  let root: string;
  let svc: LibraryService;
  before(async () => {
    requireModel();
    requireModel('mobilenet_v2_mid');
    root = tmpDir('shoebox-enc-');
    const lib = tmpDir('shoebox-enc-lib-');
    dirs.push(root, lib);
    for (let scene = 0; scene < 3; scene++) for (let i = 0; i < 8; i++) await scenePhoto(path.join(root, `s${scene}-${i}.jpg`), scene, 500 + scene * 50 + i);
    svc = new LibraryService(lib);
    svc.addRoot(root);
  });
  after(async () => svc && (await svc.close()));

  const dims = (): Map<string, number> =>
    new Map((svc.db.prepare('SELECT model_key, MAX(dim) AS dim FROM embeddings GROUP BY model_key').all() as { model_key: string; dim: number }[]).map((r) => [r.model_key, r.dim]));

  test('an unknown or malformed encoder id is refused with a clear error and nothing changes', async () => {
    const before = (await svc.call('getSettings', {})) as { ok: true; value: { encoder: string } };
    const missing = await svc.call('setSettings', { encoder: 'no_such_model' });
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.equal(missing.error.code, 'UNAVAILABLE');
      assert.match(missing.error.message, /no_such_model\.json/);
    }
    const traversal = await svc.call('setSettings', { encoder: '../../etc/passwd' });
    assert.equal(traversal.ok, false);
    if (!traversal.ok) assert.equal(traversal.error.code, 'INVALID_INPUT');
    const after1 = (await svc.call('getSettings', {})) as { ok: true; value: { encoder: string } };
    assert.equal(after1.value.encoder, before.value.encoder);
  });

  test('switching encoders embeds with the chosen one and uses it for the albums', async () => {
    let info = await svc.organize({ train: false }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(svc.report?.model, `${DEFAULT_ENCODER_ID}@1`);
    const other = DEFAULT_ENCODER_ID === 'centernet_mnv3' ? 'mobilenet_v2_mid' : 'centernet_mnv3';
    const set = await svc.call('setSettings', { encoder: other });
    assert.equal(set.ok, true);
    info = await svc.organize({ train: false, reorganize: true }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(svc.report?.model, `${other}@1`);
    assert.equal(dims().get(`${other}@1`), other === 'centernet_mnv3' ? 120 : 1792);
    assert.equal(dims().get(`${DEFAULT_ENCODER_ID}@1`), DEFAULT_ENCODER_ID === 'centernet_mnv3' ? 120 : 1792, 'the first encoder vectors are kept');
    const rows = svc.db.prepare(`SELECT p.rel_path, m.album_id FROM photos p JOIN album_members m ON m.photo_id = p.id`).all() as { rel_path: string; album_id: number }[];
    const of = new Map(rows.map((r) => [r.rel_path, r.album_id]));
    const unsorted = albums.unsortedAlbumId(svc.db);
    const home = [0, 1, 2].map((scene) => {
      const real = [...of.entries()].filter(([n]) => n.startsWith(`s${scene}-`) && of.get(n) !== unsorted).map(([, a]) => a);
      assert.equal(new Set(real).size, 1, `scene ${scene} in one album with the other encoder too`);
      assert.ok(real.length >= 6, `scene ${scene}: ${real.length}/8 in its album`);
      return real[0];
    });
    assert.equal(new Set(home).size, 3);
  });
});
