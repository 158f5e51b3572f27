/**
 * The organize pipeline. Albums first, refinement after:
 *
 *   scan -> places -> embed -> albums (published) -> [refine: train -> apply the new encoder -> albums again (published)]
 *        -> objects (what each photo shows; names the albums that time and place do not)
 *
 * The first albums come from the active encoder (the frozen backbone on a new library) as soon as the photos are
 * embedded. Training runs only when it is warranted (stages/train-policy.ts) and within a step budget and a time
 * limit; the albums are then re-clustered with the refined encoder, keeping every edit and the albums' identities.
 * Each stage is incremental and resumable: it skips what an earlier (possibly interrupted) run already finished, so
 * a restart with nothing changed costs a stat-only scan.
 */
import type { JobContext } from './jobs.js';
import { scanLibrary, type ScanSummary } from './library/scanner.js';
import { setSetting } from './db/database.js';
import type { Library } from './library.js';
import type { Device } from './ml/providers.js';
import {
  activeEncoder,
  backboneEncoder,
  DEFAULT_ENCODER_ID,
  latestVersionOf,
  rootEncoder,
  setActiveEncoder,
  type Encoder,
} from './encoders.js';
import { clusterStage, type ClusterStageOptions, type ClusterStageResult } from './stages/cluster.js';
import { embedBackbone, embedWithAdapter } from './stages/embed.js';
import { decideTraining, type TrainingDecision } from './stages/train-policy.js';
import { trainStage, type TrainStageOptions, type TrainStageResult } from './stages/train.js';
import { placesStage } from './stages/places.js';
import { objectsStage } from './stages/objects.js';
import { facesStage, type FacesStageResult } from './stages/faces.js';
import { refreshAlbumNames } from './albums/names.js';
import type { JobInfo, OrganizeStep } from './api/contract.js';
import { embeddingKey, keyString, pending, trainFeaturesKey } from './embeddings.js';
import { TRAIN_SAMPLE_MAX, VIEWS } from './stages/train.js';

export interface OrganizeOptions {
  /** Training allowed (the Settings switch); a round still runs only when warranted. */
  train: boolean;
  /** Train now, warranted or not (Re-organize with "also retrain", `--retrain`). */
  retrain: boolean;
  /** Re-cluster every photo the person has not placed (Re-organize, `--reorganize`), not only new ones. */
  reorganize: boolean;
  /** Step budget of a training round from scratch, and of a round that continues the last one. */
  steps: number;
  warmSteps: number;
  /** Continue from the last round's state (default); false trains from scratch (benchmarks). */
  warmStart: boolean;
  /** Wall-clock limit of a training round in seconds (Infinity: none). */
  timeLimitSec: number;
  /** Most passes over the photos of a round (benchmarks: Infinity, the budget alone). */
  maxPasses?: number;
  method: 'propos' | 'byol' | 'moco';
  albums: 'auto' | number;
  device: Device;
  seed: number;
  /** Backbone encoder id (default: the bundled default, {@link DEFAULT_ENCODER_ID}). */
  encoder?: string;
  /** Run the object detector (default true; benchmarks of the other stages turn it off). */
  objects?: boolean;
  /** Find faces and group them into people (default true). */
  faces?: boolean;
  /** A training round also fine-tunes the backbone's last block (`--finetune-backbone`; stages/train.ts). */
  finetuneBlock?: boolean;
}

export interface OrganizeReport {
  message: string;
  scan: ScanSummary;
  device: string | null;
  model: string | null;
  albums: number;
  /** Seconds per stage, and `firstAlbums`: from the start of the job until the first albums were written. */
  timings: Record<string, number>;
  training: TrainingDecision;
  trained: TrainStageResult | null;
  /** The faces stage of this run, when it ran. */
  faces: FacesStageResult | null;
}

/** The stages, replaceable (tests run the real service with stubs). */
export interface Stages {
  scan: typeof scanLibrary;
  places: typeof placesStage;
  embedBackbone: typeof embedBackbone;
  embedWithAdapter: typeof embedWithAdapter;
  cluster: typeof clusterStage;
  train: typeof trainStage;
  objects: typeof objectsStage;
  faces: typeof facesStage;
}

export const DEFAULT_STAGES: Stages = {
  scan: scanLibrary,
  places: placesStage,
  embedBackbone,
  embedWithAdapter,
  cluster: clusterStage,
  train: trainStage,
  objects: objectsStage,
  faces: facesStage,
};

export interface OrganizeHooks {
  stages?: Partial<Stages>;
  /**
   * Albums were written: 'first' after the embed stage, 'refined' after a training round, 'named' when the objects
   * found may have renamed some.
   */
  onAlbums?: (phase: 'first' | 'refined' | 'named', result: ClusterStageResult) => void;
  /** Passed on to the cluster stage (tests edit the library between its computing and its writing). */
  beforeClusterWrite?: ClusterStageOptions['beforeWrite'];
}

