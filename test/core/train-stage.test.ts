import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Embedder } from '../../electron/core/ml/embedder.js';
import { activeModel, backboneModel, DEFAULT_MODEL_ID } from '../../electron/core/models.js';
import { bundledModelsDir } from '../../electron/core/paths.js';
import { LibraryService } from '../../electron/core/service.js';
import { loadVectors } from '../../electron/core/stages/embed.js';
import { thumbFile } from '../../electron/core/library/thumbs.js';
import { validateManifest } from '../../training/manifest.js';
import { scenePhoto, tmpDir } from '../helpers/images.js';

const hasModel = fs.existsSync(path.join(bundledModelsDir(), `${DEFAULT_MODEL_ID}.onnx`));
const dirs: string[] = [];
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
      const stored = loadVectors(svc.db, active.key);
      assert.equal(stored.ids.length, 72);
      const merged = await Embedder.open(active.manifestPath, { device: 'cpu' });
      try {
        const ids = stored.ids.slice(0, 6);
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
        assert.equal(k, 6);
      } finally {
        await merged.release();
      }
      // Training views were cached as float16 rows and are reused by the next round.
      const views = svc.db.prepare(`SELECT COUNT(*) AS n FROM embeddings WHERE model_key LIKE ?`).get(`${backbone.key}#view%`) as { n: number };
      assert.equal(views.n, 72 * 2);
    } finally {
      await svc.close();
    }
  },
);
