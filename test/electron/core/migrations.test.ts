/** Schema migrations: an old library is upgraded in place, a library from a newer Shoebox is refused. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { DB_FILE, openDatabase } from '../../../electron/core/db/database.js';
import { MIGRATIONS } from '../../../electron/core/db/migrations.js';
import { tmpDir } from '../../helpers/images.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

test('a v2 library (before v3) is upgraded: stale training views go, everything else stays', () => {
  const dir = tmpDir();
  dirs.push(dir);
  const old = new Database(path.join(dir, DB_FILE));
  for (let v = 0; v < 2; v++) old.exec(MIGRATIONS[v]);
  old.pragma('user_version = 2');
  old.prepare(`INSERT INTO roots(id, path, added_at) VALUES (1, '/photos', 1)`).run();
  old.prepare(`INSERT INTO photos(id, root_id, rel_path, hash, status) VALUES (1, 1, 'a.jpg', 'h', 'ok')`).run();
  const put = old.prepare(`INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, created_at) VALUES (1, ?, 'h', 'float16', 1, x'0000', 1)`);
  for (const k of ['m@1', 'm@1#tf0', 'm@1#view1', 'm@1#view2']) put.run(k);
  old.close();

  const db = openDatabase(dir);
  try {
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    const keys = (db.prepare('SELECT model_key FROM embeddings ORDER BY model_key').all() as { model_key: string }[]).map((r) => r.model_key);
    assert.deepEqual(keys, ['m@1', 'm@1#tf0']);
    assert.equal((db.prepare(`SELECT rel_path FROM photos WHERE id = 1`).get() as { rel_path: string }).rel_path, 'a.jpg');
    assert.equal(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'checkpoints'`).get(), undefined);
    assert.ok(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'album_members'`).get());
  } finally {
    db.close();
  }
});

test('a library written by a newer Shoebox is refused with a clear message, and left unchanged', () => {
  const dir = tmpDir();
  dirs.push(dir);
  const db = openDatabase(dir);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();
  const before = fs.readFileSync(path.join(dir, DB_FILE));
  assert.throws(() => openDatabase(dir), /newer than this Shoebox.*update Shoebox/);
  assert.deepEqual(fs.readFileSync(path.join(dir, DB_FILE)), before);
});
