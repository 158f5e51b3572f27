/**
 * The organize pipeline: scan -> embed -> (train -> re-embed) -> cluster. Each stage is incremental and resumable:
 * a stage skips what an earlier (possibly interrupted) run already finished.
 */
import type { JobContext } from './jobs.js';
import { scanLibrary, type ScanSummary } from './library/scanner.js';
import type { LibraryService } from './service.js';
import { setSetting } from './db/database.js';
import type { Device } from './ml/providers.js';
import { activeModel, backboneModel, DEFAULT_MODEL_ID, rootModel, setActiveModel } from './models.js';
import { clusterStage } from './stages/cluster.js';
import { embedBackbone, embedWithAdapter } from './stages/embed.js';
import { ensureTrainFeatures, trainStage } from './stages/train.js';


export interface OrganizeOptions {
  train: boolean;
  epochs: number;
  method: 'propos' | 'byol' | 'moco';
  albums: 'auto' | number;
  device: Device;
  seed: number;
  /** Backbone encoder id (default: the bundled default, {@link DEFAULT_MODEL_ID}). */
  encoder?: string;
  /** 'auto': full clustering the first time, then only place new photos; 'full': re-cluster everything not pinned. */
  mode?: 'auto' | 'full';
}

export interface OrganizeReport {
  message: string;
  scan: ScanSummary;
  device: string | null;
  model: string | null;
  albums: number;
  timings: Record<string, number>;
}

export async function runOrganize(svc: LibraryService, opts: OrganizeOptions, ctx: JobContext): Promise<OrganizeReport> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const scan = await scanLibrary(svc.db, { cacheDir: svc.layout.cache }, ctx);
  timings.scan = (performance.now() - t0) / 1000;
  let t = performance.now();
  const backbone = backboneModel(svc.db, opts.encoder ?? DEFAULT_MODEL_ID);
  let active = activeModel(svc.db);
  if (rootModel(svc.db, active).key !== backbone.key) {
    // The person switched encoders: versions fine-tuned from the other backbone stay on disk but stop being used.
    setActiveModel(svc.db, backbone.key);
    active = backbone;
  }
  const emb = await embedBackbone(svc.db, svc.layout.cache, backbone, opts.device, ctx);
  timings.embed = (performance.now() - t) / 1000;
  let device: string | null = emb.device;

  const organized = svc.isOrganized();
  if (opts.train && opts.epochs > 0) {
    t = performance.now();
    const trained = await trainStage(svc, backbone, opts, ctx);
    timings.train = (performance.now() - t) / 1000;
    if (trained) {
      active = trained.model;
      device = device ?? trained.device;
    }
  }
  if (active.key !== backbone.key) {
    t = performance.now();
    await ensureTrainFeatures(svc, backbone, opts.device, ctx);
    await embedWithAdapter(svc.db, active, backbone, opts.device, ctx);
    timings.embed += (performance.now() - t) / 1000;
  }
  t = performance.now();
  const cl = clusterStage(
    svc.db,
    active.key,
    { k: opts.albums, seed: opts.seed, mode: opts.mode === 'full' || !organized ? 'full' : 'incremental' },
    ctx,
  );
  timings.cluster = (performance.now() - t) / 1000;
  const model: string | null = active.key;
  const albumCount = cl.albums;
  if (device) setSetting(svc.db, 'lastDevice', device);
  const parts = [`${scan.found} photos`, `${scan.errors} could not be read`];
  if (albumCount) parts.push(`${albumCount} albums`);
  return { message: parts.join(', '), scan, device, model, albums: albumCount, timings };
}

