import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, test } from 'node:test';
import * as albums from '../../../electron/core/albums/store.js';
import { openDatabase, type Db } from '../../../electron/core/db/database.js';
import { tmpDir } from '../../helpers/images.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A library with `n` ok photos split over two auto albums A (first half) and B. */
function library(n = 6): { db: Db; dir: string; a: number; b: number; photos: number[] } {
  const dir = tmpDir();
  dirs.push(dir);
  const db = openDatabase(dir);
  const now = Date.now();
  db.prepare('INSERT INTO roots(id, path, added_at) VALUES (1, ?, ?)').run('/photos', now);
  const photos: number[] = [];
  for (let i = 0; i < n; i++) {
    photos.push(Number(db.prepare(`INSERT INTO photos(root_id, rel_path, status, hash, taken_at, taken_local) VALUES (1, ?, 'ok', ?, ?, ?)`).run(`p${i}.jpg`, `h${i}`, now + i, now + i).lastInsertRowid));
  }
  const mk = (name: string): number => Number(db.prepare(`INSERT INTO albums(name, kind, created_at, updated_at) VALUES (?, 'auto', ?, ?)`).run(name, now, now).lastInsertRowid);
  const a = mk('A');
  const b = mk('B');
  photos.forEach((p, i) => db.prepare(`INSERT INTO album_members(photo_id, album_id, source, pinned, updated_at) VALUES (?, ?, 'auto', 0, ?)`).run(p, i < n / 2 ? a : b, now));
  return { db, dir, a, b, photos };
}

const counts = (db: Db): Record<string, number> => Object.fromEntries(albums.listAlbums(db).map((x) => [x.name, x.count]));
const member = (db: Db, photo: number): { album_id: number; source: string; pinned: number } =>
  db.prepare('SELECT album_id, source, pinned FROM album_members WHERE photo_id = ?').get(photo) as { album_id: number; source: string; pinned: number };

