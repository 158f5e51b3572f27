/**
 * Train stage: refines the encoder on this library's photos, within a step budget and a time limit, whatever the
 * library's size.
 *
 * 1. Sample: at most {@link TRAIN_SAMPLE_MAX} photos (every pinned one, the rest a uniform sample by content hash,
 *    which stays the same as the library grows, so cached views are reused).
 * 2. Views: {@link VIEWS} augmented views of each sampled photo (random resized crop, flip, colour jitter,
 *    grayscale, blur; training/augment.ts) pass once through the frozen backbone and are cached as float16 rows, so
 *    steps are cheap and a crash loses nothing. View 0 is the clean photo's features, stored by the embed stage.
 *    Views may take {@link VIEW_TIME_SHARE} of the time limit: a round trains on the sampled photos whose views are
 *    done, and the next round adds views for more of the sample.
 * 3. Labels: photos the person pinned into an album are positives of each other (and their album's prototype is
 *    fixed); approximate nearest neighbours in the features the adapter reads are extra positives.
 * 4. The trainer (training/train) runs the method's train-step graph for the step budget, shortened if the time
 *    limit would be passed, checkpointing each cycle (an interrupted run resumes). A later round warm-starts from
 *    the last round's final state instead of from scratch.
 * 5. The result becomes a new encoder version (merged ONNX model + adapter + manifest) and is activated; versions
 *    before the previous one are deleted.
 * With `finetuneBlock` the backbone's last block trains too: the views are then the activations entering it, and
 * the version has no adapter file (the stored features no longer hold), so photos go through its merged model.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { augmentView } from '../../../training/augment.js';
import { encoderVersion } from '../../../training/train/export.js';
import { adapterInput } from '../../../training/train/features.js';
import { BLOCK_INPUT, blockInputModel, readInvertedResidual } from '../../../training/train/backbone.js';
import { decodeModel, encodeModel, type ModelIR } from '../../../training/onnx/proto.js';
import { Rng } from '../../../training/numeric/rng.js';
import { loadTrainState, saveTrainState, type StateKind } from '../../../training/train/state.js';
import { Trainer, type TrainerOptions, type TrainResult, type TrainState } from '../../../training/train/trainer.js';
import { compute } from '../compute/client.js';
import type { Db } from '../db/database.js';
import * as embeddings from '../embeddings.js';
import type { JobContext } from '../jobs.js';
import type { Library } from '../library.js';
import { thumbFile } from '../library/thumbs.js';
import { Embedder, loadModel, sha256Hex } from '../ml/embedder.js';
import { fromFloat16, toFloat16 } from '../ml/float16.js';
import { createNormalizer } from '../ml/preprocess.js';
import { detectEnvironment, planProviders, type Device } from '../ml/providers.js';
import { registerEncoder, setActiveEncoder, type Encoder } from '../encoders.js';
import { pruneVersions } from '../versions.js';
import { openBackbone } from './embed.js';
import { MIN_TRAIN_PHOTOS } from './train-policy.js';

/**
 * The app's training configuration, in one place (the trainer's own defaults are generic ones for any data).
 * Evidence for each value: docs/results.md.
 */
export const TRAINING = {
  /** Steps of a round from scratch: the step budget ("Quality against budget"). */
  steps: 7500,
  /** A small library takes at most this many passes over its photos instead (240 photos: 840 steps). */
  maxPasses: 120,
  /** Steps of a round that continues the last one (warm start), as a share of `steps`. */
  warmShare: 0.25,
  /** Wall-clock limit of a round, views included: about 10 minutes on a 2-core CPU whatever the library's size. */
  timeLimitSec: 600,
} as const;

/** Augmented views per photo (the clean one comes on top). */
export const VIEWS = 2;
/** Photos trained on at most: the sample's views cost one backbone pass each, the rest of the library none. */
export const TRAIN_SAMPLE_MAX = 8000;
/** Share of the time limit that making views may take; the rest is for the train steps. */
export const VIEW_TIME_SHARE = 0.4;
/** Neighbours per photo used as extra positives. */
const NEIGHBOURS = 5;
/** Photos per train step; docs/results.md, "Batch size". */
export const TRAIN_BATCH = 32;
/** Base learning rate (SGD, cosine to 0); tuned on intel-scenes features, docs/results.md. */
const LR = 0.2;

