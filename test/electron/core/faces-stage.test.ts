/**
 * The faces stage through a real organize: faces found where they were pasted, grouped into two people (two faces
 * of one photo never share a person), a photo without a face has none, a re-run looks at nothing again, a new photo
 * joins the person already there, and the CLI's JSON lists people and faces. The faces are crops of
 * @vladmandic/human's MIT-licensed sample collage (a man and a woman), read from node_modules at test time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { organizeJson } from '../../../electron/cli/main.js';
import { LibraryService } from '../../../electron/core/service.js';
import { facePhoto as photo, sampleCollage } from '../../helpers/faces.js';
import { tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];
after(() => process.env.KEEP || dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('faces stage', () => {
  let root: string;
  let svc: LibraryService;
  let collage: string;
  const id = (rel: string): number => (svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(rel) as { id: number }).id;
  const facesOf = (rel: string) =>
    svc.db.prepare('SELECT x, y, w, h, person_id, low_quality FROM faces WHERE photo_id = ? ORDER BY x').all(id(rel)) as {
      x: number;
      y: number;
      w: number;
      h: number;
      person_id: number | null;
      low_quality: number;
    }[];

  before(async () => {
    requireModel('blazeface_back');
    requireModel('faceres');
    collage = sampleCollage();
    root = tmpDir('shoebox-faces-root-');
    const lib = tmpDir('shoebox-faces-lib-');
    dirs.push(root, lib);
    for (let i = 0; i < 4; i++) {
      await photo(path.join(root, `man-${i}.jpg`), collage, i, [{ who: 'man', x: 100 + 120 * i, y: 150 + 40 * i, size: 220 + 20 * i }]);
      await photo(path.join(root, `woman-${i}.jpg`), collage, 10 + i, [
        { who: 'woman', x: 500 - 100 * i, y: 120 + 30 * i, size: 230 + 15 * i },
      ]);
    }
    await photo(path.join(root, 'both.jpg'), collage, 20, [
      { who: 'man', x: 80, y: 200, size: 240 },
      { who: 'woman', x: 520, y: 180, size: 240 },
    ]);
    await photo(path.join(root, 'nobody.jpg'), collage, 21, []);
    svc = new LibraryService(lib);
    svc.addRoot(root);
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
  });
  after(async () => svc && (await svc.close()));

  test('each photo has the faces pasted into it, where they were pasted', () => {
    for (let i = 0; i < 4; i++) {
      const [f, ...rest] = facesOf(`man-${i}.jpg`);
      assert.equal(rest.length, 0, `man-${i}`);
      const cx = (f.x + f.w / 2) * 900;
      assert.ok(cx > 100 + 120 * i && cx < 100 + 120 * i + 220 + 20 * i, `man-${i}: face centre at x ${cx.toFixed(0)}`);
      assert.equal(f.low_quality, 0);
    }
    assert.equal(facesOf('both.jpg').length, 2);
    assert.deepEqual(facesOf('nobody.jpg'), []);
    assert.equal(
      (svc.db.prepare('SELECT COUNT(*) AS n FROM faces_done').get() as { n: number }).n,
      10,
      'every photo is marked as looked at',
    );
  });

  test('faces are grouped into two people, and the two faces of one photo are two people', () => {
    const man = new Set([0, 1, 2, 3].map((i) => facesOf(`man-${i}.jpg`)[0].person_id));
    const woman = new Set([0, 1, 2, 3].map((i) => facesOf(`woman-${i}.jpg`)[0].person_id));
    assert.equal(man.size, 1);
    assert.equal(woman.size, 1);
    const [m] = man;
    const [w] = woman;
    assert.ok(m !== null && w !== null && m !== w);
    assert.deepEqual(
      facesOf('both.jpg').map((f) => f.person_id),
      [m, w],
    );
    const people = svc.db.prepare('SELECT id, cover_face_id FROM people ORDER BY id').all() as {
      id: number;
      cover_face_id: number | null;
    }[];
    assert.equal(people.length, 2);
    assert.ok(people.every((p) => p.cover_face_id !== null));
  });

  test('a re-run looks at nothing again; a new photo of someone joins them; the JSON lists people and faces', async () => {
    const before = facesOf('man-0.jpg')[0].person_id;
    await photo(path.join(root, 'man-new.jpg'), collage, 31, [{ who: 'man', x: 300, y: 250, size: 260 }]);
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(svc.report?.faces?.looked, 1, 'only the new photo');
    const grouped = svc.db.prepare(`SELECT value FROM settings WHERE key = 'peopleGroupedFaceId'`).pluck().get();
    assert.equal(Number(grouped), svc.db.prepare('SELECT MAX(id) FROM faces').pluck().get(), 'the grouping saw the newest face');
    assert.equal(facesOf('man-0.jpg')[0].person_id, before, 'people stay');
    assert.equal(facesOf('man-new.jpg')[0].person_id, before);
    const doc = organizeJson(svc, root, {});
    assert.equal(doc.people.length, 2);
    assert.deepEqual(doc.people.map((p) => p.count).sort(), [5, 6], 'photos per person: 4 + both + the new one, 4 + both');
    assert.equal(doc.faces.length, 11);
    const f = doc.faces.find((x) => x.path === 'man-new.jpg')!;
    assert.equal(f.person, before);
    assert.ok(f.box[0] >= 280 && f.box[0] + f.box[2] <= 580 && f.quality > 0, `box ${f.box.join(',')}`);
  });

  test('the API lists people with a face to show, opens their photos, and names them (a taken name is refused)', async () => {
    const list = await svc.call('listPeople', {});
    assert.ok(list.ok);
    if (!list.ok) return;
    assert.equal(list.value.length, 2);
    for (const p of list.value) {
      assert.equal(p.name, null);
      assert.ok(p.cover && p.cover.box.every((v) => v >= 0 && v <= 1), 'a cover face with its box');
    }
    const man = list.value.find((p) => p.id === facesOf('man-0.jpg')[0].person_id)!;
    const page = await svc.call('getPhotos', { view: { kind: 'person', personId: man.id }, offset: 0, limit: 50 });
    assert.ok(page.ok && page.value.names.every((n) => n.startsWith('man-') || n === 'both.jpg') && page.value.total === man.count);
    const named = await svc.call('renamePerson', { personId: man.id, name: '  Sam ' });
    assert.ok(named.ok && named.value.name === 'Sam');
    const other = list.value.find((p) => p.id !== man.id)!;
    const taken = await svc.call('renamePerson', { personId: other.id, name: 'sam' });
    assert.ok(!taken.ok && taken.error.code === 'CONFLICT');
    const again = await svc.call('listPeople', {});
    assert.ok(again.ok && again.value[0].name === 'Sam', 'named people first');
    const missing = await svc.call('renamePerson', { personId: 9999, name: 'X' });
    assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');
  });

  test('people edits: move, split, merge and "not this person", each undone and redone; a move survives an organize', async () => {
    const faceId = (rel: string): number =>
      (svc.db.prepare('SELECT id FROM faces WHERE photo_id = ? ORDER BY x').get(id(rel)) as { id: number }).id;
    const personOf = (rel: string) =>
      svc.db.prepare('SELECT person_id, source FROM faces WHERE id = ?').get(faceId(rel)) as { person_id: number | null; source: string };
    const man = personOf('man-0.jpg').person_id!;
    const woman = personOf('woman-0.jpg').person_id!;
    const call = async <T>(r: Promise<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }>): Promise<T> => {
      const x = await r;
      if (!x.ok) assert.fail(`${x.error.code} ${x.error.message}`);
      return x.value;
    };
    const visible = async () => (await call(svc.call('listPeople', {}))).map((p) => p.id).sort((a, b) => a - b);

    const merge = await svc.call('mergePeople', { sourceId: man, targetId: woman });
    assert.ok(!merge.ok && merge.error.code === 'CONFLICT' && /together in 1 photo/.test(merge.error.message), 'they are both in both.jpg');

    await call(svc.call('moveFaces', { faceIds: [faceId('woman-0.jpg')], toPersonId: man }));
    assert.deepEqual(personOf('woman-0.jpg'), { person_id: man, source: 'user' });
    const info = await svc.organize({ train: false, objects: false, reorganize: true }).done;
    assert.equal(info.state, 'done', info.message);
    assert.deepEqual(personOf('woman-0.jpg'), { person_id: man, source: 'user' }, 'an organize leaves what the person placed');
    await call(svc.call('undo', {}));
    assert.deepEqual(personOf('woman-0.jpg'), { person_id: woman, source: 'auto' });
    await call(svc.call('redo', {}));
    assert.equal(personOf('woman-0.jpg').person_id, man);
    await call(svc.call('undo', {}));

    // A person whose cover face leaves them shows their best remaining face; undo brings the cover back.
    const coverOf = (p: number): number | null =>
      (svc.db.prepare('SELECT cover_face_id FROM people WHERE id = ?').get(p) as { cover_face_id: number | null }).cover_face_id;
    const womanCover = coverOf(woman)!;
    await call(svc.call('moveFaces', { faceIds: [womanCover] }));
    const newCover = coverOf(woman);
    assert.ok(newCover !== null && newCover !== womanCover, 'a new cover');
    assert.equal((svc.db.prepare('SELECT person_id FROM faces WHERE id = ?').get(newCover) as { person_id: number }).person_id, woman);
    await call(svc.call('undo', {}));
    assert.equal(coverOf(woman), womanCover);
    await call(svc.call('redo', {}));
    assert.equal(coverOf(woman), newCover);
    await call(svc.call('undo', {}));

    const split = await call(svc.call('moveFaces', { faceIds: [faceId('man-0.jpg'), faceId('man-1.jpg')] }));
    assert.equal(personOf('man-1.jpg').person_id, split.personId);
    assert.equal((await visible()).length, 3);
    assert.equal(split.edits.undoLabel, 'Split 2 faces into a new person');
    const apart = await svc.call('moveFaces', { faceIds: [faceId('both.jpg')], toPersonId: woman });
    assert.ok(!apart.ok && apart.error.code === 'CONFLICT', 'the woman is already in both.jpg');
    await call(svc.call('undo', {}));
    assert.deepEqual(
      await visible(),
      [man, woman].sort((a, b) => a - b),
      'the split person is gone again',
    );

    await call(svc.call('notThisPerson', { faceIds: [faceId('man-2.jpg')], personId: man }));
    assert.deepEqual(personOf('man-2.jpg'), { person_id: null, source: 'auto' });
    await svc.organize({ train: false, objects: false }).done;
    assert.notEqual(personOf('man-2.jpg').person_id, man, 'never back to the person it is not');
    await call(svc.call('undo', {}));
    assert.equal(personOf('man-2.jpg').person_id, man);
    const faces = await call(svc.call('listFaces', { personId: man }));
    assert.equal(faces.length, 6);
    assert.ok(faces.every((f) => f.box[2] > 0) && faces.some((f) => f.id === faceId('man-2.jpg')));
  });

  test('Re-organize groups again what the person did not place: an automatic mistake is mended, people keep their ids', async () => {
    const faceOf = (rel: string): number =>
      (svc.db.prepare('SELECT id FROM faces WHERE photo_id = ? ORDER BY x').get(id(rel)) as { id: number }).id;
    const personOf = (rel: string): number | null =>
      (svc.db.prepare('SELECT person_id FROM faces WHERE id = ?').get(faceOf(rel)) as { person_id: number | null }).person_id;
    const man = personOf('man-0.jpg')!;
    const woman = personOf('woman-1.jpg')!;
    // As if the grouping had put one of the man's faces with the woman.
    svc.db.prepare(`UPDATE faces SET person_id = ? WHERE id = ?`).run(woman, faceOf('man-3.jpg'));
    await svc.organize({ train: false, objects: false }).done;
    assert.equal(personOf('man-3.jpg'), woman, 'a plain organize keeps people as they are');
    const info = await svc.organize({ train: false, objects: false, reorganize: true }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(personOf('man-3.jpg'), man, 'mended');
    assert.equal(personOf('woman-1.jpg'), woman, 'the woman keeps her id');
    for (const rel of ['man-0.jpg', 'man-1.jpg', 'man-2.jpg', 'man-new.jpg']) assert.equal(personOf(rel), man, rel);
    const shared = svc.db
      .prepare('SELECT photo_id FROM faces WHERE person_id IS NOT NULL GROUP BY photo_id, person_id HAVING COUNT(*) > 1')
      .all();
    assert.deepEqual(shared, [], 'two faces of one photo are never one person');
    // "Not this person" holds through a regrouping too.
    const r = await svc.call('notThisPerson', { faceIds: [faceOf('man-1.jpg')], personId: man });
    assert.ok(r.ok);
    await svc.organize({ train: false, objects: false, reorganize: true }).done;
    assert.notEqual(personOf('man-1.jpg'), man);
  });

  test('a photo whose content changes keeps what the person said about its faces: a placed face and "not this person"', async () => {
    const faceOf = (rel: string) =>
      svc.db.prepare('SELECT id, person_id, source FROM faces WHERE photo_id = ? ORDER BY x').get(id(rel)) as {
        id: number;
        person_id: number | null;
        source: string;
      };
    const man = faceOf('man-0.jpg').person_id!;
    const moved = await svc.call('moveFaces', { faceIds: [faceOf('woman-2.jpg').id], toPersonId: man });
    assert.ok(moved.ok);
    const oldIds = [faceOf('woman-2.jpg').id, faceOf('man-1.jpg').id];
    const highest = svc.db.prepare('SELECT MAX(id) FROM faces').pluck().get() as number;
    // The same faces in the same places, on a new background: new content, so both photos are looked at again.
    await photo(path.join(root, 'woman-2.jpg'), collage, 14, [{ who: 'woman', x: 300, y: 180, size: 260 }]);
    await photo(path.join(root, 'man-1.jpg'), collage, 3, [{ who: 'man', x: 220, y: 190, size: 240 }]);
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(svc.report?.faces?.looked, 2);
    const woman2 = faceOf('woman-2.jpg');
    const man1 = faceOf('man-1.jpg');
    assert.ok(!oldIds.includes(woman2.id) && !oldIds.includes(man1.id), 'the faces were found again');
    assert.deepEqual([woman2.person_id, woman2.source], [man, 'user'], 'the placed face stays where the person put it');
    assert.notEqual(man1.person_id, man);
    assert.ok(svc.db.prepare('SELECT 1 FROM face_not_person WHERE face_id = ? AND person_id = ?').get(man1.id, man), '"not this person" holds');
    assert.ok(Math.min(woman2.id, man1.id) > highest, 'a face found again gets an id never given before');
    // The undo journal follows the faces to their new ids: undoing the move acts on the face found again.
    const undone = await svc.call('undo', {});
    assert.ok(undone.ok);
    assert.deepEqual([faceOf('woman-2.jpg').person_id === man, faceOf('woman-2.jpg').source], [false, 'auto'], 'the move is undone');
    const redone = await svc.call('redo', {});
    assert.ok(redone.ok);
    assert.deepEqual([faceOf('woman-2.jpg').person_id, faceOf('woman-2.jpg').source], [man, 'user']);
  });

  test('face ids are never given twice: the photo holding the highest ids, looked at again, gets new ones', async () => {
    const highest = svc.db.prepare('SELECT MAX(id) FROM faces').pluck().get() as number;
    const last = svc.db.prepare('SELECT photo_id FROM faces WHERE id = ?').pluck().get(highest) as number;
    const rel = (svc.db.prepare('SELECT rel_path FROM photos WHERE id = ?').get(last) as { rel_path: string }).rel_path;
    await photo(path.join(root, rel), collage, 21, [{ who: 'man', x: 260, y: 200, size: 250 }]);
    assert.equal((await svc.organize({ train: false, objects: false }).done).state, 'done');
    const ids = svc.db.prepare('SELECT id FROM faces WHERE photo_id = ?').pluck().all(last) as number[];
    assert.ok(ids.length > 0 && ids.every((i) => i > highest), `new ids ${ids.join(',')} above ${highest}`);
  });
});
