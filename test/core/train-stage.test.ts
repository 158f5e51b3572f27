import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Embedder } from '../../electron/core/ml/embedder.js';
import { activeModel, backboneModel, DEFAULT_MODEL_ID } from '../../electron/core/models.js';
import { bundledModelsDir } from '../../electron/core/paths.js';
import { LibraryService } from '../../electron/core/service.js';
import { loadVectors } from '../../electron/core/stages/embed.js';
import { pseudoLabelClusters } from '../../electron/core/stages/train.js';
import { thumbFile } from '../../electron/core/library/thumbs.js';
import { validateManifest } from '../../training/manifest.js';
import { scenePhoto, tmpDir } from '../helpers/images.js';

const hasModel = fs.existsSync(path.join(bundledModelsDir(), `${DEFAULT_MODEL_ID}.onnx`));
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

test(
  'training produces a new encoder version whose merged ONNX model equals adapter(backbone) on photos',
  { skip: hasModel ? false : 'bundled model not built (npm run build:models)' },
  async () => {
    const root = tmpDir('shoebox-train-');
    const lib = tmpDir('shoebox-lib-');
    dirs.push(root, lib);
    for (let s = 0; s < 3; s++) for (let i = 0; i < 24; i++) await scenePhoto(path.join(root, `s${s}-${i}.jpg`), s, s * 500 + i, 96);
    const svc = new LibraryService(lib);
    try {
      svc.addRoot(root);
      const info = await svc.organize({ train: true, epochs: 2, device: 'cpu' }).done;
      assert.equal(info.state, 'done', info.message);
      const backbone = backboneModel(svc.db);
      const active = activeModel(svc.db);
      assert.notEqual(active.key, backbone.key, 'a fine-tuned encoder is active');
      assert.equal(active.parent, backbone.key);
      const manifest = validateManifest(JSON.parse(fs.readFileSync(active.manifestPath, 'utf8')));
      assert.equal(manifest.output.dim, 256);
      assert.equal(manifest.source.parent, backbone.key);
      const run = svc.db.prepare(`SELECT status, out_model FROM training_runs`).get() as { status: string; out_model: string };
      assert.deepEqual(run, { status: 'done', out_model: active.key });

      // The merged model, run on photos, gives the embeddings the library stored via adapter(backbone features).
      const matchesMerged = async (ids: number[]): Promise<void> => {
        const stored = loadVectors(svc.db, active.key, ids);
        assert.deepEqual(stored.ids, ids);
        const merged = await Embedder.open(active.manifestPath, { device: 'cpu' });
        try {
          const hashes = ids.map((id) => (svc.db.prepare('SELECT hash FROM photos WHERE id = ?').get(id) as { hash: string }).hash);
          let k = 0;
          for await (const r of merged.embedFiles(hashes.map((h) => thumbFile(path.join(lib, 'cache'), h, 'thumb')))) {
            assert.ok('vector' in r);
            const a = r.vector;
            const b = stored.data.subarray(r.index * 256, (r.index + 1) * 256);
            let dot = 0;
            let na = 0;
            let nb = 0;
            for (let d = 0; d < 256; d++) {
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
      };
      const all = loadVectors(svc.db, active.key).ids;
      assert.equal(all.length, 72);
      await matchesMerged(all.slice(0, 6));

      // Training views (the default encoder trains on its 840 pooled activations: the clean photo and 2 augmented
      // views) were cached as float16 rows and are reused by the next round.
      const tf = backbone.manifest.trainFeatures;
      assert.ok(tf, 'the default encoder names its training features');
      const views = svc.db.prepare(`SELECT COUNT(*) AS n, MIN(dim) AS lo, MAX(dim) AS hi FROM embeddings WHERE model_key LIKE ?`).get(`${backbone.key}#tf%`) as {
        n: number;
        lo: number;
        hi: number;
      };
      assert.deepEqual(views, { n: 72 * 3, lo: tf.dim, hi: tf.dim });

      // Views of the 120-d embedding that versions before training features cached (`#view<v>`) are deleted on the
      // next organize; other rows of the photo stay.
      const stale = svc.db.prepare('SELECT photo_id, hash, dtype, dim, vector, created_at FROM embeddings WHERE model_key = ? LIMIT 1').get(backbone.key) as {
        photo_id: number;
      };
      const insert = svc.db.prepare(
        'INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, created_at) VALUES (@photo_id, @model_key, @hash, @dtype, @dim, @vector, @created_at)',
      );
      for (const v of [1, 2]) insert.run({ ...stale, model_key: `${backbone.key}#view${v}` });
      const rowsOf = (id: number): string[] =>
        (svc.db.prepare('SELECT model_key FROM embeddings WHERE photo_id = ? ORDER BY model_key').all(id) as { model_key: string }[]).map((r) => r.model_key);
      const before = rowsOf(stale.photo_id);
      assert.ok(before.includes(`${backbone.key}#view2`));

      // Photos added later get the fine-tuned embedding without training again: their training features are made
      // from their thumbnails, then the adapter applied.
      for (let i = 0; i < 3; i++) await scenePhoto(path.join(root, `new-${i}.jpg`), i, 9000 + i, 96);
      const again = await svc.organize({ train: false, device: 'cpu' }).done;
      assert.equal(again.state, 'done', again.message);
      assert.deepEqual(
        rowsOf(stale.photo_id),
        before.filter((k) => !k.includes('#view')),
      );
      assert.ok(rowsOf(stale.photo_id).includes(`${backbone.key}#tf0`));
      assert.equal(activeModel(svc.db).key, active.key);
      const now = loadVectors(svc.db, active.key).ids;
      assert.equal(now.length, 75);
      await matchesMerged(now.filter((id) => !all.includes(id)));
    } finally {
      await svc.close();
    }
  },
);
