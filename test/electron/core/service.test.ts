import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ApiEvent } from '../../../electron/core/api/contract.js';
import { JobManager } from '../../../electron/core/jobs.js';
import { backboneEncoder, DEFAULT_ENCODER_ID, listEncoders, setActiveEncoder } from '../../../electron/core/encoders.js';
import { prunePreviews, thumbFile } from '../../../electron/core/library/thumbs.js';
import { isInside } from '../../../electron/core/paths.js';
import { LibraryService, openCore } from '../../../electron/core/service.js';
import { jpeg, tmpDir } from '../../helpers/images.js';
import { syntheticEncoder } from '../../../bench/fixtures/encoders.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const mk = (): string => {
  const d = tmpDir();
  dirs.push(d);
  return d;
};

describe('API boundary', () => {
  test('bad arguments and unknown methods come back as {ok:false,error:{code,message}}', async () => {
    const svc = new LibraryService(mk());
    try {
      const cases: [string, unknown, string][] = [
        ['getAlbumPhotos', { albumId: -1, offset: 0, limit: 10 }, 'INVALID_INPUT'],
        ['getAlbumPhotos', { albumId: 1, offset: 0, limit: 1e9 }, 'INVALID_INPUT'],
        ['movePhotos', { photoIds: 'all', toAlbumId: 1 }, 'INVALID_INPUT'],
        ['renameAlbum', { albumId: 1, name: '   ' }, 'INVALID_INPUT'],
        ['setSettings', { device: 'quantum' }, 'INVALID_INPUT'],
        ['setSettings', { evil: true }, 'INVALID_INPUT'],
        ['dropTables', {}, 'NOT_FOUND'],
        ['__proto__', {}, 'NOT_FOUND'],
        ['getPhoto', { photoId: 42 }, 'NOT_FOUND'],
        ['addRoot', { path: '/definitely/not/here' }, 'NOT_FOUND'],
      ];
      for (const [m, args, code] of cases) {
        const r = await svc.call(m as 'getStatus', args);
        assert.equal(r.ok, false, m);
        if (!r.ok) {
          assert.equal(r.error.code, code, `${m} ${JSON.stringify(args)}`);
          assert.ok(r.error.message.length > 3);
        }
      }
    } finally {
      await svc.close();
    }
  });

  test('imagePath serves only cached files of known photos', async () => {
    const lib = mk();
    const root = mk();
    await jpeg(path.join(root, 'a.jpg'));
    const svc = new LibraryService(lib);
    try {
      svc.addRoot(root);
      const job = svc.organize({ train: false });
      const info = await job.done;
      assert.equal(info.state, 'done', info.message);
      const id = (svc.db.prepare('SELECT id FROM photos').get() as { id: number }).id;
      const thumb = await svc.imagePath(id, 'thumb');
      assert.ok(thumb && isInside(path.join(lib, 'cache'), thumb));
      const preview = await svc.imagePath(id, 'preview');
      assert.ok(preview && fs.existsSync(preview));
      assert.equal(await svc.imagePath(id + 100, 'thumb'), null);
      assert.equal(await svc.imagePath(-1, 'thumb'), null);
      assert.equal(await svc.imagePath(Number.NaN, 'thumb'), null);
    } finally {
      await svc.close();
    }
  });

  test('isInside rejects traversal', () => {
    assert.equal(isInside('/lib/cache', '/lib/cache/thumbs/ab/x.webp'), true);
    assert.equal(isInside('/lib/cache', '/lib/cache/../library.db'), false);
    assert.equal(isInside('/lib/cache', '/etc/passwd'), false);
    assert.equal(isInside('/lib/cache', '/lib/cache2/x'), false);
  });
});

