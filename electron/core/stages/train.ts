/**
 * Train stage: fine-tunes the encoder on this library's photos.
 *
 * 1. Views: besides each photo's clean backbone features, a few augmented views (random resized crop, flip, colour
 *    jitter, grayscale, blur; training/augment.ts) are passed once through the frozen backbone and cached as
 *    float16 rows in the embeddings table (model key `<backbone>#view<v>`, or `<backbone>#tf<v>` with view 0 = the
 *    clean photo when the manifest names `trainFeatures`: the pooled activations the adapter then reads instead of
 *    the embedding, training/train/features.ts), so epochs are cheap and a crash loses nothing. Each training round
 *    adds one fresh view, up to MAX_VIEWS.
 * 2. Labels: photos the person pinned into an album are positives of each other (and their album's prototype is
 *    fixed); nearest neighbours in frozen-feature space are extra positives.
 * 3. The trainer (training/train) runs ProPos / BYOL / MoCo train-step graphs on the chosen execution provider and
 *    checkpoints every epoch; an interrupted run resumes from its checkpoint.
 * 4. The result becomes a new encoder version: one merged ONNX model (backbone + adapter) with its manifest, plus the
 *    adapter alone for the stored features; it is activated, and older versions are kept.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { augmentView } from '../../../training/augment.js';
import type { EncoderManifest } from '../../../training/manifest.js';
import { decodeModel, encodeModel, type ModelIR } from '../../../training/onnx/proto.js';
import { exportAdapterModel, mergeEncoder } from '../../../training/train/export.js';
import { pruneModel } from '../../../training/onnx/prune.js';
import { TRAIN_FEATURES, trainFeaturesModel } from '../../../training/train/features.js';
import { Rng } from '../../../training/train/rng.js';
import { Trainer, type TrainResult } from '../../../training/train/trainer.js';
import { knnSelf } from '../cluster/knn.js';
import { gatherRows } from '../cluster/linalg.js';
import type { Db } from '../db/database.js';
import type { JobContext } from '../jobs.js';
import { thumbFile } from '../library/thumbs.js';
import { Embedder, loadModel, sha256Hex } from '../ml/embedder.js';
import { toFloat16 } from '../ml/float16.js';
import { createNormalizer, decodeRgb } from '../ml/preprocess.js';
import { detectEnvironment, planProviders } from '../ml/providers.js';
import { registerModel, setActiveModel, type ModelInfo } from '../models.js';
import type { OrganizeOptions } from '../pipeline.js';
import type { LibraryService } from '../service.js';
import { loadVectors, pending, trainFeaturesKey } from './embed.js';

/** Fewer photos than this: nothing worth learning, skip training. */
export const MIN_TRAIN_PHOTOS = 64;
/** Augmented views per photo, at most (the clean view comes on top). */
export const MAX_VIEWS = 4;
/** Neighbours per photo used as extra positives. */
const NEIGHBOURS = 5;
/**
 * Photos per train step. The trainer's default (256, as ProPos) gives a 2,000-photo library only 7 steps an epoch.
 * Offline study on the training features (3 training seeds): CIFAR-10 (2,000) 0.415 (256) -> 0.429 (128) -> 0.440
 * (64), intel-scenes 0.800 -> 0.796 -> 0.813; 160 epochs at 256 gave CIFAR-10 0.427, so it is the number of steps.
 * 32 came with the pseudo-label rule below (seventh session, full pipeline, 3 seeds, k-means over 20 draws): CIFAR-10
 * 0.407 at 64 -> 0.412 at 32 alone, 0.441 with both. docs/results.md, "Batch size" and "Pseudo-label clusters".
 */
const TRAIN_BATCH = 32;

