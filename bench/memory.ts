/**
 * Peak memory and time of the organize steps whose cost grows with the whole library, at sizes no machine here can
 * scan: N synthetic photos in the real schema (bench/fixtures/synthetic-library.ts) with clustered random unit
 * embeddings of the default encoder's size, then the full cluster stage (automatic K, near-duplicates, the write),
 * an incremental one after 1% new photos, and the album list and pages the UI asks for. Scan and embed stream
 * photo by photo and a training round works on a bounded sample, so bench:scale measures those with real photos.
 *
 *   node dist/bench/memory.js [--photos 100000]
 *
 * Writes bench/results/memory-<N>.json and prints its path last.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as albums from '../electron/core/albums/store.js';
import * as embeddings from '../electron/core/embeddings.js';
import { DEFAULT_ENCODER_ID } from '../electron/core/encoders.js';
import type { LibraryService } from '../electron/core/service.js';
import { clusterStage, type ClusterStageResult } from '../electron/core/stages/cluster.js';
import { Rng } from '../training/numeric/rng.js';
import { argValue, REPO, writeResult } from './common.js';
import { openSyntheticLibrary } from './fixtures/synthetic-library.js';

/** Themes the synthetic embeddings cluster around (a photo library's subjects, roughly). */
const THEMES = 60;

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.memoryUsage().rss / 2 ** 20);
}

/** Unit vectors near one of THEMES random centres, stored as the default encoder's embeddings of these photos. */
function storeEmbeddings(svc: LibraryService, model: string, dim: number, photos: { id: number; hash: string }[], rng: Rng, centres: Float32Array[]): void {
  const key = embeddings.embeddingKey(model);
  for (let i = 0; i < photos.length; i += 5000) {
    const rows = photos.slice(i, i + 5000).map((p) => {
      const c = centres[Math.floor(rng.next() * centres.length)];
      const v = new Float32Array(dim);
      let norm = 0;
      for (let d = 0; d < dim; d++) {
        v[d] = c[d] + (0.6 / Math.sqrt(dim)) * rng.normal();
        norm += v[d] * v[d];
      }
      for (let d = 0; d < dim; d++) v[d] /= Math.sqrt(norm);
      return { ...p, vector: v };
    });
    svc.db.transaction(() => embeddings.store(svc.db, key, 'cpu', rows))();
  }
}

async function cluster(svc: LibraryService, model: string, mode: 'full' | 'incremental'): Promise<ClusterStageResult & { seconds: number }> {
  const t = performance.now();
  let result: ClusterStageResult | undefined;
  const job = svc.jobs.start('cluster', {}, async (ctx) => {
    result = await clusterStage(svc, model, { k: 'auto', mode, seed: 1 }, ctx);
  });
  const info = await job.done;
  if (info.state !== 'done' || !result) throw new Error(`cluster stage: ${info.message}`);
  return { ...result, seconds: (performance.now() - t) / 1000 };
}

async function main(): Promise<void> {
  const n = Number(argValue('--photos', '100000'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-memory-'));
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'models', `${DEFAULT_ENCODER_ID}.json`), 'utf8')) as { id: string; version: string; output: { dim: number } };
  const model = `${manifest.id}@${manifest.version}`;
  const dim = manifest.output.dim;
  const rng = new Rng(7);
  const centres = Array.from({ length: THEMES }, () => Float32Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim)));
  try {
    const extra = Math.round(n / 100);
    let t = performance.now();
    const svc = await openSyntheticLibrary(path.join(work, 'library'), path.join(work, 'photos'), [
      { name: 'Camera roll', count: n },
      { name: 'New', count: extra },
    ]);
    // A library scanned and embedded but not organized yet: no album holds a photo.
    svc.db.exec(`DELETE FROM album_members; DELETE FROM albums WHERE kind != 'unsorted'`);
    const all = svc.db.prepare('SELECT id, hash FROM photos ORDER BY id').all() as { id: number; hash: string }[];
    storeEmbeddings(svc, model, dim, all.slice(0, n), rng, centres);
    const seedSec = (performance.now() - t) / 1000;
    const seededRss = peakRssMiB();
    console.error(`[${n}] seeded in ${seedSec.toFixed(0)} s, peak RSS ${seededRss} MiB`);
    const first = await cluster(svc, model, 'full');
    const firstRss = peakRssMiB();
    console.error(`[${n}] full cluster: ${JSON.stringify(first)}, peak RSS ${firstRss} MiB`);
    storeEmbeddings(svc, model, dim, all.slice(n), rng, centres);
    const added = await cluster(svc, model, 'incremental');
    console.error(`[${n}] +1%: ${JSON.stringify(added)}`);
    const listed = albums.listAlbums(svc.db);
    t = performance.now();
    albums.listAlbums(svc.db);
    const listSec = (performance.now() - t) / 1000;
    const biggest = listed[0];
    t = performance.now();
    albums.albumPage(svc.db, biggest.id, 0, 200);
    const firstPageSec = (performance.now() - t) / 1000;
    t = performance.now();
    albums.albumPage(svc.db, biggest.id, Math.max(0, biggest.count - 200), 200);
    const lastPageSec = (performance.now() - t) / 1000;
    await svc.close();
    writeResult(`memory-${n}`, {
      inputs: { photos: n, added: extra, encoder: model, dim, themes: THEMES },
      seedSec,
      seededRssMiB: seededRss,
      fullCluster: { ...first, peakRssMiB: firstRss },
      incremental: added,
      ui: { albums: listed.length, biggestAlbum: biggest.count, listAlbumsSec: listSec, firstPageSec, lastPageSec },
      peakRssMiB: peakRssMiB(),
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