/**
 * ProPos pseudo-label clusters K for `photos` trained on: round(sqrt(photos / 20)) in [2, 256]; the trainer raises
 * it to the number of pinned albums. docs/results.md, "Pseudo-label clusters".
 */
export function pseudoLabelClusters(photos: number): number {
  return Math.min(256, Math.max(2, Math.round(Math.sqrt(photos / 20))));
}

export interface TrainStageOptions {
  method: 'propos' | 'byol' | 'moco';
  /** Step budget of a round from scratch. */
  steps: number;
  /** Step budget of a warm-started round. */
  warmSteps: number;
  /** Start from the last round's state when there is one of the same method and backbone. */
  warmStart: boolean;
  /** Wall-clock limit of the whole stage (views included), seconds; Infinity for none. */
  timeLimitSec: number;
  /** Most passes over the photos of a round (default {@link TRAINING.maxPasses}; Infinity: the budget alone). */
  maxPasses?: number;
  device: Device;
  seed: number;
  /**
   * Also fine-tune the backbone's last block (training/train/backbone.ts), where the backbone has one: views are the
   * activations entering it, the round trains on at most {@link BLOCK.sampleMax} photos, and the new version embeds
   * photos through its own merged model. Off unless asked for (issue #19: not measured yet).
   */
  finetuneBlock?: boolean;
}

/** Fine-tuning the backbone's last block: which block, photos at most (3 views of 12,000 values each), its lr scale. */
export const BLOCK = { prefix: 'MobilenetV3/expanded_conv_14', sampleMax: 2000, lrScale: 0.1 } as const;

export interface TrainStageResult {
  model: Encoder;
  device: string;
  runId: number;
  steps: number;
  warm: boolean;
  limitedBy: 'deadline' | null;
  photos: number;
  /** With a fine-tuned block: photos whose block views came from the disk cache. */
  blockViewsCached?: number;
}

/** The steps of a round on `photos`: the budget, or {@link TRAINING.maxPasses} passes when that is fewer. */
export function roundSteps(budget: number, photos: number, maxPasses: number = TRAINING.maxPasses): number {
  return Math.max(1, Math.min(budget, maxPasses * Math.floor(photos / TRAIN_BATCH)));
}

/** Key of training view `v` of a backbone (0 = the clean photo: its training features, or its embedding). */
function viewKey(backbone: Encoder, v: number): embeddings.VectorKey {
  if (v === 0 && !backbone.manifest.trainFeatures) return embeddings.embeddingKey(backbone.key);
  return embeddings.trainFeaturesKey(backbone.key, v);
}

/** The photos a round trains on: every pinned one, then a stable uniform sample (lowest content hashes). */
export function trainingSample(db: Db, backbone: Encoder, max: number): number[] {
  const clean = embeddings.keyString(viewKey(backbone, 0));
  const rows = db
    .prepare(
      `SELECT p.id, (m.pinned = 1 AND a.kind != 'unsorted' AND a.deleted_at IS NULL) AS labelled FROM photos p
         JOIN embeddings e ON e.photo_id = p.id AND e.model_key = ? AND e.hash = p.hash
         LEFT JOIN album_members m ON m.photo_id = p.id LEFT JOIN albums a ON a.id = m.album_id
        WHERE p.status = 'ok' ORDER BY labelled DESC, p.hash LIMIT ?`,
    )
    .all(clean, max) as { id: number }[];
  return rows.map((r) => r.id);
}

/**
 * Make and store the augmented views (1..VIEWS) that the photos of `ids` lack, in the order given, until
 * `deadline`; returns the photos of `ids` that then have every view (the next round makes the rest).
 */
/** Thumbnail facts a view is made from. */
function thumbInfo(db: Db): { get(id: number): unknown } {
  return db.prepare(
    `SELECT p.hash, t.width, t.height FROM photos p JOIN thumbnails t ON t.photo_id = p.id AND t.kind = 'thumb' WHERE p.id = ?`,
  );
}

/**
 * Augmented view `view` of a photo, normalized into `out` at `offset`; false when its thumbnail cannot be read.
 * Deterministic per photo, view and content: the same view is rebuilt identically after a crash, or by another round.
 */