/**
 * ProPos pseudo-label clusters K for a library of `photos`: round(sqrt(photos / 20)) in [2, 256] (10 for 2,000
 * photos, 39 for 30,000; the trainer raises it to the number of pinned albums). The trainer's generic default,
 * sqrt(photos / 2), over-clusters a photo library about threefold (32 for 2,000 photos): k-means then has to merge
 * the compact groups PSL scattered apart, and on CIFAR-10 its ACC moved by 6 to 7 points between k-means draws on
 * one embedding (about 2 with K = 10).
 * Measured in docs/results.md, "Pseudo-label clusters".
 */
export function pseudoLabelClusters(photos: number): number {
  return Math.min(256, Math.max(2, Math.round(Math.sqrt(photos / 20))));
}

/**
 * Key of training view `v` (0 = the clean photo, 1.. = augmented). An encoder whose manifest names `trainFeatures`
 * trains on those pooled activations (training/train/features.ts), cached for every view including the clean one;
 * other encoders train on their embeddings (view 0 = the embedding the embed stage stored).
 */
function viewKey(backbone: ModelInfo, v: number): string {
  if (backbone.manifest.trainFeatures) return trainFeaturesKey(backbone, v);
  return v === 0 ? backbone.key : `${backbone.key}#view${v}`;
}

/** An embedder producing what the adapter trains on: the train features when the manifest names them. */
async function openTrainEmbedder(backbone: ModelInfo, device: OrganizeOptions['device']): Promise<Embedder> {
  const tf = backbone.manifest.trainFeatures;
  if (!tf) return Embedder.open(backbone.manifestPath, { device });
  const { manifest, bytes } = await loadModel(backbone.manifestPath);
  const model = encodeModel(trainFeaturesModel(decodeModel(bytes), tf));
  return Embedder.fromModel({ ...manifest, sha256: sha256Hex(model), output: { name: TRAIN_FEATURES, dim: tf.dim } }, model, { device });
}

/**
 * Clean-view train features for photos lacking them (the adapter of a model trained on them needs them for every
 * photo, also those added after training). No-op for encoders without `trainFeatures`.
 */
export async function ensureTrainFeatures(svc: LibraryService, backbone: ModelInfo, device: OrganizeOptions['device'], ctx: JobContext): Promise<void> {
  if (!backbone.manifest.trainFeatures) return;
  dropEmbeddingViews(svc.db, backbone);
  const ids = pending(svc.db, trainFeaturesKey(backbone, 0)).map((p) => p.id);
  if (ids.length === 0) return;
  let embedder: Embedder | null = null;
  try {
    await ensureView(svc.db, svc.layout.cache, backbone, 0, ids, async () => (embedder ??= await openTrainEmbedder(backbone, device)), ctx);
  } finally {
    await (embedder as Embedder | null)?.release();
  }
}

/**
 * Delete the augmented views of the embedding (`<backbone>#view<v>`) that versions before training features cached
 * for an encoder that now names `trainFeatures`: nothing reads them any more (its views are `#tf<v>`). A key range,
 * so the model_key index answers it without scanning the table (it runs on every organize with a fine-tune active).
 */
function dropEmbeddingViews(db: Db, backbone: ModelInfo): void {
  const prefix = `${backbone.key}#view`;
  const end = `${backbone.key}#viex`; // the first key after every key that starts with the prefix
  db.prepare(`DELETE FROM embeddings WHERE model_key >= ? AND model_key < ?`).run(prefix, end);
}