/** The encoder to use for `backbone`: the active one when it descends from it, else its newest kept version. */
function encoderFor(lib: Library, backbone: Encoder): Encoder {
  const active = activeEncoder(lib.db);
  if (rootEncoder(lib.db, active).key === backbone.key) return active;
  // The person switched backbones: its own newest fine-tuned version (if one is kept), else the backbone itself.
  const latest = latestVersionOf(lib.db, backbone.key) ?? backbone;
  setActiveEncoder(lib.db, latest.key);
  return latest;
}

/** The steps an organize shows (the progress banner), in order. */
export const ORGANIZE_STEPS: readonly { id: OrganizeStep; label: string }[] = [
  { id: 'scan', label: 'Find photos' },
  { id: 'embed', label: 'Look at photos' },
  { id: 'albums', label: 'Make albums' },
  { id: 'refine', label: 'Refine' },
];

/**
 * What the overall ETA needs to price the steps not reached yet: counts read at the start (cheap queries), refined
 * by the pipeline as it learns more (the scan's new photos, the training decision).
 */
interface PlanState {
  photos: number;
  unembedded: number;
  undetected: number;
  /** Photos the face models have not looked at. */
  faceless: number;
  /** Seconds the training round is expected to take: null until decided (guessed meanwhile). */
  trainSec: number | null;
  trainGuess: boolean;
}

function organizeEstimator(
  opts: OrganizeOptions,
  plan: PlanState,
): (job: Readonly<JobInfo>, per: (key: string) => number) => Partial<Record<OrganizeStep, number>> {
  return (job, per) => {
    const step = job.steps?.find((s) => s.state === 'active')?.id ?? 'scan';
    // Photos the scan is still reading will need embedding and detection too.
    const fresh = job.stage === 'scan' ? Math.max(0, job.total - job.done) : 0;
    const photos = plan.photos + fresh;
    const embed = (plan.unembedded + fresh) * per('embed:photos');
    const albums = 0.5 + photos * per('cluster:photos');
    const train =
      plan.trainSec ??
      (plan.trainGuess
        ? Math.min(TRAIN_SAMPLE_MAX, photos) * VIEWS * per('train:views') + Math.min(opts.timeLimitSec, opts.steps * per('train:steps'))
        : 0);
    const objects = opts.objects === false ? 0 : (plan.undetected + fresh) * per('objects:photos');
    const faces = opts.faces === false ? 0 : (plan.faceless + fresh) * per('faces:photos');
    // The rest of the refine step after the sub-stage now running.
    const sub =
      job.stage === 'train' ? (job.unit === 'views' ? Math.min(opts.timeLimitSec, opts.steps * per('train:steps')) : 0) + albums : 0;
    const refineLeft =
      job.stage === 'faces'
        ? 0
        : job.stage === 'objects'
          ? faces
          : job.stage === 'train'
            ? sub + objects + faces
            : train + (train > 0 ? albums : 0) + objects + faces;
    const after: Record<OrganizeStep, number> = { scan: 0, embed, albums, refine: refineLeft };
    const order: OrganizeStep[] = ['scan', 'embed', 'albums', 'refine'];
    const at = order.indexOf(step);
    return Object.fromEntries(order.map((id, i) => [id, i > at || (id === 'refine' && step === 'refine') ? after[id] : 0]));
  };
}

function planState(lib: Library, opts: OrganizeOptions, backbone: Encoder): PlanState {
  const db = lib.db;
  const count = (sql: string, ...args: unknown[]): number =>
    db
      .prepare(sql)
      .pluck()
      .get(...args) as number;
  const organized = db.prepare(`SELECT 1 FROM album_members LIMIT 1`).get() !== undefined;
  return {
    photos: count(`SELECT COUNT(*) FROM photos WHERE status = 'ok'`),
    unembedded: count(
      `SELECT COUNT(*) FROM photos p LEFT JOIN embeddings e ON e.photo_id = p.id AND e.model_key = ? AND e.hash = p.hash WHERE p.status = 'ok' AND e.photo_id IS NULL`,
      keyString(embeddingKey(backbone.key)),
    ),
    undetected: count(
      `SELECT COUNT(*) FROM photos p LEFT JOIN objects_done d ON d.photo_id = p.id AND d.hash = p.hash WHERE p.status = 'ok' AND d.photo_id IS NULL`,
    ),
    faceless: count(
      `SELECT COUNT(*) FROM photos p LEFT JOIN faces_done d ON d.photo_id = p.id AND d.hash = p.hash WHERE p.status = 'ok' AND d.photo_id IS NULL`,
    ),
    trainSec: null,
    trainGuess: opts.train && (opts.retrain || !organized),
  };
}