async function augmentInto(
  lib: Library,
  m: Encoder['manifest'],
  normalize: ReturnType<typeof createNormalizer>,
  row: { hash: string; width: number; height: number },
  view: number,
  out: Float32Array,
  offset: number,
): Promise<boolean> {
  const rng = new Rng(createHash('sha256').update(`${row.hash}:${view}`).digest().readUInt32LE(0));
  try {
    const file = thumbFile(lib.layout.cache, row.hash, 'thumb');
    normalize(
      await augmentView(file, row.width, row.height, { width: m.input.width, height: m.input.height }, () => rng.next()),
      out,
      offset,
    );
    return true;
  } catch {
    return false;
  }
}

export async function ensureViews(
  lib: Library,
  backbone: Encoder,
  ids: number[],
  openEmbedder: () => Promise<Embedder>,
  ctx: JobContext,
  deadline?: number,
): Promise<number[]> {
  const db = lib.db;
  const keys = Array.from({ length: VIEWS }, (_, k) => viewKey(backbone, k + 1));
  const missing = keys.map((key) => new Set(embeddings.pending(db, key).map((p) => p.id)));
  const todo = ids.flatMap((id) => keys.flatMap((_, k) => (missing[k].has(id) ? [{ id, k }] : [])));
  if (todo.length === 0) return ids;
  const embedder = await openEmbedder();
  const photos = new Set(todo.map((t) => t.id)).size;
  ctx.stage('train', todo.length, `Preparing ${todo.length} training views of ${photos} photos`, 'views');
  const m = backbone.manifest;
  const normalize = createNormalizer(m);
  const size = m.input.width * m.input.height * 3;
  const dim = embedder.manifest.output.dim;
  const info = thumbInfo(db);
  const batch = 32;
  const workers = Math.max(1, os.availableParallelism());
  for (let i = 0; i < todo.length; i += batch) {
    ctx.signal.throwIfAborted();
    if (deadline !== undefined && Date.now() > deadline) break;
    const chunk = todo.slice(i, i + batch);
    const rows = chunk.map((t) => ({ ...t, ...(info.get(t.id) as { hash: string; width: number; height: number }) }));
    const input = new Float32Array(rows.length * size);
    const ok: boolean[] = new Array<boolean>(rows.length).fill(false);
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < rows.length) {
          const r = next++;
          // An unreadable thumbnail: this photo just lacks this view (training uses its clean one instead).
          ok[r] = await augmentInto(lib, m, normalize, rows[r], rows[r].k + 1, input, r * size);
        }
      }),
    );
    const out = await embedder.embedTensors(input, batch);
    keys.forEach((key, k) =>
      embeddings.store(
        db,
        key,
        embedder.provider,
        rows.flatMap((row, r) =>
          ok[r] && row.k === k ? [{ id: row.id, hash: row.hash, vector: out.subarray(r * dim, (r + 1) * dim) }] : [],
        ),
      ),
    );
    for (const row of rows) missing[row.k].delete(row.id); // tried: a failed view is not retried this round
    ctx.progress(Math.min(todo.length, i + batch));
  }
  return ids.filter((id) => missing.every((set) => !set.has(id)));
}

/** Rows of view `key` for `ids` in that order; photos lacking the view get their clean features instead. */
function viewMatrix(db: Db, key: embeddings.VectorKey, ids: number[], clean: Float32Array, dim: number): Float32Array {
  const out = clean.slice();
  const view = embeddings.load(db, key, ids);
  const row = new Map(ids.map((id, i) => [id, i]));
  view.ids.forEach((id, k) => out.set(view.data.subarray(k * dim, (k + 1) * dim), row.get(id)! * dim));
  return out;
}

/** Train steps per run on a GPU provider: a run's fixed cost there is many steps' arithmetic (bench:train --unroll). */
export const GPU_STEPS_PER_RUN = 32;

function trainingProviders(device: Device): string[] {
  const plan = planProviders(device, detectEnvironment());
  return plan.candidates.length ? plan.candidates : ['cpu'];
}

/** What a round trains on: the sample's clean features and views, labels from the person's edits, neighbours. */
interface RoundData {
  ids: number[];
  dim: number;
  views: Float32Array[];
  pinned: Int32Array;
  labelled: number;
  neighbors: Int32Array;
}

