/**
 * The library's lifecycle: albums before training, training only when warranted, edits that no job reverts, album
 * identities across re-clusters, one writer per library, bounded disk use.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as albums from '../../../electron/core/albums/store.js';
import * as embeddings from '../../../electron/core/embeddings.js';
import type { JobContext } from '../../../electron/core/jobs.js';
import type { Library } from '../../../electron/core/library.js';
import { LibraryLock, lockHolder } from '../../../electron/core/lock.js';
import { backboneEncoder, registerEncoder, setActiveEncoder, type Encoder } from '../../../electron/core/encoders.js';
import { libraryLayout } from '../../../electron/core/paths.js';
import type { Stages } from '../../../electron/core/pipeline.js';
import { LibraryService } from '../../../electron/core/service.js';
import { decideTraining, MIN_TRAIN_PHOTOS } from '../../../electron/core/stages/train-policy.js';
import type { TrainStageResult } from '../../../electron/core/stages/train.js';
import { cleanStaleFiles, pruneVersions } from '../../../electron/core/versions.js';
import { scenePhoto, tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';
import { REPO } from '../../helpers/repo.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const mk = (prefix?: string): string => {
  const d = tmpDir(prefix);
  dirs.push(d);
  return d;
};

/** A folder of `perScene` photos of each of `scenes` distinct scenes, named s<scene>-<i>.jpg. */
async function scenes(root: string, scenes: number, perScene: number, from = 0): Promise<void> {
  for (let s = 0; s < scenes; s++) for (let i = from; i < from + perScene; i++) await scenePhoto(path.join(root, `s${s}-${i}.jpg`), s, s * 1000 + i, 96);
}

const idOf = (svc: LibraryService, rel: string): number => (svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(rel) as { id: number }).id;
const albumOf = (svc: LibraryService, rel: string): { album_id: number; pinned: number; source: string } =>
  svc.db.prepare('SELECT m.album_id, m.pinned, m.source FROM album_members m JOIN photos p ON p.id = m.photo_id WHERE p.rel_path = ?').get(rel) as {
    album_id: number;
    pinned: number;
    source: string;
  };

/**
 * A train stage standing in for the real one: registers a "refined" version of the backbone whose embeddings are
 * the backbone's (so clusters stay the same), after running `during` (edits made while training runs).
 */
function stubTrain(during: (lib: Library) => void | Promise<void> = () => undefined, calls: string[] = []): Stages['train'] {
  let round = 0;
  return async (lib: Library, backbone: Encoder, _opts, ctx: JobContext): Promise<TrainStageResult> => {
    calls.push('train');
    await during(lib);
    round++;
    const id = `stub-ft${round}`;
    const dir = path.join(lib.layout.models, id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ ...backbone.manifest, id, version: '1', source: { ...backbone.manifest.source, parent: backbone.key } }));
    const model = registerEncoder(lib.db, dir, id, backbone.key);
    const vecs = embeddings.load(lib.db, embeddings.embeddingKey(backbone.key));
    const hash = lib.db.prepare('SELECT hash FROM photos WHERE id = ?');
    embeddings.store(
      lib.db,
      embeddings.embeddingKey(model.key),
      'cpu',
      vecs.ids.map((pid, i) => ({ id: pid, hash: (hash.get(pid) as { hash: string }).hash, vector: vecs.data.slice(i * vecs.dim, (i + 1) * vecs.dim) })),
    );
    const runId = Number(
      lib.db
        .prepare(`INSERT INTO training_runs(method, base_model, out_model, status, epochs, seed, params_json, started_at, finished_at) VALUES ('propos', ?, ?, 'done', 1, 1, ?, ?, ?)`)
        .run(backbone.key, model.key, JSON.stringify({ libraryPhotos: vecs.ids.length }), Date.now(), Date.now()).lastInsertRowid,
    );
    setActiveEncoder(lib.db, model.key);
    ctx.stage('train', 1, 'stub');
    return { model, device: 'cpu', runId, steps: 1, warm: false, limitedBy: null, photos: vecs.ids.length };
  };
}

