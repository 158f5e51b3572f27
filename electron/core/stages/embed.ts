/**
 * Embed stage: the backbone's embedding of every photo that lacks one (from its thumbnail, which is already
 * EXIF-rotated and at least the encoder's input size), and in the same run its training features when the
 * manifest names them (what an adapter reads); then, when a fine-tuned encoder is active, that encoder's
 * embedding from those features. Only new or changed photos are processed.
 */
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../../../training/onnx/proto.js';
import { pruneModel } from '../../../training/onnx/prune.js';
import { storedFeatures, TRAIN_FEATURES, trainFeaturesModel } from '../../../training/train/features.js';
import * as embeddings from '../embeddings.js';
import type { JobContext } from '../jobs.js';
import type { Library } from '../library.js';
import { thumbFile } from '../library/thumbs.js';
import { defaultBatchSize, Embedder, loadModel, sha256Hex } from '../ml/embedder.js';
import { createSessionWithFallback, type Device } from '../ml/providers.js';
import type { Encoder } from '../encoders.js';

export interface EmbedStageResult {
  device: string | null;
  embedded: number;
  failed: number;
}

/** The vectors of a backbone the embed stage keeps for every photo: its embedding, and its clean training features. */
export function backboneKeys(backbone: Encoder): embeddings.VectorKey[] {
  const keys = [embeddings.embeddingKey(backbone.key)];
  if (backbone.manifest.trainFeatures) keys.push(embeddings.trainFeaturesKey(backbone.key, 0));
  return keys;
}

/**
 * The backbone, with its training features (manifest `trainFeatures`) added as an output: as an extra output beside
 * the embedding (`'extra'`), as the only output read (`'only'`, for training views), or not at all (`'none'`: the
 * embedding alone, the features' own branch pruned away when they are computed in a later pass).
 */
export async function openBackbone(
  backbone: Encoder,
  device: Device,
  trainFeatures: 'extra' | 'only' | 'none',
  opts: { opaque?: boolean } = {},
): Promise<Embedder> {
  const features = backbone.manifest.trainFeatures;
  const decode = { opaque: opts.opaque ?? true };
  if (!features || (trainFeatures === 'none' && !features.deferred)) return Embedder.open(backbone.manifestPath, { device, decode });
  const { manifest, bytes } = await loadModel(backbone.manifestPath);
  if (trainFeatures === 'none') {
    const model = encodeModel(pruneModel(decodeModel(bytes)));
    return Embedder.fromModel({ ...manifest, sha256: sha256Hex(model) }, model, { device, decode });
  }
  // The library stores the features plain; the adapter's readers scale them as the manifest says.
  const model = encodeModel(trainFeaturesModel(decodeModel(bytes), storedFeatures(features)));
  const m = { ...manifest, sha256: sha256Hex(model) };
  if (trainFeatures === 'only')
    return Embedder.fromModel({ ...m, output: { name: TRAIN_FEATURES, dim: features.dim } }, model, { device, decode });
  return Embedder.fromModel(m, model, { device, decode, extraOutputs: [{ name: TRAIN_FEATURES, dim: features.dim }] });
}

/**
 * Backbone embeddings and clean training features for photos that lack them. With `features: false` only the
 * embeddings, when the manifest marks the features `deferred` (a second backbone makes them: the first albums should
 * not wait for it); they are then made by a later call, before training needs them.
 */
export async function embedBackbone(
  lib: Library,
  backbone: Encoder,
  device: Device,
  ctx: JobContext,
  opts: { features?: boolean } = {},
): Promise<EmbedStageResult> {
  const [embKey, featKey] = backboneKeys(backbone);
  const withFeatures = featKey !== undefined && (opts.features !== false || !backbone.manifest.trainFeatures?.deferred);
  const needEmb = embeddings.pending(lib.db, embKey);
  const inFirst = new Set(needEmb.map((p) => p.id));
  const needFeat = withFeatures ? embeddings.pending(lib.db, featKey).filter((p) => !inFirst.has(p.id)) : [];
  const total = needEmb.length + needFeat.length;
  ctx.stage('embed', total, needEmb.length ? `Embedding ${total} photos` : `Preparing ${total} photos for training`);
  if (total === 0) return { device: null, embedded: 0, failed: 0 };
  const out: EmbedStageResult = { device: null, embedded: 0, failed: 0 };
  // The scan's JPEG thumbnails have no alpha channel.
  const passes: [typeof needEmb, 'extra' | 'only' | 'none', embeddings.VectorKey[]][] = [
    [needEmb, withFeatures ? 'extra' : 'none', withFeatures ? [embKey, featKey] : [embKey]],
    [needFeat, 'only', featKey ? [featKey] : []],
  ];
  let base = 0;
  for (const [todo, mode, keys] of passes) {
    if (todo.length === 0) continue;
    const r = await embedThumbnails(lib, await openBackbone(backbone, device, mode), keys, todo, ctx, base);
    out.device ??= r.device;
    out.embedded += r.embedded;
    out.failed += r.failed;
    base += todo.length;
  }
  return out;
}