/** Phase 1: the sample, its views (made once, cached), its labels and its approximate nearest neighbours. */
async function prepareData(
  lib: Library,
  backbone: Encoder,
  opts: TrainStageOptions,
  ctx: JobContext,
  started: number,
  sampleMax = TRAIN_SAMPLE_MAX,
): Promise<RoundData | null> {
  const db = lib.db;
  const viewDeadline = Number.isFinite(opts.timeLimitSec) ? started + 1000 * VIEW_TIME_SHARE * opts.timeLimitSec : undefined;
  let sample = trainingSample(db, backbone, sampleMax);
  if (sample.length < MIN_TRAIN_PHOTOS) return null;
  // The backbone opens only when a view is missing (later rounds mostly reuse cached views). Views get a share of
  // the time limit; a large library trains on the photos whose views are done, and the next round makes more.
  let embedder: Embedder | null = null;
  const openEmbedder = async (): Promise<Embedder> => (embedder ??= await openBackbone(backbone, opts.device, 'only'));
  try {
    sample = await ensureViews(lib, backbone, sample, openEmbedder, ctx, viewDeadline);
  } finally {
    await (embedder as Embedder | null)?.release();
  }
  sample.sort((a, b) => a - b);
  const cleanView = embeddings.load(db, viewKey(backbone, 0), sample);
  const ids = cleanView.ids;
  const n = ids.length;
  if (n < MIN_TRAIN_PHOTOS) return null;
  const dim = cleanView.dim;
  // Stored features are plain; the adapter reads them as the manifest says (its parts scaled, features.ts).
  const plain = [cleanView.data, ...Array.from({ length: VIEWS }, (_, k) => viewMatrix(db, viewKey(backbone, k + 1), ids, cleanView.data, dim))];
  const views = plain.map((v) => adapterInput(backbone.manifest.trainFeatures, v));
  const clean = views[0]!;
  // Labels from the person's edits: pinned photos in real albums.
  const index = new Map(ids.map((id, i) => [id, i]));
  const pinned = new Int32Array(n).fill(-1);
  const pinRows = db
    .prepare(
      `SELECT m.photo_id, m.album_id FROM album_members m JOIN albums a ON a.id = m.album_id
        WHERE m.pinned = 1 AND a.kind != 'unsorted' AND a.deleted_at IS NULL`,
    )
    .all() as { photo_id: number; album_id: number }[];
  let labelled = 0;
  for (const r of pinRows) {
    const i = index.get(r.photo_id);
    if (i !== undefined) {
      pinned[i] = r.album_id;
      labelled++;
    }
  }
  ctx.stage('train', 0, 'Finding similar photos');
  // Neighbours in the space the adapter reads; approximate above a few thousand photos (never quadratic).
  const knn = await compute('knnApprox', [clean, n, dim, NEIGHBOURS, { seed: opts.seed }], ctx.signal);
  return { ids, dim, views, pinned, labelled, neighbors: knn.indices };
}

/** Phase 2: the run's row, resumed when an interrupted run of the same configuration exists. */
function runRow(
  db: Db,
  backbone: Encoder,
  opts: TrainStageOptions,
  steps: number,
  params: Record<string, unknown>,
  started: number,
): number {
  const running = db
    .prepare(
      `SELECT id FROM training_runs WHERE status IN ('running', 'cancelled') AND base_model = ? AND method = ? AND seed = ? ORDER BY id DESC LIMIT 1`,
    )
    .get(backbone.key, opts.method, opts.seed) as { id: number } | undefined;
  if (running) {
    db.prepare(`UPDATE training_runs SET status = 'running', params_json = ?, epochs = ? WHERE id = ?`).run(
      JSON.stringify(params),
      steps,
      running.id,
    );
    return running.id;
  }
  return Number(
    db
      .prepare(
        `INSERT INTO training_runs(method, base_model, status, epochs, seed, params_json, started_at) VALUES (?, ?, 'running', ?, ?, ?, ?)`,
      )
      .run(opts.method, backbone.key, steps, opts.seed, JSON.stringify(params), started).lastInsertRowid,
  );
}