describe('album edits', () => {
  test('a move of no photos, or of photos already placed there, is no edit and records no undo step', () => {
    const { db, b, photos } = library();
    assert.equal(albums.movePhotos(db, [], b).undoDepth, 0);
    albums.movePhotos(db, [photos[4]], b);
    const before = albums.editState(db);
    assert.equal(before.undoDepth, 1);
    assert.deepEqual(albums.movePhotos(db, [photos[4]], b), before, 'already pinned there: nothing new to undo');
  });

  test('move pins the photos, records cannot-link, and undo/redo restore exactly', () => {
    const { db, a, b, photos } = library();
    const s = albums.movePhotos(db, [photos[0], photos[1]], b);
    assert.deepEqual(counts(db), { A: 1, B: 5, Unsorted: 0 });
    assert.equal(s.undoDepth, 1);
    assert.match(s.undoLabel ?? '', /Move 2 photos to “B”/);
    assert.deepEqual(member(db, photos[0]), { album_id: b, source: 'user', pinned: 1 });
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM cannot_link WHERE album_id = ?').get(a) as { n: number }).n, 2);
    const u = albums.undo(db);
    assert.deepEqual(counts(db), { A: 3, B: 3, Unsorted: 0 });
    assert.deepEqual(member(db, photos[0]), { album_id: a, source: 'auto', pinned: 0 });
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM cannot_link').get() as { n: number }).n, 0);
    assert.equal(u.redoDepth, 1);
    albums.redo(db);
    assert.deepEqual(counts(db), { A: 1, B: 5, Unsorted: 0 });
  });

  test('a new edit clears the redo stack', () => {
    const { db, b, a, photos } = library();
    albums.movePhotos(db, [photos[0]], b);
    albums.undo(db);
    const s = albums.movePhotos(db, [photos[4]], a);
    assert.equal(s.redoDepth, 0);
    assert.throws(() => albums.redo(db), /Nothing to redo/);
  });

  test('rename, create, merge and delete, each undoable, and all persisted across reopen', () => {
    const { db, dir, a, b, photos } = library();
    albums.renameAlbum(db, a, 'Beach 2023');
    const { albumId: c } = albums.createAlbum(db, 'Favourites', [photos[5]]);
    albums.mergeAlbums(db, b, a);
    assert.deepEqual(counts(db), { 'Beach 2023': 5, Favourites: 1, Unsorted: 0 });
    albums.deleteAlbum(db, c);
    assert.deepEqual(counts(db), { 'Beach 2023': 5, Unsorted: 1 });
    db.close();

    const db2 = openDatabase(dir);
    assert.deepEqual(counts(db2), { 'Beach 2023': 5, Unsorted: 1 });
    assert.equal(albums.editState(db2).undoDepth, 4);
    albums.undo(db2); // delete
    assert.deepEqual(counts(db2), { 'Beach 2023': 5, Favourites: 1, Unsorted: 0 });
    albums.undo(db2); // merge
    assert.deepEqual(counts(db2), { 'Beach 2023': 3, B: 2, Favourites: 1, Unsorted: 0 });
    albums.undo(db2); // create
    assert.deepEqual(counts(db2), { 'Beach 2023': 3, B: 3, Unsorted: 0 });
    albums.undo(db2); // rename
    assert.deepEqual(counts(db2), { A: 3, B: 3, Unsorted: 0 });
    assert.throws(() => albums.undo(db2), /Nothing to undo/);
    for (let i = 0; i < 4; i++) albums.redo(db2);
    assert.deepEqual(counts(db2), { 'Beach 2023': 5, Unsorted: 1 });
  });

  test('invalid edits are refused with clear errors and change nothing', () => {
    const { db, a, photos } = library();
    assert.throws(() => albums.movePhotos(db, [photos[0]], 9999), /Album 9999 does not exist/);
    assert.throws(() => albums.movePhotos(db, [123456], a), /Photo 123456 does not exist/);
    assert.throws(() => albums.mergeAlbums(db, a, a), /into itself/);
    const unsorted = albums.unsortedAlbumId(db);
    assert.throws(() => albums.deleteAlbum(db, unsorted), /Unsorted cannot be deleted/);
    assert.equal(albums.editState(db).undoDepth, 0);
  });

  test('paging returns columnar pages in capture order', () => {
    const { db, a, photos } = library(10);
    const p1 = albums.albumPage(db, a, 0, 3);
    const p2 = albums.albumPage(db, a, 3, 3);
    assert.equal(p1.total, 5);
    assert.deepEqual(p1.ids, photos.slice(0, 3));
    assert.deepEqual(p2.ids, photos.slice(3, 5));
    assert.deepEqual(p1.names, ['p0.jpg', 'p1.jpg', 'p2.jpg']);
    assert.equal(p1.pinned.length, 3);
  });

  test('pages follow every write: a move, an undo, a photo gone missing, a changed capture date', () => {
    const { db, a, b, photos } = library(10);
    assert.deepEqual(albums.albumPage(db, a, 0, 10).ids, photos.slice(0, 5));
    albums.movePhotos(db, [photos[1]], b);
    assert.deepEqual(albums.albumPage(db, a, 0, 10).ids, [photos[0], ...photos.slice(2, 5)]);
    assert.equal(albums.albumPage(db, b, 0, 10).total, 6);
    albums.undo(db);
    assert.deepEqual(albums.albumPage(db, a, 0, 10).ids, photos.slice(0, 5));
    db.prepare(`UPDATE photos SET status = 'missing' WHERE id = ?`).run(photos[0]);
    assert.deepEqual(albums.albumPage(db, a, 0, 10).ids, photos.slice(1, 5));
    // A write that changes nothing still counts as a write; the order is rebuilt and stays right.
    db.prepare(`UPDATE photos SET taken_local = 0 WHERE id = ?`).run(photos[4]);
    const page = albums.albumPage(db, a, 0, 2);
    assert.deepEqual(page.ids, [photos[4], photos[1]]);
    assert.equal(page.total, 4);
    assert.equal(albums.albumPage(db, a, 4, 2).ids.length, 0, 'a page past the end is empty');
  });
});
