import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Embedder } from '../../../electron/core/ml/embedder.js';
import { activeEncoder, backboneEncoder, type Encoder } from '../../../electron/core/encoders.js';
import { LibraryService } from '../../../electron/core/service.js';
import * as embeddings from '../../../electron/core/embeddings.js';
import { openBackbone } from '../../../electron/core/stages/embed.js';
import { TRAIN_SAMPLE_MAX, ensureViews, pseudoLabelClusters, trainingSample } from '../../../electron/core/stages/train.js';
import { thumbFile } from '../../../electron/core/library/thumbs.js';
import { validateManifest } from '../../../training/manifest.js';
import { bundledModelsDir } from '../../../electron/core/paths.js';
import { DEFAULT_ENCODER_ID } from '../../../training/models.js';
import { DUAL_MNV3_MNV2 } from '../../../training/convert/dual.js';
import { scenePhoto, tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];

test('pseudo-label clusters grow with the library as the square root of photos / 20, within [2, 256]', () => {
  let previous = 0;
  for (const photos of [64, 100, 500, 1800, 2000, 10_000, 30_000, 100_000, 2_000_000]) {
    const k = pseudoLabelClusters(photos);
    assert.ok(Number.isInteger(k) && k >= 2 && k <= 256, `${photos} photos: K ${k}`);
    assert.ok(k >= previous, `K never shrinks as the library grows (${photos} photos: ${k} < ${previous})`);
    previous = k;
  }
  assert.equal(pseudoLabelClusters(64), 2);
  assert.equal(pseudoLabelClusters(2000), 10);
  assert.equal(pseudoLabelClusters(30_000), 39);
  assert.equal(pseudoLabelClusters(2_000_000), 256);
});
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A library of 3 generated scenes x `perScene` photos (seeds s * `seedStep` + i), opened but not organized. */
async function sceneLibrary(perScene: number, seedStep: number): Promise<{ root: string; lib: string; svc: LibraryService }> {
  const root = tmpDir('shoebox-train-');
  const lib = tmpDir('shoebox-lib-');
  dirs.push(root, lib);
  for (let s = 0; s < 3; s++)
    for (let i = 0; i < perScene; i++) await scenePhoto(path.join(root, `s${s}-${i}.jpg`), s, s * seedStep + i, 96);
  return { root, lib, svc: new LibraryService(lib) };
}

/** The merged model of `active`, run on the photos' thumbnails, gives the embeddings the library stored (cosine > 0.999). */
async function matchesMergedModel(svc: LibraryService, lib: string, active: Encoder, ids: number[]): Promise<void> {
  const stored = embeddings.load(svc.db, embeddings.embeddingKey(active.key), ids);
  assert.deepEqual(stored.ids, ids);
  const dim = stored.dim;
  const merged = await Embedder.open(active.manifestPath, { device: 'cpu' });
  try {
    const hashes = ids.map((id) => (svc.db.prepare('SELECT hash FROM photos WHERE id = ?').get(id) as { hash: string }).hash);
    let k = 0;
    for await (const r of merged.embedFiles(hashes.map((h) => thumbFile(path.join(lib, 'cache'), h, 'thumb')))) {
      assert.ok('vector' in r);
      const a = r.vector;
      const b = stored.data.subarray(r.index * dim, (r.index + 1) * dim);
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let d = 0; d < dim; d++) {
        dot += a[d] * b[d];
        na += a[d] * a[d];
        nb += b[d] * b[d];
      }
      assert.ok(dot / Math.sqrt(na * nb) > 0.999, `photo ${ids[r.index]}: cosine ${dot / Math.sqrt(na * nb)}`);
      k++;
    }
    assert.equal(k, ids.length);
  } finally {
    await merged.release();
  }
}