/** Make and embed view `v` (0: the clean photo; else an augmented one) for photos lacking it. */
async function ensureView(
  db: Db,
  cacheDir: string,
  backbone: ModelInfo,
  v: number,
  ids: number[],
  openEmbedder: () => Promise<Embedder>,
  ctx: JobContext,
): Promise<void> {
  const key = viewKey(backbone, v);
  const have = new Set(
    (
      db
        .prepare(`SELECT e.photo_id FROM embeddings e JOIN photos p ON p.id = e.photo_id WHERE e.model_key = ? AND e.hash = p.hash`)
        .all(key) as { photo_id: number }[]
    ).map((r) => r.photo_id),
  );
  const todo = ids.filter((id) => !have.has(id));
  if (todo.length === 0) return;
  const embedder = await openEmbedder();
  ctx.stage('train', todo.length, v === 0 ? `Preparing training features of ${todo.length} photos` : `Preparing training view ${v} of ${todo.length} photos`);
  const m = backbone.manifest;
  const normalize = createNormalizer(m);
  const size = m.input.width * m.input.height * 3;
  const info = db.prepare(`SELECT p.hash, t.width, t.height FROM photos p JOIN thumbnails t ON t.photo_id = p.id AND t.kind = 'thumb' WHERE p.id = ?`);
  const put = db.prepare(
    `INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, device, created_at) VALUES (?, ?, ?, 'float16', ?, ?, ?, ?)
     ON CONFLICT(photo_id, model_key) DO UPDATE SET hash = excluded.hash, dim = excluded.dim, vector = excluded.vector, created_at = excluded.created_at`,
  );
  const batch = 32;
  const workers = Math.max(1, os.availableParallelism());
  for (let i = 0; i < todo.length; i += batch) {
    ctx.signal.throwIfAborted();
    const chunk = todo.slice(i, i + batch);
    const rows = chunk.map((id) => ({ id, ...(info.get(id) as { hash: string; width: number; height: number }) }));
    const input = new Float32Array(rows.length * size);
    const ok: boolean[] = new Array<boolean>(rows.length).fill(false);
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < rows.length) {
          const r = next++;
          const row = rows[r];
          // Deterministic per photo, view and content: the same view is rebuilt identically after a crash.
          const seed = createHash('sha256').update(`${row.hash}:${v}`).digest().readUInt32LE(0);
          const rng = new Rng(seed);
          try {
            const file = thumbFile(cacheDir, row.hash, 'thumb');
            const rgb =
              v === 0
                ? (await decodeRgb(file, m, { opaque: true })).data
                : await augmentView(file, row.width, row.height, { width: m.input.width, height: m.input.height }, () => rng.next());
            normalize(rgb, input, r * size);
            ok[r] = true;
          } catch {
            // unreadable thumbnail: this photo just lacks this view (training uses its other views)
          }
        }
      }),
    );
    const out = await embedder.embedTensors(input, batch);
    const dim = embedder.manifest.output.dim;
    const now = Date.now();
    db.transaction(() => {
      rows.forEach((row, r) => {
        if (!ok[r]) return;
        const h = toFloat16(out.subarray(r * dim, (r + 1) * dim));
        put.run(row.id, key, row.hash, dim, Buffer.from(h.buffer, h.byteOffset, h.byteLength), embedder.provider, now);
      });
    })();
    ctx.progress(Math.min(todo.length, i + batch));
  }
}

/** Rows of `key` for `ids` in that order; photos lacking the view get their clean features instead. */
function viewMatrix(db: Db, key: string, ids: number[], clean: Float32Array, dim: number): Float32Array {
  const out = clean.slice();
  const view = loadVectors(db, key, ids);
  const row = new Map(ids.map((id, i) => [id, i]));
  view.ids.forEach((id, k) => out.set(view.data.subarray(k * dim, (k + 1) * dim), row.get(id)! * dim));
  return out;
}

/** Rename a tensor throughout a model (so the merged model's output can take the backbone output's name). */
function renameTensor(m: ModelIR, from: string, to: string): string {
  const r = (x: string): string => (x === from ? to : x);
  for (const nd of m.graph.nodes) {
    nd.inputs = nd.inputs.map(r);
    nd.outputs = nd.outputs.map(r);
    if (nd.name === from) nd.name = to;
  }
  for (const v of [...m.graph.inputs, ...m.graph.outputs, ...(m.graph.valueInfo ?? [])]) v.name = r(v.name);
  return to;
}

function trainingProviders(device: OrganizeOptions['device']): string[] {
  const plan = planProviders(device, detectEnvironment());
  return plan.candidates.length ? plan.candidates : ['cpu'];
}