/** Phase 4: the result as a new encoder version (merged model, adapter, manifest), activated; old versions pruned. */
async function publishVersion(
  lib: Library,
  backbone: Encoder,
  result: TrainResult,
  round: { runId: number; kind: StateKind; notes: string; started: number },
): Promise<Encoder> {
  const db = lib.db;
  const id = `${backbone.manifest.id}-ft${round.runId}`;
  const dir = path.join(lib.layout.models, id);
  const files = encoderVersion(
    {
      manifest: backbone.manifest,
      model: new Uint8Array(fs.readFileSync(path.join(path.dirname(backbone.manifestPath), backbone.manifest.file))),
    },
    result.params,
    {
      id,
      parentKey: backbone.key,
      runId: round.runId,
      notes: round.notes,
      ...(result.block ? { block: { prefix: BLOCK.prefix, trained: result.block } } : {}),
    },
  );
  fs.mkdirSync(dir, { recursive: true });
  // With a fine-tuned block the stored features no longer hold: no adapter file, photos go through the merged model.
  if (!result.block) fs.writeFileSync(path.join(dir, `${id}.adapter.onnx`), files.adapter);
  fs.writeFileSync(path.join(dir, `${id}.onnx`), files.merged);
  fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(files.manifest, null, 2) + '\n');
  await saveTrainState(lib.layout.trainState, round.kind, result.state);
  const model = registerEncoder(db, dir, id, backbone.key);
  setActiveEncoder(db, model.key);
  db.prepare(
    `UPDATE training_runs SET status = 'done', out_model = ?, device = ?, epoch = ?, metrics_json = ?, finished_at = ? WHERE id = ?`,
  ).run(
    model.key,
    result.providers.join(','),
    result.steps,
    JSON.stringify({
      history: result.history,
      fallback: result.fallback ?? null,
      limitedBy: result.limitedBy ?? null,
      seconds: (Date.now() - round.started) / 1000,
    }),
    Date.now(),
    round.runId,
  );
  fs.rmSync(path.join(lib.layout.training, `run-${round.runId}.ckpt`), { force: true });
  pruneVersions(lib);
  return model;
}

