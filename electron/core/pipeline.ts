/**
 * The organize pipeline: scan -> embed -> (train -> re-embed) -> cluster. Each stage is incremental and resumable:
 * a stage skips what an earlier (possibly interrupted) run already finished.
 */
import type { Device } from './api/contract.js';
import type { JobContext } from './jobs.js';
import { scanLibrary, type ScanSummary } from './library/scanner.js';
import type { LibraryService } from './service.js';
import { setSetting } from './db/database.js';

export interface OrganizeOptions {
  train: boolean;
  epochs: number;
  method: 'propos' | 'byol' | 'moco';
  albums: 'auto' | number;
  device: Device | string;
  seed: number;
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
  const stages = await loadStages();
  let device: string | null = null;
  let model: string | null = null;
  let albumCount = 0;
  if (stages) {
    const r = await stages.run(svc, opts, ctx, timings);
    device = r.device;
    model = r.model;
    albumCount = r.albums;
  }
  if (device) setSetting(svc.db, 'lastDevice', device);
  const parts = [`${scan.found} photos`, `${scan.errors} could not be read`];
  if (albumCount) parts.push(`${albumCount} albums`);
  return { message: parts.join(', '), scan, device, model, albums: albumCount, timings };
}

interface Stages {
  run(
    svc: LibraryService,
    opts: OrganizeOptions,
    ctx: JobContext,
    timings: Record<string, number>,
  ): Promise<{ device: string | null; model: string | null; albums: number }>;
}

async function loadStages(): Promise<Stages | null> {
  return null;
}