/** Run `embedder` on the thumbnails of `todo`; its output (and extra output) stored under `keys`. */
async function embedThumbnails(
  lib: Library,
  embedder: Embedder,
  keys: embeddings.VectorKey[],
  todo: { id: number; hash: string }[],
  ctx: JobContext,
  progressBase = 0,
): Promise<EmbedStageResult> {
  const provider = embedder.provider;
  let embedded = 0;
  let failed = 0;
  try {
    const paths = todo.map((t) => thumbFile(lib.layout.cache, t.hash, 'thumb'));
    let batch: { id: number; hash: string; vector: Float32Array; extras?: Float32Array[] }[] = [];
    const flush = (): void => {
      lib.db.transaction(() => {
        embeddings.store(lib.db, keys[0], provider, batch);
        if (keys[1])
          embeddings.store(
            lib.db,
            keys[1],
            provider,
            batch.map((b) => ({ ...b, vector: b.extras![0] })),
          );
      })();
      batch = [];
    };
    const markFailed = lib.db.prepare(`UPDATE photos SET status = 'error', error_code = ?, error_message = ? WHERE id = ?`);
    for await (const r of embedder.embedFiles(paths, { signal: ctx.signal, batchSize: defaultBatchSize(provider) })) {
      if ('vector' in r) {
        batch.push({ ...todo[r.index], vector: r.vector, extras: r.extras });
        embedded++;
      } else {
        failed++;
        markFailed.run(r.error.code, `could not be embedded: ${r.error.message}`, todo[r.index].id);
      }
      if (batch.length >= 64) flush();
      ctx.progress(progressBase + embedded + failed);
    }
    flush();
  } finally {
    await embedder.release();
  }
  const fb = embedder.fallbacks.map((f) => `${f.provider} failed (${f.error})`).join('; ');
  return { device: fb ? `${provider} (${fb})` : provider, embedded, failed };
}

/**
 * Apply a fine-tuned model's adapter to the stored backbone features of photos that lack its embedding: the clean
 * training features when the adapter reads those, else the backbone's embeddings. Runs in chunks, so memory stays
 * bounded whatever the library's size.
 */
export async function embedWithAdapter(lib: Library, model: Encoder, backbone: Encoder, device: Device, ctx: JobContext): Promise<number> {
  const target = embeddings.embeddingKey(model.key);
  const todo = embeddings.pending(lib.db, target);
  if (todo.length === 0 || model.key === backbone.key) return 0;
  if (!model.adapterPath) {
    // A version whose backbone changed too (a fine-tuned block) has no adapter to apply: the photos go through it.
    ctx.stage('embed', todo.length, `Applying the refined encoder to ${todo.length} photos`);
    const embedder = await Embedder.open(model.manifestPath, { device, decode: { opaque: true } });
    return (await embedThumbnails(lib, embedder, [target], todo, ctx)).embedded;
  }
  ctx.stage('embed', todo.length, `Applying the refined encoder to ${todo.length} photos`);
  const { session, provider, release } = await createSessionWithFallback(path.resolve(model.adapterPath), device);
  const meta = session.inputMetadata[0];
  const inputDim = meta?.isTensor ? meta.shape[1] : undefined;
  const features = backbone.manifest.trainFeatures;
  const featureKey =
    features && inputDim === features.dim ? embeddings.trainFeaturesKey(backbone.key, 0) : embeddings.embeddingKey(backbone.key);
  try {
    const step = 1024;
    for (let i = 0; i < todo.length; i += step) {
      ctx.signal.throwIfAborted();
      const chunk = todo.slice(i, i + step);
      const feats = embeddings.load(
        lib.db,
        featureKey,
        chunk.map((c) => c.id),
      );
      if (feats.ids.length === 0) continue;
      const input = new Tensor('float32', feats.data, [feats.ids.length, feats.dim]);
      const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
      const dim = out.dims[1];
      const data = out.data as Float32Array;
      const hashOf = new Map(chunk.map((c) => [c.id, c.hash]));
      embeddings.store(
        lib.db,
        target,
        provider,
        feats.ids.map((id, k) => ({ id, hash: hashOf.get(id)!, vector: data.slice(k * dim, (k + 1) * dim) })),
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