export async function runOrganize(
  lib: Library,
  opts: OrganizeOptions,
  ctx: JobContext,
  hooks: OrganizeHooks = {},
): Promise<OrganizeReport> {
  const st: Stages = { ...DEFAULT_STAGES, ...hooks.stages };
  const backbone = backboneEncoder(lib.db, opts.encoder ?? DEFAULT_ENCODER_ID);
  const plan = planState(lib, opts, backbone);
  ctx.planSteps(ORGANIZE_STEPS, organizeEstimator(opts, plan));
  ctx.enterStep('scan');
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const lap = (name: string, since: number): number => {
    timings[name] = (timings[name] ?? 0) + (performance.now() - since) / 1000;
    return performance.now();
  };
  let t = t0;
  const scan = await st.scan(lib.db, { cacheDir: lib.layout.cache }, ctx);
  t = lap('scan', t);
  Object.assign(plan, planState(lib, opts, backbone), { trainGuess: plan.trainGuess });
  const places = await st.places(lib.db, ctx);
  // New places can rename albums even when no photo needs filing (which is all the cluster stage would do).
  if (places.looked > 0) lib.db.transaction(() => refreshAlbumNames(lib.db))();
  t = lap('places', t);
  ctx.enterStep('embed');
  let active = encoderFor(lib, backbone);
  // A refined encoder reads the training features of every photo; the backbone alone needs only its embedding, so
  // features that cost a second backbone wait until training wants them (the first albums do not).
  const emb = await st.embedBackbone(lib, backbone, opts.device, ctx, { features: active.key !== backbone.key });
  let device: string | null = emb.device;
  if (active.key !== backbone.key) await st.embedWithAdapter(lib, active, backbone, opts.device, ctx);
  t = lap('embed', t);

  // Albums first, from the encoder at hand.
  ctx.enterStep('albums');
  plan.unembedded = 0;
  const organized = lib.db.prepare(`SELECT 1 FROM album_members LIMIT 1`).get() !== undefined;
  const clusterOpts = (mode: 'full' | 'incremental'): ClusterStageOptions => ({
    k: opts.albums,
    seed: opts.seed,
    mode,
    beforeWrite: hooks.beforeClusterWrite,
  });
  let cl = await st.cluster(lib, active.key, clusterOpts(opts.reorganize || !organized ? 'full' : 'incremental'), ctx);
  t = lap('cluster', t);
  timings.firstAlbums = (performance.now() - t0) / 1000;
  hooks.onAlbums?.('first', cl);

  // Refinement, when warranted.
  const decision = decideTraining(lib.db, backbone, { enabled: opts.train, force: opts.retrain, method: opts.method });
  setSetting(lib.db, 'lastTrainingDecision', decision);
  const featureless = decision.train && backbone.manifest.trainFeatures?.deferred ? pending(lib.db, trainFeaturesKey(backbone.key, 0)).length : 0;
  plan.trainSec = decision.train
    ? // deferred features: a second backbone, about twice the first's embedding time (docs/results.md)
      featureless * ctx.secondsPer('embed:photos') * 2 +
      Math.min(TRAIN_SAMPLE_MAX, plan.photos) * VIEWS * ctx.secondsPer('train:views') +
      Math.min(opts.timeLimitSec, opts.steps * ctx.secondsPer('train:steps'))
    : 0;
  let trained: TrainStageResult | null = null;
  if (decision.train) {
    ctx.setRefining(true);
    // The deferred training features (nothing to do otherwise).
    if (featureless > 0) {
      const r = await st.embedBackbone(lib, backbone, opts.device, ctx);
      device = device ?? r.device;
      t = lap('embed', t);
    }
    const trainOpts: TrainStageOptions = {
      method: opts.method,
      steps: opts.steps,
      warmSteps: opts.warmSteps,
      warmStart: opts.warmStart,
      timeLimitSec: opts.timeLimitSec,
      ...(opts.maxPasses !== undefined ? { maxPasses: opts.maxPasses } : {}),
      device: opts.device,
      seed: opts.seed,
      ...(opts.finetuneBlock ? { finetuneBlock: true } : {}),
    };
    trained = await st.train(lib, backbone, trainOpts, ctx);
    t = lap('train', t);
    if (trained) {
      active = trained.model;
      device = device ?? trained.device;
      await st.embedWithAdapter(lib, active, backbone, opts.device, ctx);
      t = lap('embed', t);
      cl = await st.cluster(lib, active.key, clusterOpts('full'), ctx);
      t = lap('cluster', t);
      hooks.onAlbums?.('refined', cl);
    }
  }
  // Last, as it refines names only: a photo is looked at once, so a re-run skips this in one query.
  if (opts.objects !== false) {
    const found = await st.objects(lib, opts.device, ctx);
    if (found.looked > 0) hooks.onAlbums?.('named', cl);
    t = lap('objects', t);
  }
  // People, after everything albums need: the costliest stage per photo, and independent of the albums.
  const faces = opts.faces !== false ? await st.faces(lib, opts.device, ctx, { regroup: opts.reorganize }) : null;
  if (faces) lap('faces', t);
  ctx.endSteps();
  if (device) setSetting(lib.db, 'lastDevice', device);
  const parts = [`${scan.found} photos`, `${scan.errors} could not be read`];
  if (cl.albums) parts.push(`${cl.albums} albums`);
  if (!decision.train && decision.reason !== 'off') parts.push(decision.message);
  if (faces && faces.newPeople + faces.joined > 0) parts.push(`${faces.faces} faces found, ${faces.newPeople} new people`);
  return { message: parts.join(', '), scan, device, model: active.key, albums: cl.albums, timings, training: decision, trained, faces };
}