/** Run one training round; returns the new active encoder, or null when there is too little to train on. */
export async function trainStage(
  lib: Library,
  backbone: Encoder,
  opts: TrainStageOptions,
  ctx: JobContext,
): Promise<TrainStageResult | null> {
  const db = lib.db;
  const started = Date.now();
  const deadline = Number.isFinite(opts.timeLimitSec) ? started + 1000 * opts.timeLimitSec : undefined;
  const libraryPhotos = embeddings.count(db, embeddings.embeddingKey(backbone.key));
  const read = opts.finetuneBlock ? await readBlock(backbone) : null;
  const block = read?.block ?? null;
  const data = await prepareData(lib, backbone, opts, ctx, started, block ? BLOCK.sampleMax : TRAIN_SAMPLE_MAX);
  if (!data) return null;
  const n = data.ids.length;
  let blockViewsCached: number | undefined;
  // Block views are kept only while rounds fine-tune the block.
  if (!block) fs.rmSync(path.join(lib.layout.cache, 'block-views'), { recursive: true, force: true });
  // With a block, every view is the activations entering it (the clean view too); neighbours and labels as above.
  if (block) {
    const made = await blockViews(lib, backbone, read!.model, block, data.ids, opts.device, ctx);
    data.views = made.views;
    blockViewsCached = made.cached;
    data.dim = block.input.reduce((a, b) => a * b, 1);
  }

  // Warm start from the last round's state (same method and features), else from scratch.
  // The features' scaling is part of what the state was trained on: a change of it starts from scratch.
  const kind: StateKind = { method: opts.method, inputDim: data.dim, source: `${backbone.key}${backbone.manifest.trainFeatures?.unitParts ? '+unitParts' : ''}` };
  let warm: TrainState | undefined;
  if (opts.warmStart) {
    try {
      warm = await loadTrainState(lib.layout.trainState, kind);
    } catch {
      warm = undefined; // a damaged state file: train from scratch (it is replaced at the end)
    }
  }
  let steps = roundSteps(warm ? opts.warmSteps : opts.steps, n, opts.maxPasses);
  fs.mkdirSync(lib.layout.training, { recursive: true });
  const runId = runRow(
    db,
    backbone,
    opts,
    steps,
    { photos: n, libraryPhotos, views: VIEWS, steps, warm: warm !== undefined, labelled: data.labelled },
    started,
  );

  // Phase 3: train (resuming the run's checkpoint when it has one).
  const ckpt = path.join(lib.layout.training, `run-${runId}.ckpt`);
  const providers = trainingProviders(opts.device);
  let staged = false;
  const startRun = (resume: boolean): Promise<TrainResult> =>
    new Trainer(
      { views: data.views, dim: data.dim, neighbors: data.neighbors, pinned: data.pinned },
      {
        method: opts.method,
        steps,
        lr: LR,
        batchSize: TRAIN_BATCH,
        clusters: pseudoLabelClusters(n),
        seed: opts.seed,
        executionProviders: providers,
        stepsPerRun: providers[0] === 'cpu' ? 1 : GPU_STEPS_PER_RUN,
        ...(block ? { block } : {}),
        signal: ctx.signal,
        deadline,
        ...(warm ? { warmStart: warm } : {}),
        checkpoint: { path: ckpt, resume },
        onProgress: (p) => {
          if (!staged)
            ctx.stage(
              'train',
              p.steps,
              `Refining albums: training the encoder on your photos (${opts.method}${warm ? ', continuing the last round' : ''})`,
              'steps',
            );
          staged = true;
          ctx.progress(p.step, p.steps, { losses: [p.losses.loss] });
        },
      },
    ).run();
  let result: TrainResult;
  try {
    try {
      result = await startRun(true);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      // A checkpoint of different data (photos added since) cannot be resumed, and a saved state that does not fit
      // (another adapter size) cannot be continued: start over, from scratch in the second case.
      fs.rmSync(ckpt, { force: true });
      if (warm && /warm start/.test(String(e))) {
        warm = undefined;
        steps = roundSteps(opts.steps, n, opts.maxPasses);
      }
      result = await startRun(false);
    }
  } catch (e) {
    // Cancelled: its checkpoint stays, and the next round of the same configuration resumes it; anything else failed.
    db.prepare(`UPDATE training_runs SET status = ?, finished_at = ? WHERE id = ?`).run(
      ctx.signal.aborted ? 'cancelled' : 'failed',
      Date.now(),
      runId,
    );
    throw e;
  }
  const notes = `${opts.method} for ${result.steps} steps${warm ? ' (continuing the last round)' : ''} on ${n} of ${libraryPhotos} photos (${VIEWS} augmented views, ${data.labelled} pinned${backbone.manifest.trainFeatures ? `, adapter on ${data.dim} pooled backbone activations` : ''}), providers ${result.providers.join(',')}`;
  const model = await publishVersion(lib, backbone, result, {
    runId,
    kind,
    notes: block ? `${notes}, with its last block fine-tuned` : notes,
    started,
  });
  return {
    model,
    device: result.providers[0] ?? 'cpu',
    runId,
    steps: result.steps,
    warm: warm !== undefined,
    limitedBy: result.limitedBy ?? null,
    photos: n,
    ...(blockViewsCached !== undefined ? { blockViewsCached } : {}),
  };
}

/** The backbone's last block, when it has the one {@link BLOCK} names (else null: the round trains the adapter only). */
async function readBlock(backbone: Encoder): Promise<{ block: NonNullable<TrainerOptions['block']>; model: ModelIR } | null> {
  try {
    const model = decodeModel((await loadModel(backbone.manifestPath)).bytes);
    const weights = readInvertedResidual(model, BLOCK.prefix);
    // The block sits after the backbone's fifth halving: its maps are the input's size / 32.
    const { width, height } = backbone.manifest.input;
    return {
      block: {
        weights,
        input: [weights.expand.wShape[1], Math.ceil(height / 32), Math.ceil(width / 32)],
        lrScale: BLOCK.lrScale,
        ...(backbone.manifest.trainFeatures?.unitParts ? { unitParts: true } : {}),
      },
      model,
    };
  } catch {
    return null;
  }
}

/**
 * Views of `ids` as the activations entering the block: the clean thumbnail, then {@link VIEWS} augmented ones made
 * as the cached training views are (the same seed per photo and view), through the backbone cut before the block.
 * Kept on disk in float16, one file per photo (`cache/block-views/`), so a later round makes only new photos' views;
 * files of photos no longer sampled, and of other backbones or blocks, are deleted (at most {@link BLOCK.sampleMax}
 * photos: 144 MB). Fresh views are rounded to float16 too, so a round is the same with or without the cache.
 */
