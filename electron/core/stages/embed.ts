/**
 * Embed stage: backbone features for every photo that lacks them (from its thumbnail, which is already
 * EXIF-rotated and at least the encoder's input size), then, when a fine-tuned encoder is active, its embeddings
 * from those features. Only new or changed photos are processed.
 */
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import type { Db } from '../db/database.js';
import type { JobContext } from '../jobs.js';
import { thumbFile } from '../library/thumbs.js';
import { defaultBatchSize, Embedder } from '../ml/embedder.js';
import { fromFloat16, toFloat16 } from '../ml/float16.js';
import { createSessionWithFallback, type Device } from '../ml/providers.js';
import type { ModelInfo } from '../models.js';

export interface EmbedStageResult {
  device: string | null;
  embedded: number;
  failed: number;
}

/** Ok photos with no stored vector for `modelKey` computed from their current content. */
/** Photos (ok, hashed) that lack a current row of `modelKey`. */
export function pending(db: Db, modelKey: string): { id: number; hash: string }[] {
  return db
    .prepare(
      `SELECT p.id, p.hash FROM photos p
         LEFT JOIN embeddings e ON e.photo_id = p.id AND e.model_key = ? AND e.hash = p.hash
        WHERE p.status = 'ok' AND p.hash IS NOT NULL AND e.photo_id IS NULL ORDER BY p.id`,
    )
    .all(modelKey) as { id: number; hash: string }[];
}

function storeVectors(db: Db, modelKey: string, device: string, rows: { id: number; hash: string; vector: Float32Array }[]): void {
  const put = db.prepare(
    `INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, device, created_at) VALUES (?, ?, ?, 'float16', ?, ?, ?, ?)
     ON CONFLICT(photo_id, model_key) DO UPDATE SET hash = excluded.hash, dtype = excluded.dtype, dim = excluded.dim,
       vector = excluded.vector, device = excluded.device, created_at = excluded.created_at`,
  );
  const now = Date.now();
  db.transaction(() => {
    for (const r of rows) {
      const h = toFloat16(r.vector);
      put.run(r.id, modelKey, r.hash, r.vector.length, Buffer.from(h.buffer, h.byteOffset, h.byteLength), device, now);
    }
  })();
}

/** Load stored vectors for `modelKey` of the given photos (rows in the same order; missing ones are skipped). */
export function loadVectors(db: Db, modelKey: string, photoIds?: number[]): { ids: number[]; dim: number; data: Float32Array } {
  const rows = (
    photoIds
      ? photoIds.map((id) => db.prepare('SELECT photo_id, dim, dtype, vector FROM embeddings WHERE photo_id = ? AND model_key = ?').get(id, modelKey))
      : db
          .prepare(
            `SELECT e.photo_id, e.dim, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
              WHERE e.model_key = ? AND p.status = 'ok' AND e.hash = p.hash ORDER BY e.photo_id`,
          )
          .all(modelKey)
  ).filter(Boolean) as { photo_id: number; dim: number; dtype: string; vector: Buffer }[];
  const dim = rows[0]?.dim ?? 0;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    const v =
      r.dtype === 'float16'
        ? fromFloat16(new Uint16Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)))
        : new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength));
    data.set(v, i * dim);
  });
  return { ids: rows.map((r) => r.photo_id), dim, data };
}

/** Backbone features for photos that lack them. */
export async function embedBackbone(db: Db, cacheDir: string, backbone: ModelInfo, device: Device, ctx: JobContext): Promise<EmbedStageResult> {
  const todo = pending(db, backbone.key);
  ctx.stage('embed', todo.length, `Embedding ${todo.length} photos`);
  if (todo.length === 0) return { device: null, embedded: 0, failed: 0 };
  // The embed stage reads the scan's JPEG thumbnails, which have no alpha channel.
  const embedder = await Embedder.open(backbone.manifestPath, { device, decode: { opaque: true } });
  const provider = embedder.provider;
  let embedded = 0;
  let failed = 0;
  try {
    const paths = todo.map((t) => thumbFile(cacheDir, t.hash, 'thumb'));
    let batch: { id: number; hash: string; vector: Float32Array }[] = [];
    const markFailed = db.prepare(`UPDATE photos SET status = 'error', error_code = ?, error_message = ? WHERE id = ?`);
    for await (const r of embedder.embedFiles(paths, { signal: ctx.signal, batchSize: defaultBatchSize(provider) })) {
      if ('vector' in r) {
        batch.push({ ...todo[r.index], vector: r.vector });
        embedded++;
      } else {
        failed++;
        markFailed.run(r.error.code, `could not be embedded: ${r.error.message}`, todo[r.index].id);
      }
      if (batch.length >= 64) {
        storeVectors(db, backbone.key, provider, batch);
        batch = [];
      }
      ctx.progress(embedded + failed);
    }
    storeVectors(db, backbone.key, provider, batch);
  } finally {
    await embedder.release();
  }
  const fb = embedder.fallbacks.map((f) => `${f.provider} failed (${f.error})`).join('; ');
  return { device: fb ? `${provider} (${fb})` : provider, embedded, failed };
}

/** Key of a backbone's cached train features (manifest `trainFeatures`) of training view `v` (0 = the clean photo). */
export function trainFeaturesKey(backbone: ModelInfo, v: number): string {
  return `${backbone.key}#tf${v}`;
}

/**
 * Apply a fine-tuned model's adapter to the stored backbone features of photos that lack its embedding: the train
 * features of the clean view when the adapter reads those (see `ensureTrainFeatures`), else the embeddings.
 */
export async function embedWithAdapter(db: Db, model: ModelInfo, backbone: ModelInfo, device: Device, ctx: JobContext): Promise<number> {
  if (!model.adapterPath) return 0;
  const todo = pending(db, model.key);
  if (todo.length === 0) return 0;
  ctx.stage('embed', todo.length, `Applying the fine-tuned encoder to ${todo.length} photos`);
  const { session, provider, release } = await createSessionWithFallback(path.resolve(model.adapterPath), device);
  const meta = session.inputMetadata[0];
  const inputDim = meta?.isTensor ? meta.shape[1] : undefined;
  const tf = backbone.manifest.trainFeatures;
  const featureKey = tf && inputDim === tf.dim ? trainFeaturesKey(backbone, 0) : backbone.key;
  try {
    const step = 1024;
    for (let i = 0; i < todo.length; i += step) {
      ctx.signal.throwIfAborted();
      const chunk = todo.slice(i, i + step);
      const feats = loadVectors(db, featureKey, chunk.map((c) => c.id));
      if (feats.ids.length === 0) continue;
      const input = new Tensor('float32', feats.data, [feats.ids.length, feats.dim]);
      const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
      const dim = out.dims[1];
      const data = out.data as Float32Array;
      const byId = new Map(chunk.map((c) => [c.id, c.hash]));
      storeVectors(
        db,
        model.key,
        provider,
        feats.ids.map((id, k) => ({ id, hash: byId.get(id)!, vector: data.slice(k * dim, (k + 1) * dim) })),
      );
      input.dispose();
      out.dispose();
      ctx.progress(Math.min(todo.length, i + step));
    }
  } finally {
    await release();
  }
  return todo.length;
}
