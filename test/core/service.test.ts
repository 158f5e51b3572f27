import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ApiEvent } from '../../electron/core/api/contract.js';
import { JobManager } from '../../electron/core/jobs.js';
import { DEFAULT_MODEL_ID, listEncoders } from '../../electron/core/models.js';
import { isInside } from '../../electron/core/paths.js';
import { LibraryService, openCore } from '../../electron/core/service.js';
import { jpeg, tmpDir } from '../helpers/images.js';
import { syntheticEncoder } from '../ml/fixtures.js';

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
    svc.db.close();
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
    write(DEFAULT_MODEL_ID, true);
    write('alpha', true, { source: { package: 'my-export', version: '2', license: 'Apache-2.0', weightsLicense: 'CC-BY-4.0' } });
    write('no_model', false);
    fs.writeFileSync(path.join(dir, 'broken.json'), '{ "id": "broken" ');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a manifest');
    const list = listEncoders(dir);
    assert.deepEqual(
      list.map((e) => e.id),
      [DEFAULT_MODEL_ID, 'alpha', 'zeta'],
    );
    assert.equal(list[0].isDefault, true);
    const alpha = list.find((e) => e.id === 'alpha')!;
    assert.deepEqual([alpha.dim, alpha.source, alpha.license, alpha.weightsLicense, alpha.isDefault], [16, 'my-export 2', 'Apache-2.0', 'CC-BY-4.0', false]);
    assert.deepEqual(listEncoders(path.join(dir, 'missing')), []);
  });
});