describe('one library, one writer', () => {
  test('a second service on the same library is refused with a message naming the holder; closing frees it', async () => {
    const lib = mk();
    const a = new LibraryService(lib, { command: 'shoebox serve' });
    try {
      assert.throws(
        () => new LibraryService(lib),
        (e: Error & { code?: string }) => e.code === 'BUSY' && /in use by shoebox serve \(process \d+/.test(e.message),
      );
    } finally {
      await a.close();
    }
    const b = new LibraryService(lib);
    await b.close();
    assert.equal(lockHolder(libraryLayout(lib).lock), null, 'the lock file is gone after close');
  });

  test('a lock left by a process that died is taken over', async () => {
    const lib = mk();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    fs.writeFileSync(libraryLayout(lib).lock, JSON.stringify({ pid, host: (await import('node:os')).hostname(), command: 'shoebox organize', since: 1, token: 'x' }));
    assert.equal(lockHolder(libraryLayout(lib).lock), null, 'a dead holder is no holder');
    const svc = new LibraryService(lib);
    await svc.close();
  });

  test('across processes: while one process holds the library, the CLI exits with a clear message; --wait waits', async () => {
    const lib = mk();
    const root = mk();
    await scenes(root, 1, 2);
    const holder: ChildProcess = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { LibraryService } = await import(${JSON.stringify(path.join(REPO, 'dist/electron/core/service.js'))});
         const s = new LibraryService(${JSON.stringify(lib)}, { command: 'shoebox serve' });
         process.stdout.write('ready\\n');
         process.stdin.on('data', async () => { await s.close(); process.exit(0); });`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        holder.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
      });
      const cli = spawnSync(process.execPath, [path.join(REPO, 'bin/shoebox.js'), 'organize', root, '--library', lib, '--no-train'], { encoding: 'utf8' });
      assert.notEqual(cli.status, 0);
      assert.match(cli.stderr, /in use by shoebox serve \(process \d+/);
      // With --wait, the CLI starts once the holder lets go.
      const waiting = spawn(process.execPath, [path.join(REPO, 'bin/shoebox.js'), 'organize', root, '--library', lib, '--no-train', '--wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      waiting.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise((r) => setTimeout(r, 1500));
      assert.match(err, /Waiting for shoebox serve/);
      holder.stdin!.write('x');
      const code = await new Promise<number | null>((resolve) => waiting.once('exit', resolve));
      assert.equal(code, 0, err);
    } finally {
      holder.kill();
    }
  });

  test('LibraryLock refuses a second holder in the same process too', () => {
    const file = path.join(mk(), 'x.lock');
    const l = LibraryLock.acquire(file, 'first');
    assert.throws(() => LibraryLock.acquire(file, 'second'), /in use by first/);
    l.release();
    LibraryLock.acquire(file, 'third').release();
  });
});

describe('albums first, edits win', () => {
  let root: string;
  before(async () => {
    requireModel();
    root = mk('shoebox-life-');
    await scenes(root, 3, 22);
  });

  test('the first albums are written before training starts, and a move made while training runs survives the refined re-cluster', async () => {
    const calls: string[] = [];
    let moved = { id: 0, to: 0 };
    const phases: string[] = [];
    const svc: LibraryService = new LibraryService(mk(), {
      hooks: {
        onAlbums: (phase) => phases.push(phase),
        stages: {
          train: stubTrain((lib) => {
            // Albums exist already, and the job says it is refining them.
            const n = (lib.db.prepare(`SELECT COUNT(*) AS n FROM album_members`).get() as { n: number }).n;
            assert.equal(n, 66, 'every photo has its place before training starts');
            assert.deepEqual(phases, ['first']);
            assert.equal(svc.jobs.list()[0]?.refining, true);
            // The person moves a photo of scene 0 into scene 1's album meanwhile.
            moved = { id: idOf(svc, 's0-3.jpg'), to: albumOf(svc, 's1-0.jpg').album_id };
            albums.movePhotos(lib.db, [moved.id], moved.to);
          }, calls),
        },
      },
    });
    try {
      svc.addRoot(root);
      const info = await svc.organize({ seed: 2 }).done;
      assert.equal(info.state, 'done', info.message);
      assert.deepEqual(calls, ['train']);
      assert.deepEqual(phases, ['first', 'refined', 'named']);
      assert.equal(svc.report?.training.reason, 'first');
      assert.ok(svc.report!.timings.firstAlbums <= svc.report!.timings.scan + svc.report!.timings.embed + svc.report!.timings.cluster + 1);
      const m = albumOf(svc, 's0-3.jpg');
      assert.equal(m.album_id, moved.to, 'the move made during training is kept');
      assert.equal(m.pinned, 1);
      assert.match(svc.report!.model ?? '', /^stub-ft1@/);
    } finally {
      await svc.close();
    }
  });

  test('a move and an undo made while the cluster stage computes are never reverted (full and incremental)', async () => {
    let during: () => void = () => undefined;
    const lib = mk();
    const svc = new LibraryService(lib, { hooks: { beforeClusterWrite: () => during() } });
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ train: false, seed: 2 }).done).state, 'done');
      const a1 = albumOf(svc, 's1-0.jpg').album_id;
      const a0 = albumOf(svc, 's0-0.jpg').album_id;
      // Full re-organize; meanwhile the person moves s0-4 into scene 1's album, and moves then undoes s0-5.
      const before5 = albumOf(svc, 's0-5.jpg').album_id;
      during = () => {
        albums.movePhotos(svc.db, [idOf(svc, 's0-4.jpg')], a1);
        albums.movePhotos(svc.db, [idOf(svc, 's0-5.jpg')], a1);
        albums.undo(svc.db);
      };
      assert.equal((await svc.organize({ train: false, reorganize: true, seed: 3 }).done).state, 'done');
      assert.equal(albumOf(svc, 's0-4.jpg').album_id, a1, 'a move during the full cluster stage stays');
      assert.equal(albumOf(svc, 's0-5.jpg').album_id, before5, 'an undo during the cluster stage stays undone');
      // Incremental: a new photo is being filed while the person files it elsewhere first.
      await scenePhoto(path.join(root, 'late.jpg'), 0, 7777, 96);
      during = () => albums.movePhotos(svc.db, [idOf(svc, 'late.jpg')], a1);
      const inc = await svc.organize({ train: false }).done;
      assert.equal(inc.state, 'done', inc.message);
      assert.equal(albumOf(svc, 'late.jpg').album_id, a1, 'the person put it in scene 1; the job does not move it to scene 0');
      assert.notEqual(a0, a1);
    } finally {
      during = () => undefined;
      fs.rmSync(path.join(root, 'late.jpg'), { force: true });
      await svc.close();
    }
  });

  test('a re-organize keeps the albums: the same ids for the same groups, and their covers', async () => {
    const svc = new LibraryService(mk());
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ train: false, seed: 2 }).done).state, 'done');
      const ids = [0, 1, 2].map((sc) => albumOf(svc, `s${sc}-0.jpg`).album_id);
      const covers = ids.map((a) => albums.getAlbum(svc.db, a)!.cover_photo_id);
      const names = ids.map((a) => albums.getAlbum(svc.db, a)!.name);
      assert.equal(new Set(ids).size, 3);
      // Another seed: k-means starts elsewhere, the clusters come out the same, and so must the albums.
      assert.equal((await svc.organize({ train: false, reorganize: true, seed: 9 }).done).state, 'done');
      assert.deepEqual([0, 1, 2].map((sc) => albumOf(svc, `s${sc}-1.jpg`).album_id), ids);
      assert.deepEqual(ids.map((a) => albums.getAlbum(svc.db, a)!.cover_photo_id), covers);
      // Their names stay too (placeholders are not renumbered by the new clustering's order).
      assert.deepEqual(
        ids.map((a) => albums.getAlbum(svc.db, a)!.name),
        names,
      );
    } finally {
      await svc.close();
    }
  });

  test('re-organize never deletes an album the person renamed or created, and a settings change applies', async () => {
    const svc = new LibraryService(mk());
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ train: false, seed: 2 }).done).state, 'done');
      const a2 = albumOf(svc, 's2-0.jpg').album_id;
      albums.renameAlbum(svc.db, a2, 'Blue sky');
      const empty = albums.createAlbum(svc.db, 'To print').albumId;
      // Ask for two albums, through the API as the UI's Settings and Re-organize call it.
      await svc.call('setSettings', { albums: 2 });
      const r = await svc.call('organize', { reorganize: true, train: false });
      assert.ok(r.ok);
      assert.equal((await svc.jobs.whenDone(r.value.jobId))?.state, 'done');
      assert.equal(albums.getAlbum(svc.db, a2)?.deleted_at, null, 'the renamed album is not deleted');
      assert.equal(albums.getAlbum(svc.db, a2)?.name, 'Blue sky');
      assert.equal(albums.getAlbum(svc.db, empty)?.deleted_at, null, 'an empty album the person created is not deleted');
      const live = albums.listAlbums(svc.db).filter((a) => a.kind !== 'unsorted' && a.count > 0);
      assert.equal(live.length, 2, 'two albums with photos, as asked');
      const all = albums.listAlbums(svc.db).map((a) => a.name);
      assert.equal(new Set(all).size, all.length, `album names are unique: ${JSON.stringify(all)}`);
      assert.ok(live.some((a) => a.id === a2));
      assert.ok(albums.listAlbums(svc.db).some((a) => a.id === empty), 'the empty album the person made is listed');
    } finally {
      await svc.close();
    }
  });

  test('an unchanged library: no photo is read, nothing is embedded or re-clustered, training is skipped with a reason', async () => {
    const lib = mk();
    const svc = new LibraryService(lib, { hooks: { stages: { train: stubTrain() } } });
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({}).done).state, 'done');
    } finally {
      await svc.close();
    }
    const calls: string[] = [];
    const again = new LibraryService(lib, {
      hooks: {
        stages: {
          train: stubTrain(undefined, calls),
          embedWithAdapter: async () => {
            calls.push('adapter');
            return 0;
          },
        },
      },
    });
    try {
      const info = await again.organize({}).done;
      assert.equal(info.state, 'done', info.message);
      const r = again.report!;
      assert.equal(r.scan.processed, 0);
      assert.equal(r.scan.unchanged, 66);
      assert.equal(r.training.train, false);
      assert.equal(r.training.reason, 'up-to-date');
      assert.match(r.training.message, /Training skipped: nothing new/);
      assert.deepEqual(calls, ['adapter'], 'no training round');
      assert.equal(again.status().training.decision?.reason, 'up-to-date');
    } finally {
      await again.close();
    }
  });
});

describe('when to train', () => {
  test('first organize, asked, method change, 10% new photos, enough corrections; otherwise skipped with the counts', async () => {
    requireModel();
    const root = mk();
    await scenes(root, 2, 40);
    const svc = new LibraryService(mk());
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ train: false }).done).state, 'done');
      const bb = backboneEncoder(svc.db);
      const decide = (o: Partial<{ enabled: boolean; force: boolean; method: string }> = {}): ReturnType<typeof decideTraining> =>
        decideTraining(svc.db, bb, { enabled: true, force: false, method: 'propos', ...o });
      assert.equal(decide().reason, 'first');
      assert.equal(decide({ enabled: false }).reason, 'off');
      assert.equal(decide({ enabled: false, force: true }).reason, 'asked');
      // A finished round of 80 photos.
      svc.db
        .prepare(`INSERT INTO training_runs(method, base_model, status, epochs, seed, params_json, started_at) VALUES ('propos', ?, 'done', 1, 1, ?, ?)`)
        .run(bb.key, JSON.stringify({ libraryPhotos: 80 }), Date.now());
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(decide().reason, 'up-to-date');
      assert.equal(decide({ method: 'moco' }).reason, 'method');
      // 7 new photos (< 10%): skipped, and the message says how many.
      for (let i = 0; i < 7; i++) await scenePhoto(path.join(root, `n${i}.jpg`), 0, 5000 + i, 96);
      assert.equal((await svc.organize({ train: false }).done).state, 'done');
      const d = decide();
      assert.equal(d.reason, 'up-to-date');
      assert.match(d.message, /7 new photos since the last training \(9% of the library\)/);
      // 8 new (10%): train.
      await scenePhoto(path.join(root, 'n7.jpg'), 1, 5007, 96);
      assert.equal((await svc.organize({ train: false }).done).state, 'done');
      assert.equal(decide().reason, 'new-photos');
      // Corrections: 20 placed photos warrant a round.
      svc.db.prepare(`UPDATE training_runs SET started_at = ?`).run(Date.now());
      await new Promise((r) => setTimeout(r, 5));
      const target = albums.createAlbum(svc.db, 'Mine').albumId;
      const ids = (svc.db.prepare(`SELECT id FROM photos WHERE status = 'ok' ORDER BY id LIMIT 20`).all() as { id: number }[]).map((r) => r.id);
      albums.movePhotos(svc.db, ids.slice(0, 19), target);
      assert.equal(decide().reason, 'up-to-date');
      albums.movePhotos(svc.db, ids.slice(19), target);
      assert.equal(decide().reason, 'corrections');
    } finally {
      await svc.close();
    }
  });

  test(`fewer than ${MIN_TRAIN_PHOTOS} photos never train`, async () => {
    requireModel();
    const root = mk();
    await scenes(root, 1, 3);
    const svc = new LibraryService(mk());
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ retrain: true }).done).state, 'done');
      assert.equal(svc.report?.training.reason, 'too-few');
      assert.equal(svc.report?.trained, null);
    } finally {
      await svc.close();
    }
  });
});

describe('disk use stays bounded', () => {
  test('only the active version and the one before it (and the newest of another backbone) are kept; stale files are removed at start', async () => {
    requireModel();
    const lib = mk();
    const svc = new LibraryService(lib);
    try {
      const bb = backboneEncoder(svc.db);
      const other = backboneEncoder(svc.db, 'mobilenet_v2_mid');
      const version = (id: string, parent: Encoder, t: number): Encoder => {
        const dir = path.join(svc.layout.models, id);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ ...parent.manifest, id, version: '1' }));
        fs.writeFileSync(path.join(dir, `${id}.onnx`), 'x'.repeat(1000));
        const m = registerEncoder(svc.db, dir, id, parent.key);
        svc.db.prepare('UPDATE models SET created_at = ? WHERE key = ?').run(t, m.key);
        svc.db
          .prepare(`INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, created_at) SELECT id, ?, 'h', 'float16', 1, x'0000', 0 FROM photos`)
          .run(m.key);
        return m;
      };
      const o1 = version('other-ft1', other, 1);
      const o2 = version('other-ft2', other, 2);
      const v = [1, 2, 3, 4].map((i) => version(`cn-ft${i}`, bb, 10 + i));
      setActiveEncoder(svc.db, v[3].key);
      const deleted = pruneVersions(svc);
      assert.deepEqual(deleted.sort(), [o1.key, v[0].key, v[1].key].sort());
      for (const k of deleted) {
        assert.equal(svc.db.prepare('SELECT 1 FROM models WHERE key = ?').get(k), undefined);
        assert.equal(fs.existsSync(path.join(svc.layout.models, k.split('@')[0])), false);
      }
      for (const m of [o2, v[2], v[3]]) assert.ok(fs.existsSync(m.dir), `${m.key} kept`);

      // Files a killed process leaves: temp files of atomic writes, a checkpoint of a run that is over, a model
      // folder no row names.
      fs.mkdirSync(svc.layout.training, { recursive: true });
      for (const f of ['.run-7.ckpt.123.abcd.tmp', 'run-7.ckpt', '.state.ckpt.9.ff.tmp']) fs.writeFileSync(path.join(svc.layout.training, f), 'x');
      fs.writeFileSync(path.join(svc.layout.training, 'state.ckpt'), 'keep');
      fs.mkdirSync(path.join(svc.layout.models, 'orphan-ft9'));
      const removed = cleanStaleFiles(svc).map((p) => path.basename(p)).sort();
      assert.deepEqual(removed, ['.run-7.ckpt.123.abcd.tmp', '.state.ckpt.9.ff.tmp', 'orphan-ft9', 'run-7.ckpt']);
      assert.ok(fs.existsSync(path.join(svc.layout.training, 'state.ckpt')));
    } finally {
      await svc.close();
    }
  });

  test('`shoebox check` reports what the library folder holds', async () => {
    const lib = mk();
    const svc = new LibraryService(lib);
    await svc.close();
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin/shoebox.js'), 'check', '--library', lib], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /in all:/);
    for (const part of ['library.db', 'cache/thumbs', 'cache/previews', 'models', 'training']) assert.ok(r.stdout.includes(part), part);
    assert.match(r.stdout, /The database is healthy/);
  });
});