describe('folders', () => {
  test('removing a folder takes its photos out of every album and deletes their thumbnails; the files, the other folder and undo stay', async () => {
    const svc = new LibraryService(mk());
    try {
      const [a, b] = [mk(), mk()];
      for (const [dir, name] of [
        [a, 'a.jpg'],
        [b, 'b.jpg'],
      ])
        await jpeg(path.join(dir, name));
      const ra = svc.addRoot(a);
      const rb = svc.addRoot(b);
      const now = Date.now();
      const photo = (root: number, rel: string, hash: string): number => {
        const id = Number(
          svc.db
            .prepare(`INSERT INTO photos(root_id, rel_path, status, hash, taken_at) VALUES (?, ?, 'ok', ?, ?)`)
            .run(root, rel, hash, now).lastInsertRowid,
        );
        for (const kind of ['thumb', 'preview'] as const) {
          const f = thumbFile(svc.layout.cache, hash, kind);
          fs.mkdirSync(path.dirname(f), { recursive: true });
          fs.writeFileSync(f, 'x');
        }
        return id;
      };
      const pa = photo(ra.id, 'a.jpg', 'aa11');
      const shared = photo(ra.id, 'copy.jpg', 'cc33');
      const pb = photo(rb.id, 'b.jpg', 'bb22');
      photo(rb.id, 'copy.jpg', 'cc33');
      const album = Number(
        svc.db.prepare(`INSERT INTO albums(name, kind, created_at, updated_at) VALUES ('Trip', 'auto', ?, ?)`).run(now, now)
          .lastInsertRowid,
      );
      for (const p of [pa, shared, pb])
        svc.db.prepare(`INSERT INTO album_members(photo_id, album_id, source, updated_at) VALUES (?, ?, 'auto', ?)`).run(p, album, now);
      const other = await svc.call('createAlbum', { name: 'Mine' });
      assert.ok(other.ok);
      assert.ok((await svc.call('movePhotos', { photoIds: [pa, pb], toAlbumId: other.value.albumId })).ok);

      const res = await svc.call('removeRoot', { rootId: ra.id });
      assert.deepEqual(res, { ok: true, value: { removed: 2 } });
      assert.deepEqual(
        svc.roots().map((r) => r.path),
        [rb.path],
      );
      const left = svc.db.prepare('SELECT id FROM photos ORDER BY id').pluck().all() as number[];
      assert.ok(!left.includes(pa) && !left.includes(shared) && left.includes(pb));
      assert.equal(svc.db.prepare('SELECT COUNT(*) FROM album_members WHERE photo_id IN (?, ?)').pluck().get(pa, shared), 0);
      assert.ok(
        !fs.existsSync(thumbFile(svc.layout.cache, 'aa11', 'thumb')) && !fs.existsSync(thumbFile(svc.layout.cache, 'aa11', 'preview')),
      );
      assert.ok(fs.existsSync(thumbFile(svc.layout.cache, 'cc33', 'thumb')), 'a thumbnail another photo shares stays');
      assert.ok(fs.existsSync(path.join(a, 'a.jpg')), 'the files stay');
      // The move made before still undoes, for the photo that is still in the library.
      const undo = await svc.call('undo', {});
      assert.ok(undo.ok, JSON.stringify(undo));
      assert.equal(svc.db.prepare('SELECT album_id FROM album_members WHERE photo_id = ?').pluck().get(pb), album);
      assert.deepEqual((await svc.call('removeRoot', { rootId: ra.id })).ok, false, 'a folder no longer there is refused');
    } finally {
      await svc.close();
    }
  });
});