test('training produces a new encoder version whose merged ONNX model equals adapter(backbone) on photos', async () => {
  requireModel();
  const { root, lib, svc } = await sceneLibrary(24, 500);
  try {
    svc.addRoot(root);
    const info = await svc.organize({ train: true, steps: 4, device: 'cpu' }).done;
    assert.equal(info.state, 'done', info.message);
    const backbone = backboneEncoder(svc.db);
    const active = activeEncoder(svc.db);
    assert.notEqual(active.key, backbone.key, 'a fine-tuned encoder is active');
    assert.equal(active.parent, backbone.key);
    const manifest = validateManifest(JSON.parse(fs.readFileSync(active.manifestPath, 'utf8')));
    assert.equal(manifest.output.dim, 256);
    assert.equal(manifest.source.parent, backbone.key);
    const run = svc.db.prepare(`SELECT status, out_model FROM training_runs`).get() as { status: string; out_model: string };
    assert.deepEqual(run, { status: 'done', out_model: active.key });

    const matchesMerged = (ids: number[]): Promise<void> => matchesMergedModel(svc, lib, active, ids);
    const all = embeddings.load(svc.db, embeddings.embeddingKey(active.key)).ids;
    assert.equal(all.length, 72);
    await matchesMerged(all.slice(0, 6));

    // Training views (the default encoder trains on its 840 pooled activations: the clean photo and 2 augmented
    // views) were cached as float16 rows and are reused by the next round.
    const tf = backbone.manifest.trainFeatures;
    assert.ok(tf, 'the default encoder names its training features');
    const views = svc.db
      .prepare(`SELECT COUNT(*) AS n, MIN(dim) AS lo, MAX(dim) AS hi FROM embeddings WHERE model_key LIKE ?`)
      .get(`${backbone.key}#tf%`) as {
      n: number;
      lo: number;
      hi: number;
    };
    assert.deepEqual(views, { n: 72 * 3, lo: tf.dim, hi: tf.dim });

    const rowsOf = (id: number): string[] =>
      (svc.db.prepare('SELECT model_key FROM embeddings WHERE photo_id = ? ORDER BY model_key').all(id) as { model_key: string }[]).map(
        (r) => r.model_key,
      );

    // Photos added later get the fine-tuned embedding without training again: the embed stage stores their
    // embedding and clean training features in one pass, then the adapter is applied.
    for (let i = 0; i < 3; i++) await scenePhoto(path.join(root, `new-${i}.jpg`), i, 9000 + i, 96);
    const again = await svc.organize({ train: false, device: 'cpu' }).done;
    assert.equal(again.state, 'done', again.message);
    const added = (svc.db.prepare(`SELECT id FROM photos WHERE rel_path = 'new-0.jpg'`).get() as { id: number }).id;
    assert.deepEqual(rowsOf(added), [backbone.key, `${backbone.key}#tf0`, active.key].sort());
    assert.equal(activeEncoder(svc.db).key, active.key);
    const now = embeddings.load(svc.db, embeddings.embeddingKey(active.key)).ids;
    assert.equal(now.length, 75);
    await matchesMerged(now.filter((id) => !all.includes(id)));
  } finally {
    await svc.close();
  }
});

test("scaling the training features' parts (manifest unitParts) reuses the stored features: the old version's adapter still holds, the next round starts afresh and its adapter scales them", async () => {
  requireModel();
  // A models folder whose default backbone's manifest is switched between plain and part-scaled features.
  const models = tmpDir('shoebox-models-');
  dirs.push(models);
  const bundled = bundledModelsDir();
  for (const f of fs.readdirSync(bundled)) fs.symlinkSync(path.join(bundled, f), path.join(models, f));
  const manifestFile = path.join(models, `${DEFAULT_ENCODER_ID}.json`);
  const original = validateManifest(JSON.parse(fs.readFileSync(path.join(bundled, `${DEFAULT_ENCODER_ID}.json`), 'utf8')));
  const tf = original.trainFeatures!;
  const writeManifest = (unitParts: boolean): void => {
    fs.rmSync(manifestFile, { force: true });
    const { unitParts: _u, ...plain } = tf;
    const trainFeatures = unitParts ? { ...plain, unitParts: true, partDims: [tf.dim - original.output.dim, original.output.dim] } : plain;
    fs.writeFileSync(manifestFile, JSON.stringify({ ...original, trainFeatures }));
  };
  writeManifest(false);
  const saved = process.env.SHOEBOX_MODELS;
  process.env.SHOEBOX_MODELS = models;
  const { root, lib, svc } = await sceneLibrary(22, 700);
  try {
    svc.addRoot(root);
    const first = await svc.organize({ train: true, steps: 4, device: 'cpu', objects: false, faces: false }).done;
    assert.equal(first.state, 'done', first.message);
    const plainVersion = activeEncoder(svc.db);
    const backbone = backboneEncoder(svc.db);
    const stored = (): number => embeddings.count(svc.db, embeddings.trainFeaturesKey(backbone.key, 0));
    assert.equal(stored(), 66);
    const newPhotoIds = async (name: string, seed: number): Promise<number[]> => {
      await scenePhoto(path.join(root, name), 1, seed, 96);
      const done = await svc.organize({ train: false, device: 'cpu', objects: false, faces: false }).done;
      assert.equal(done.state, 'done', done.message);
      return [(svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(name) as { id: number }).id];
    };

    writeManifest(true);
    // The plain-trained version's adapter reads the stored plain features as before.
    await matchesMergedModel(svc, lib, plainVersion, await newPhotoIds('a.jpg', 7001));
    assert.equal(stored(), 67, 'the stored features are kept and extended, not made again');
    const second = await svc.organize({ train: true, retrain: true, steps: 4, device: 'cpu', objects: false, faces: false }).done;
    assert.equal(second.state, 'done', second.message);
    assert.equal(svc.report?.trained?.warm, false, 'a state trained on other features is not continued');
    const unitVersion = activeEncoder(svc.db);
    assert.notEqual(unitVersion.key, plainVersion.key);
    // The new version's adapter scales the stored features' parts itself: a new photo matches its merged model.
    await matchesMergedModel(svc, lib, unitVersion, await newPhotoIds('b.jpg', 7002));
  } finally {
    await svc.close();
    if (saved === undefined) delete process.env.SHOEBOX_MODELS;
    else process.env.SHOEBOX_MODELS = saved;
  }
});