/** Run one training round; returns the new active model, or null when there is too little to train on. */
export async function trainStage(
  svc: LibraryService,
  backbone: ModelInfo,
  opts: OrganizeOptions,
  ctx: JobContext,
): Promise<{ model: ModelInfo; device: string } | null> {
  const db = svc.db;
  let feats = loadVectors(db, backbone.key);
  let n = feats.ids.length;
  if (n < MIN_TRAIN_PHOTOS) return null;
  const dim = feats.dim;

  // Views: one more each round, up to MAX_VIEWS.
  const rounds = (db.prepare(`SELECT COUNT(*) AS n FROM training_runs WHERE status = 'done' AND base_model = ?`).get(backbone.key) as { n: number }).n;
  const views = Math.min(MAX_VIEWS, 2 + rounds);
  // Opened only when a view is missing (later rounds mostly reuse cached views).
  let embedder: Embedder | null = null;
  const openEmbedder = async (): Promise<Embedder> => (embedder ??= await openTrainEmbedder(backbone, opts.device));
  const tf = backbone.manifest.trainFeatures;
  try {
    for (let v = tf ? 0 : 1; v <= views; v++) await ensureView(db, svc.layout.cache, backbone, v, feats.ids, openEmbedder, ctx);
  } finally {
    await (embedder as Embedder | null)?.release();
  }
  // Photos whose clean view could not be made (unreadable thumbnail) are left out of training.
  let clean = feats.data;
  if (tf) {
    const c = loadVectors(db, viewKey(backbone, 0), feats.ids);
    if (c.ids.length < feats.ids.length) {
      const have = new Set(c.ids);
      const rows = feats.ids.flatMap((id, i) => (have.has(id) ? [i] : []));
      feats = { ids: c.ids, dim, data: gatherRows(feats.data, dim, rows) };
    }
    clean = c.data;
    n = feats.ids.length;
    if (n < MIN_TRAIN_PHOTOS) return null;
  }
  const trainDim = tf ? tf.dim : dim;
  const viewData = [clean, ...Array.from({ length: views }, (_, k) => viewMatrix(db, viewKey(backbone, k + 1), feats.ids, clean, trainDim))];

  // Labels from the person's edits: pinned photos in real albums.
  const index = new Map(feats.ids.map((id, i) => [id, i]));
  const pinned = new Int32Array(n).fill(-1);
  const pinRows = db
    .prepare(
      `SELECT m.photo_id, m.album_id FROM album_members m JOIN albums a ON a.id = m.album_id
        WHERE m.pinned = 1 AND a.kind != 'unsorted' AND a.deleted_at IS NULL`,
    )
    .all() as { photo_id: number; album_id: number }[];
  for (const r of pinRows) {
    const i = index.get(r.photo_id);
    if (i !== undefined) pinned[i] = r.album_id;
  }
  ctx.stage('train', 0, 'Finding neighbours');
  // Neighbours in the space the adapter reads (the training features when the encoder names them).
  const knn = knnSelf(clean, n, trainDim, NEIGHBOURS);

  // Resume an interrupted run of the same configuration, else start a new one.
  fs.mkdirSync(svc.layout.training, { recursive: true });
  const seed = opts.seed;
  const running = db
    .prepare(`SELECT id FROM training_runs WHERE status = 'running' AND base_model = ? AND method = ? AND seed = ? ORDER BY id DESC LIMIT 1`)
    .get(backbone.key, opts.method, seed) as { id: number } | undefined;
  const runId =
    running?.id ??
    Number(
      db
        .prepare(`INSERT INTO training_runs(method, base_model, status, epochs, seed, params_json, started_at) VALUES (?, ?, 'running', ?, ?, ?, ?)`)
        .run(opts.method, backbone.key, opts.epochs, seed, JSON.stringify({ views, photos: n }), Date.now()).lastInsertRowid,
    );
  const ckpt = path.join(svc.layout.training, `run-${runId}.ckpt`);
  const providers = trainingProviders(opts.device);
  let result: TrainResult;
  const startRun = (resume: boolean): Promise<TrainResult> =>
    new Trainer(
      { views: viewData, dim: trainDim, neighbors: knn.indices, pinned },
      {
        method: opts.method,
        epochs: opts.epochs,
        // Tuned on intel-scenes features (bench:quality): lr 2 (the trainer's synthetic-data default) lowered
        // k-means ACC to 0.60 and kNN-20 to 0.68; 0.2 for 80 epochs raised ACC 0.62 -> 0.66 with kNN-20 kept at 0.75.
        lr: 0.2,
        batchSize: TRAIN_BATCH,
        clusters: pseudoLabelClusters(n),
        seed,
        executionProviders: providers,
        signal: ctx.signal,
        checkpoint: { path: ckpt, resume },
        onProgress: (p) => {
          if (p.step === 1) ctx.stage('train', p.steps, `Training the encoder on your photos (${opts.method})`);
          ctx.progress(p.step, p.steps, { message: `Epoch ${p.epoch + 1}/${p.epochs}`, losses: [p.losses.loss] });
        },
      },
    ).run();
  try {
    try {
      result = await startRun(true);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      // A checkpoint of different data (photos added since) cannot be resumed: start over.
      fs.rmSync(ckpt, { force: true });
      result = await startRun(false);
    }
  } catch (e) {
    db.prepare(`UPDATE training_runs SET status = ?, finished_at = ? WHERE id = ?`).run(ctx.signal.aborted ? 'running' : 'failed', Date.now(), runId);
    throw e;
  }

  // Export: merged encoder + adapter, as a new model version.
  const id = `${backbone.manifest.id}-ft${runId}`;
  const dir = path.join(svc.layout.models, id);
  fs.mkdirSync(dir, { recursive: true });
  const adapterBytes = encodeModel(exportAdapterModel(result.params, { metadata: { shoebox_run: String(runId) } }));
  fs.writeFileSync(path.join(dir, `${id}.adapter.onnx`), adapterBytes);
  const source = decodeModel(new Uint8Array(fs.readFileSync(path.join(path.dirname(backbone.manifestPath), backbone.manifest.file))));
  const backboneIr = tf ? trainFeaturesModel(source, tf) : source;
  const embedding = renameTensor(backboneIr, backbone.manifest.output.name, 'backbone_features');
  const merged = encodeModel(pruneModel(mergeEncoder(backboneIr, result.params, tf ? TRAIN_FEATURES : embedding, { outputName: 'embedding' })));
  fs.writeFileSync(path.join(dir, `${id}.onnx`), merged);
  const manifest: EncoderManifest = {
    ...backbone.manifest,
    id,
    version: '1',
    file: `${id}.onnx`,
    sha256: createHash('sha256').update(merged).digest('hex'),
    output: { name: 'embedding', dim: result.params.config.embedDim },
    source: {
      package: 'fine-tuned on this library',
      version: String(runId),
      license: backbone.manifest.source.license,
      weightsLicense: backbone.manifest.source.weightsLicense,
      parent: backbone.key,
    },
    notes: `${opts.method} for ${result.options.epochs} epochs on ${n} photos (${views} augmented views, ${pinRows.length} pinned${tf ? `, adapter on ${tf.dim} pooled backbone activations` : ''}), providers ${result.providers.join(',')}`,
  };
  // The fine-tuned model's input to its adapter is internal to it; nothing else trains on it.
  delete manifest.trainFeatures;
  fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(manifest, null, 2) + '\n');
  const model = registerModel(db, dir, id, backbone.key);
  setActiveModel(db, model.key);
  db.prepare(`UPDATE training_runs SET status = 'done', out_model = ?, device = ?, epoch = ?, metrics_json = ?, finished_at = ? WHERE id = ?`).run(
    model.key,
    result.providers.join(','),
    result.options.epochs,
    JSON.stringify({ history: result.history, fallback: result.fallback ?? null }),
    Date.now(),
    runId,
  );
  fs.rmSync(ckpt, { force: true });
  return { model, device: result.providers[0] ?? 'cpu' };
}