describe('jobs', () => {
  test('exactly one finished event, throttled progress, cancel', async () => {
    const svc = new LibraryService(mk());
    const events: ApiEvent[] = [];
    const jobs = new JobManager(svc.db, (e) => events.push(e));
    const j = jobs.start('scan', {}, async (ctx) => {
      ctx.stage('scan', 1000);
      for (let i = 1; i <= 1000; i++) {
        ctx.progress(i);
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    });
    const done = await j.done;
    assert.equal(done.state, 'done');
    assert.equal(events.filter((e) => e.type === 'job-finished').length, 1);
    assert.ok(events.filter((e) => e.type === 'job-progress').length < 50, 'progress is throttled');

    const c = jobs.start('train', {}, async (ctx) => {
      for (;;) {
        ctx.progress(1, 10);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    setTimeout(() => jobs.cancel(c.id), 30);
    const cancelled = await c.done;
    assert.equal(cancelled.state, 'cancelled');
    assert.equal(events.filter((e) => e.type === 'job-finished' && e.job.id === c.id).length, 1);
    const row = svc.db.prepare('SELECT state FROM jobs WHERE id = ?').get(c.id) as { state: string };
    assert.equal(row.state, 'cancelled');
    await svc.close();
  });

  test('training losses accumulate across progress events (the sparkline gets a history), newest 200 kept', async () => {
    const svc = new LibraryService(mk());
    const events: ApiEvent[] = [];
    const jobs = new JobManager(svc.db, (e) => events.push(e));
    const j = jobs.start('organize', {}, async (ctx) => {
      ctx.stage('train', 300);
      for (let i = 1; i <= 300; i++) {
        ctx.progress(i, 300, { losses: [i] });
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 220));
      }
      ctx.flush();
      ctx.stage('cluster', 1);
    });
    await j.done;
    const train = events.flatMap((e) => (e.type === 'job-progress' && e.job.stage === 'train' ? [e.job] : []));
    const last = train.at(-1)!;
    assert.equal(last.losses?.length, 200);
    assert.deepEqual(last.losses?.slice(-3), [298, 299, 300]);
    assert.ok(
      train.some((t) => (t.losses?.length ?? 0) > 1 && (t.losses?.length ?? 0) < 200),
      'intermediate events carry several points',
    );
    const cluster = events.flatMap((e) => (e.type === 'job-progress' && e.job.stage === 'cluster' ? [e.job] : []));
    assert.equal(cluster.at(-1)?.losses, undefined, 'a new stage starts without the losses of the last');
    await svc.close();
  });

  test('a failing job reports a serialized error', async () => {
    const svc = new LibraryService(mk());
    const j = svc.jobs.start('cluster', {}, () => Promise.reject(new Error('boom')));
    const info = await j.done;
    assert.equal(info.state, 'failed');
    assert.deepEqual(info.error, { code: 'INTERNAL', message: 'boom' });
    await svc.close();
  });

  test('jobs left running by a crash are marked interrupted on open', async () => {
    const lib = mk();
    const svc = new LibraryService(lib);
    svc.db.prepare(`INSERT INTO jobs(id, kind, state, started_at) VALUES ('x', 'organize', 'running', 1)`).run();
    // A crash: the database is left as it was, and so is the lock file (of a process that is gone).
    svc.db.close();
    const lock = JSON.parse(fs.readFileSync(path.join(lib, 'library.lock'), 'utf8')) as { pid: number };
    fs.writeFileSync(path.join(lib, 'library.lock'), JSON.stringify({ ...lock, pid: deadPid() }));
    const again = new LibraryService(lib);
    const row = again.db.prepare(`SELECT state, error FROM jobs WHERE id = 'x'`).get() as { state: string; error: string };
    assert.equal(row.state, 'failed');
    assert.match(row.error, /Interrupted/);
    await again.close();
  });
});

describe('worker core', () => {
  test('the core runs in a worker thread behind the same contract', async () => {
    const root = mk();
    await jpeg(path.join(root, 'w.jpg'));
    const core = await openCore({ libraryDir: mk(), roots: [root], inWorker: true });
    try {
      const finished = new Promise<void>((resolve) => core.subscribe((e) => e.type === 'job-finished' && resolve()));
      const r = await core.call('organize', { train: false });
      assert.ok(r.ok);
      await finished;
      const status = await core.call('getStatus', {});
      assert.ok(status.ok && status.value.photoCount === 1);
      const bad = await core.call('getPhoto', { photoId: 'x' });
      assert.equal(bad.ok, false);
    } finally {
      await core.close();
    }
  });
});

describe('worker death', () => {
  test('calls in flight and later calls get an INTERNAL error naming the stopped worker; the next open takes over', async () => {
    const lib = mk();
    const core = await openCore({ libraryDir: lib, roots: [], inWorker: true });
    const worker = (core as unknown as { worker: import('node:worker_threads').Worker }).worker;
    const exited = new Promise((r) => worker.once('exit', r));
    // Killed from outside while it is alive: as if it crashed (no close, so its lock file stays behind).
    const inFlight = core.call('listAlbums', {});
    await worker.terminate();
    await exited;
    const r1 = await inFlight;
    const r2 = await core.call('getStatus', {});
    for (const r of [r1, r2]) {
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.code, 'INTERNAL');
        assert.match(r.error.message, /The library worker stopped/);
      }
    }
    assert.equal(await core.imagePath(1, 'thumb'), null);
    await core.close();
    // A dead worker thread does not end its process, so the lock it took stays until the process ends; the next
    // process (a restart) finds it stale and takes the library over, with nothing lost.
    const lock = JSON.parse(fs.readFileSync(path.join(lib, 'library.lock'), 'utf8')) as { pid: number };
    fs.writeFileSync(path.join(lib, 'library.lock'), JSON.stringify({ ...lock, pid: deadPid() }));
    const again = new LibraryService(lib);
    assert.ok(again.status());
    await again.close();
  });
});