test('the dual encoder: first albums from its embedding alone; training features made before the round, from both backbones; new photos get both', async () => {
  requireModel(DUAL_MNV3_MNV2.id);
  const { root, lib, svc } = await sceneLibrary(24, 500);
  try {
    svc.addRoot(root);
    const encoder = DUAL_MNV3_MNV2.id;
    const first = await svc.organize({ train: false, device: 'cpu', encoder, objects: false, faces: false }).done;
    assert.equal(first.state, 'done', first.message);
    const backbone = backboneEncoder(svc.db, encoder);
    const tf = backbone.manifest.trainFeatures;
    assert.ok(tf?.deferred, 'the dual encoder defers its training features');
    const rows = (like: string): number =>
      (svc.db.prepare('SELECT COUNT(*) AS n FROM embeddings WHERE model_key LIKE ?').get(like) as { n: number }).n;
    assert.equal(rows(backbone.key), 72);
    assert.equal(rows(`${backbone.key}#tf%`), 0, 'no training features before a round wants them');
    assert.ok((svc.db.prepare('SELECT COUNT(*) AS n FROM album_members').get() as { n: number }).n >= 72, 'albums were made');

    const trained = await svc.organize({ train: true, retrain: true, steps: 4, device: 'cpu', encoder, objects: false, faces: false }).done;
    assert.equal(trained.state, 'done', trained.message);
    const active = activeEncoder(svc.db);
    assert.equal(active.parent, backbone.key);
    const dims = svc.db
      .prepare('SELECT COUNT(*) AS n, MIN(dim) AS lo, MAX(dim) AS hi FROM embeddings WHERE model_key LIKE ?')
      .get(`${backbone.key}#tf%`);
    assert.deepEqual(dims, { n: 72 * 3, lo: tf.dim, hi: tf.dim });
    const all = embeddings.load(svc.db, embeddings.embeddingKey(active.key)).ids;
    assert.equal(all.length, 72);
    await matchesMergedModel(svc, lib, active, all.slice(0, 4));

    // A photo added now needs the refined embedding at once: its features are made with its embedding.
    await scenePhoto(path.join(root, 'new-0.jpg'), 1, 9000, 96);
    const again = await svc.organize({ train: false, device: 'cpu', encoder, objects: false, faces: false }).done;
    assert.equal(again.state, 'done', again.message);
    const added = (svc.db.prepare(`SELECT id FROM photos WHERE rel_path = 'new-0.jpg'`).get() as { id: number }).id;
    const keys = (
      svc.db.prepare('SELECT model_key FROM embeddings WHERE photo_id = ? ORDER BY model_key').all(added) as { model_key: string }[]
    ).map((r) => r.model_key);
    assert.deepEqual(keys, [backbone.key, `${backbone.key}#tf0`, active.key].sort());
    await matchesMergedModel(svc, lib, active, [added]);
  } finally {
    await svc.close();
  }
});