async function blockViews(
  lib: Library,
  backbone: Encoder,
  model: ModelIR,
  block: NonNullable<TrainerOptions['block']>,
  ids: number[],
  device: Device,
  ctx: JobContext,
): Promise<{ views: Float32Array[]; cached: number }> {
  const m = backbone.manifest;
  const dim = block.input.reduce((a, b) => a * b, 1);
  const views = Array.from({ length: VIEWS + 1 }, () => new Float32Array(ids.length * dim));
  const info = thumbInfo(lib.db);
  const rows = ids.map((id) => info.get(id) as { hash: string; width: number; height: number });
  const root = path.join(lib.layout.cache, 'block-views');
  const dir = path.join(root, `${backbone.key}-${BLOCK.prefix}-v${VIEWS}`.replace(/[^A-Za-z0-9._-]/g, '_'));
  const fileOf = (hash: string): string => path.join(dir, hash.slice(0, 2), `${hash}.f16`);
  const bytes = (VIEWS + 1) * dim * 2;
  // Cached photos first.
  const todo: number[] = [];
  rows.forEach((row, i) => {
    let buf: Buffer | null = null;
    try {
      buf = fs.readFileSync(fileOf(row.hash));
    } catch {
      // not cached yet
    }
    if (buf?.length !== bytes) return void todo.push(i);
    const all = fromFloat16(new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + bytes)));
    for (let k = 0; k <= VIEWS; k++) views[k].set(all.subarray(k * dim, (k + 1) * dim), i * dim);
  });
  if (todo.length > 0) {
    const cut = encodeModel(blockInputModel(model, block.weights));
    const embedder = await Embedder.fromModel({ ...m, sha256: sha256Hex(cut), output: { name: BLOCK_INPUT, dim } }, cut, {
      device,
      decode: { opaque: true },
    });
    ctx.stage(
      'train',
      todo.length * (VIEWS + 1),
      `Preparing ${todo.length * (VIEWS + 1)} training views of the backbone's last block`,
      'views',
    );
    const normalize = createNormalizer(m);
    const size = m.input.width * m.input.height * 3;
    try {
      let done = 0;
      for await (const r of embedder.embedFiles(
        todo.map((i) => thumbFile(lib.layout.cache, rows[i].hash, 'thumb')),
        { signal: ctx.signal },
      )) {
        if ('vector' in r) views[0].set(r.vector, todo[r.index] * dim);
        ctx.progress(++done);
      }
      const batch = 32;
      for (let k = 1; k <= VIEWS; k++)
        for (let t = 0; t < todo.length; t += batch) {
          ctx.signal.throwIfAborted();
          const chunk = todo.slice(t, t + batch);
          // An unreadable thumbnail leaves a blank input for that view.
          const input = new Float32Array(chunk.length * size);
          await Promise.all(chunk.map((i, j) => augmentInto(lib, m, normalize, rows[i], k, input, j * size)));
          const out = await embedder.embedTensors(input, batch);
          chunk.forEach((i, j) => views[k].set(out.subarray(j * dim, (j + 1) * dim), i * dim));
          ctx.progress((done += chunk.length));
        }
    } finally {
      await embedder.release();
    }
    for (const i of todo) {
      const half = new Uint16Array((VIEWS + 1) * dim);
      for (let k = 0; k <= VIEWS; k++) half.set(toFloat16(views[k].subarray(i * dim, (i + 1) * dim)), k * dim);
      for (let k = 0; k <= VIEWS; k++) views[k].set(fromFloat16(half.subarray(k * dim, (k + 1) * dim)), i * dim);
      const file = fileOf(rows[i].hash);
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(`${file}.tmp`, half);
        fs.renameSync(`${file}.tmp`, file);
      } catch {
        // a full disk costs only the cache: the round goes on
      }
    }
  }
  pruneBlockViews(root, dir, new Set(rows.map((r) => `${r.hash}.f16`)));
  return { views, cached: rows.length - todo.length };
}

/** Delete cached block views other than `keep` in `dir`, and every other folder under `root`. */
function pruneBlockViews(root: string, dir: string, keep: ReadonlySet<string>): void {
  const list = (d: string): string[] => {
    try {
      return fs.readdirSync(d);
    } catch {
      return [];
    }
  };
  for (const other of list(root)) if (path.join(root, other) !== dir) fs.rmSync(path.join(root, other), { recursive: true, force: true });
  for (const sub of list(dir))
    for (const f of list(path.join(dir, sub))) if (!keep.has(f)) fs.rmSync(path.join(dir, sub, f), { force: true });
}