describe('listEncoders', () => {
  test('lists valid manifests whose model file is present, default first; skips the rest', () => {
    const dir = tmpDir('shoebox-models-');
    dirs.push(dir);
    const write = (id: string, withModel: boolean, patch: Record<string, unknown> = {}): void => {
      const { manifest, bytes } = syntheticEncoder({ dim: 16 });
      fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ ...manifest, id, file: `${id}.onnx`, ...patch }));
      if (withModel) fs.writeFileSync(path.join(dir, `${id}.onnx`), bytes);
    };
    write('zeta', true);
    write(DEFAULT_ENCODER_ID, true);
    write('alpha', true, { source: { package: 'my-export', version: '2', license: 'Apache-2.0', weightsLicense: 'CC-BY-4.0' } });
    write('no_model', false);
    write('faces', true, { kind: 'face-embedder' }); // a face embedder's manifest has an output too, but is no image encoder
    fs.writeFileSync(path.join(dir, 'broken.json'), '{ "id": "broken" ');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a manifest');
    const list = listEncoders(dir);
    assert.deepEqual(
      list.map((e) => e.id),
      [DEFAULT_ENCODER_ID, 'alpha', 'zeta'],
    );
    assert.equal(list[0].isDefault, true);
    const alpha = list.find((e) => e.id === 'alpha')!;
    assert.deepEqual(
      [alpha.dim, alpha.source, alpha.license, alpha.weightsLicense, alpha.isDefault],
      [16, 'my-export 2', 'Apache-2.0', 'CC-BY-4.0', false],
    );
    assert.deepEqual(listEncoders(path.join(dir, 'missing')), []);
  });
});

describe('settings', () => {
  test('a library keeps the backbone it was built with when it never chose one; a choice wins', async () => {
    const svc = new LibraryService(mk());
    try {
      assert.equal(svc.settings().encoder, DEFAULT_ENCODER_ID, 'a new library gets the default');
      const other = listEncoders().find((e) => !e.isDefault);
      assert.ok(other, 'a second bundled encoder is built');
      // Built with the other backbone, then refined: its fine-tuned version is active.
      const built = backboneEncoder(svc.db, other.id);
      svc.db
        .prepare(`INSERT INTO models(key, id, version, dir, parent, created_at) VALUES (?, ?, '1', ?, ?, 0)`)
        .run(`${other.id}-ft1@1`, `${other.id}-ft1`, mk(), built.key);
      setActiveEncoder(svc.db, `${other.id}-ft1@1`);
      assert.equal(svc.settings().encoder, other.id);
      await svc.call('setSettings', { encoder: DEFAULT_ENCODER_ID });
      assert.equal(svc.settings().encoder, DEFAULT_ENCODER_ID, 'a saved choice wins');
    } finally {
      await svc.close();
    }
  });
});

describe('preview cache', () => {
  test('stays within its bound: the least recently shown previews go first, recent ones stay; a shown preview is touched', async () => {
    const cache = mk();
    const now = Date.now();
    const hour = 3_600_000;
    // Ten 1,000-byte previews, shown 10 h ago (p0) to 1 h ago (p9), and one shown just now.
    const put = (name: string, at: number): string => {
      const file = path.join(cache, 'previews', name.slice(0, 2), `${name}.webp`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, Buffer.alloc(1000));
      fs.utimesSync(file, new Date(at), new Date(at));
      return file;
    };
    const old = Array.from({ length: 10 }, (_, i) => put(`p${i}aa`, now - (10 - i) * hour));
    const fresh = put('zzfresh', now);
    assert.deepEqual(await prunePreviews(cache, 20_000, now), { files: 11, bytes: 11_000, removed: 0, removedBytes: 0 }, 'under the bound');
    const r = await prunePreviews(cache, 5_000, now);
    assert.deepEqual(r, { files: 11, bytes: 11_000, removed: 7, removedBytes: 7000 }, 'down to 80% of the bound');
    assert.deepEqual(
      old.map((f) => fs.existsSync(f)),
      [false, false, false, false, false, false, false, true, true, true],
      'the least recently shown went',
    );
    assert.ok(fs.existsSync(fresh));
    // A preview shown through the service is touched, so it becomes the most recent.
    const root = mk();
    const lib = mk();
    await jpeg(path.join(root, 'a.jpg'), { width: 640, height: 480, seed: 5 });
    const svc = new LibraryService(lib);
    try {
      svc.addRoot(root);
      assert.equal((await svc.organize({ train: false, objects: false, faces: false }).done).state, 'done');
      const id = (svc.db.prepare('SELECT id FROM photos').get() as { id: number }).id;
      const file = (await svc.imagePath(id, 'preview'))!;
      fs.utimesSync(file, new Date(now - 5 * hour), new Date(now - 5 * hour));
      assert.equal(await svc.imagePath(id, 'preview'), file);
      const deadline = Date.now() + 2000;
      while (fs.statSync(file).mtimeMs < now - hour && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.ok(fs.statSync(file).mtimeMs > now - hour, 'touched when shown');
    } finally {
      await svc.close();
    }
  });
});