test('--finetune-backbone: a round fine-tunes the last block too; the new version has no adapter, and photos, also new ones, go through its merged model', async () => {
  requireModel();
  const { root, lib, svc } = await sceneLibrary(22, 300);
  try {
    svc.addRoot(root);
    const blockRound = () =>
      svc.organize({ train: true, retrain: true, steps: 3, device: 'cpu', finetuneBlock: true, objects: false, faces: false }).done;
    const info = await blockRound();
    assert.equal(info.state, 'done', info.message);
    const backbone = backboneEncoder(svc.db);
    const active = activeEncoder(svc.db);
    assert.equal(active.parent, backbone.key);
    assert.equal(active.adapterPath, null, 'no adapter: the stored features do not hold for a fine-tuned block');
    assert.match(validateManifest(JSON.parse(fs.readFileSync(active.manifestPath, 'utf8'))).notes ?? '', /last block fine-tuned/);
    const stored = embeddings.load(svc.db, embeddings.embeddingKey(active.key));
    assert.equal(stored.ids.length, 66);
    assert.equal(stored.dim, 256);
    // What was stored is what the merged model gives for the photo.
    const merged = await Embedder.open(active.manifestPath, { device: 'cpu' });
    try {
      const hash = (svc.db.prepare('SELECT hash FROM photos WHERE id = ?').get(stored.ids[0]) as { hash: string }).hash;
      for await (const r of merged.embedFiles([thumbFile(path.join(lib, 'cache'), hash, 'thumb')])) {
        assert.ok('vector' in r);
        const d = r.vector.reduce((m, v, i) => Math.max(m, Math.abs(v - stored.data[i])), 0);
        assert.ok(d < 2e-3, `differs by ${d} (float16 storage)`);
      }
    } finally {
      await merged.release();
    }
    await scenePhoto(path.join(root, 'new.jpg'), 1, 9999, 96);
    const again = await svc.organize({ train: false, device: 'cpu', objects: false, faces: false }).done;
    assert.equal(again.state, 'done', again.message);
    assert.equal(
      embeddings.load(svc.db, embeddings.embeddingKey(active.key)).ids.length,
      67,
      'a new photo is embedded by the merged model',
    );
    // The block's views are kept on disk, one float16 file per photo, and the next block round reads them.
    const cached = (): string[] =>
      fs
        .readdirSync(path.join(lib, 'cache', 'block-views'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.f16'));
    assert.equal(cached().length, 66, 'one file per photo of the first block round');
    const second = await blockRound();
    assert.equal(second.state, 'done', second.message);
    assert.equal(svc.report?.trained?.blockViewsCached, 66, "the first round's photos came from the cache, the new one was made");
    assert.equal(cached().length, 67);
    const third = await svc.organize({ train: true, retrain: true, steps: 3, device: 'cpu', objects: false, faces: false }).done;
    assert.equal(third.state, 'done', third.message);
    assert.ok(!fs.existsSync(path.join(lib, 'cache', 'block-views')), 'a round without the block deletes them');
  } finally {
    await svc.close();
  }
});

test('a training round cancelled midway keeps its checkpoint and is resumed, not restarted; a later round continues from it; the time limit shortens a round', async () => {
  requireModel();
  const root = tmpDir('shoebox-train-');
  const lib = tmpDir('shoebox-lib-');
  dirs.push(root, lib);
  for (let s = 0; s < 3; s++) for (let i = 0; i < 24; i++) await scenePhoto(path.join(root, `s${s}-${i}.jpg`), s, s * 700 + i, 96);
  const svc = new LibraryService(lib);
  try {
    svc.addRoot(root);
    const round = { retrain: true, steps: 300, maxPasses: Infinity, device: 'cpu' as const };
    const job = svc.organize(round);
    const stop = svc.subscribe((e) => {
      if (e.type === 'job-progress' && e.job.stage === 'train' && e.job.total === 300 && e.job.done >= 40) svc.jobs.cancel(job.id);
    });
    const cancelled = await job.done;
    stop();
    assert.equal(cancelled.state, 'cancelled');
    const run = svc.db.prepare(`SELECT id, status FROM training_runs`).get() as { id: number; status: string };
    assert.equal(run.status, 'cancelled');
    assert.ok(fs.existsSync(path.join(lib, 'training', `run-${run.id}.ckpt`)), 'the checkpoint stays');
    assert.ok(albumsExist(svc), 'the albums written before training stay');

    const resumed = await svc.organize(round).done;
    assert.equal(resumed.state, 'done', resumed.message);
    const runs = svc.db.prepare(`SELECT id, status, epoch FROM training_runs ORDER BY id`).all() as {
      id: number;
      status: string;
      epoch: number;
    }[];
    assert.deepEqual(runs, [{ id: run.id, status: 'done', epoch: 300 }], 'the same run finished');
    assert.equal(svc.report?.trained?.warm, false);
    assert.ok(!fs.existsSync(path.join(lib, 'training', `run-${run.id}.ckpt`)));
    assert.ok(fs.existsSync(path.join(lib, 'training', 'state.ckpt')), 'the final state is kept for the next round');

    // The next round continues from that state, with the warm budget (a quarter).
    const warm = await svc.organize({ ...round, steps: 400 }).done;
    assert.equal(warm.state, 'done', warm.message);
    assert.equal(svc.report?.trained?.warm, true);
    assert.equal(svc.report?.trained?.steps, 100);

    // A round that cannot fit its time limit is shortened to it.
    const limited = await svc.organize({ ...round, steps: 50_000, warmStart: false, timeLimitSec: 4 }).done;
    assert.equal(limited.state, 'done', limited.message);
    assert.equal(svc.report?.trained?.limitedBy, 'deadline');
    assert.ok((svc.report?.trained?.steps ?? 0) < 50_000);
    // Only the active version and the one before it are kept.
    const versions = (svc.db.prepare(`SELECT key FROM models WHERE parent IS NOT NULL`).all() as { key: string }[]).length;
    assert.equal(versions, 2);
  } finally {
    await svc.close();
  }
});

test('views stop at their deadline; a round trains on the photos whose views are done, and the next makes the rest', async () => {
  requireModel();
  const root = tmpDir('shoebox-train-');
  const lib = tmpDir('shoebox-lib-');
  dirs.push(root, lib);
  for (let s = 0; s < 3; s++) for (let i = 0; i < 24; i++) await scenePhoto(path.join(root, `s${s}-${i}.jpg`), s, s * 900 + i, 96);
  const svc = new LibraryService(lib);
  try {
    svc.addRoot(root);
    assert.equal((await svc.organize({ train: false, device: 'cpu' }).done).state, 'done');
    const backbone = backboneEncoder(svc.db);
    const sample = trainingSample(svc.db, backbone, TRAIN_SAMPLE_MAX);
    assert.equal(sample.length, 72);
    const views = (): number[] => [1, 2].map((v) => embeddings.count(svc.db, embeddings.trainFeaturesKey(backbone.key, v)));
    const made: number[][] = [];
    const job = svc.jobs.start('train', {}, async (ctx) => {
      let embedder: Embedder | undefined;
      const open = async (): Promise<Embedder> => (embedder ??= await openBackbone(backbone, 'cpu', 'only'));
      try {
        made.push(await ensureViews(svc, backbone, sample.slice(0, 10), open, ctx));
        // A passed deadline makes nothing new: only the photos that have both views are returned, in order.
        made.push(await ensureViews(svc, backbone, sample, open, ctx, Date.now() - 1));
      } finally {
        await embedder?.release();
      }
    });
    assert.equal((await job.done).state, 'done');
    assert.deepEqual(made, [sample.slice(0, 10), sample.slice(0, 10)]);
    assert.deepEqual(views(), [10, 10]);

    // A round without a time limit makes the missing views and trains on all 72 photos.
    const round = await svc.organize({ retrain: true, steps: 8, device: 'cpu' }).done;
    assert.equal(round.state, 'done', round.message);
    assert.equal(svc.report?.trained?.photos, 72);
    assert.deepEqual(views(), [72, 72]);
  } finally {
    await svc.close();
  }
});

function albumsExist(svc: LibraryService): boolean {
  return (svc.db.prepare(`SELECT COUNT(*) AS n FROM album_members`).get() as { n: number }).n === 72;
}
