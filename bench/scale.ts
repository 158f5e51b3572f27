/**
 * bench:scale — the library lifecycle at the sizes people have.
 *
 *   node dist/bench/scale.js [--sizes 10000,30000] [--large] [--source ../shared/datasets/intel-scenes]
 *        [--work <dir>] [--quality] [--keep] [--generate-only] [--tag <name>] [--with-objects-and-faces]
 *
 * Builds libraries of N generated camera-size photos (1600x1200 JPEGs, some portrait, with EXIF capture dates):
 * a few hundred decoded source photos, each reused with its own crop, flip, colour and brightness, so that every
 * file's content differs. The files are generated once into <work>/pool and hard-linked into each library's folder.
 * For each N, in a process of its own (so its peak RSS is its own), with the shipped settings on this machine:
 *   - a first organize of the new library: seconds to the first albums, seconds to the trained (refined) albums,
 *     the training decision and steps, and the approximate kNN's recall against exact on the training features;
 *   - a re-run with nothing changed, in a freshly opened service (a restart);
 *   - a re-run after adding 1% new photos;
 *   - peak RSS (VmHWM of the process, worker threads included) and the library folder's size on disk.
 * --large adds N = 100,000 (hours of generation and organizing on 2 cores: outside CI).
 * --quality also runs bench:quality on CIFAR-10 with all 10,000 photos under the shipped budget (frozen against
 * trained, no corrections) and puts its summary in the result.
 * The objects and faces stages (after the albums and the training) are left out unless --with-objects-and-faces:
 * the lifecycle numbers compare with those of earlier sessions, which had neither.
 * Writes bench/results/scale.json (or scale-large.json) and prints its path last.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { knnApprox, knnRecall, knnSelf } from '../electron/core/cluster/knn.js';
import * as embeddings from '../electron/core/embeddings.js';
import { backboneEncoder } from '../electron/core/encoders.js';
import { LibraryService } from '../electron/core/service.js';
import { TRAIN_SAMPLE_MAX, TRAINING, trainingSample } from '../electron/core/stages/train.js';
import { folderSize } from '../electron/core/versions.js';
import { argValue, REPO, writeResult } from './common.js';

/** Whether organizes here also run the objects and faces stages. */
const LATER_STAGES = process.argv.includes('--with-objects-and-faces') ? {} : { objects: false, faces: false };

const WIDTH = 1600;
const HEIGHT = 1200;
const SOURCES = 600;

function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Source {
  data: Buffer;
  width: number;
  height: number;
}

async function loadSources(dir: string): Promise<Source[]> {
  const manifest = fs.readFileSync(path.join(dir, 'MANIFEST.tsv'), 'utf8').split('\n').filter(Boolean);
  // Every class equally: take files round-robin over the classes.
  const byClass = new Map<string, string[]>();
  for (const line of manifest) {
    const [rel, label] = line.split('\t');
    byClass.set(label, [...(byClass.get(label) ?? []), rel]);
  }
  const lists = [...byClass.values()];
  const picked: string[] = [];
  for (let i = 0; picked.length < SOURCES && i < 10_000; i++) for (const l of lists) if (l[i] && picked.length < SOURCES) picked.push(l[i]);
  return Promise.all(
    picked.map(async (rel) => {
      const { data, info } = await sharp(path.join(dir, rel)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.height };
    }),
  );
}

/** Photo `i`: source i % SOURCES with its own crop, flip, colour, brightness and capture date. */
async function makePhoto(src: Source, i: number, file: string): Promise<void> {
  const r = rng(i + 1);
  const portrait = r() < 0.1;
  const scale = 0.75 + 0.25 * r();
  const cw = Math.max(16, Math.floor(src.width * scale));
  const ch = Math.max(16, Math.floor(src.height * scale));
  const left = Math.floor(r() * (src.width - cw + 1));
  const top = Math.floor(r() * (src.height - ch + 1));
  const taken = new Date(Date.UTC(2015, 0, 1) + Math.floor(r() * 10 * 365 * 86400) * 1000);
  const bright = r();
  const stamp = taken.toISOString().slice(0, 19).replace('T', ' ').replace(/-/g, ':');
  let img = sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } })
    .extract({ left, top, width: cw, height: ch })
    .resize(portrait ? HEIGHT : WIDTH, portrait ? WIDTH : HEIGHT, { fit: 'fill', kernel: 'cubic' })
    // Exposure and a colour cast as per-channel gains (a third of the cost of modulate's hue rotation).
    .linear([0, 1, 2].map(() => (0.85 + 0.3 * bright) * (0.92 + 0.16 * r())), [0, 0, 0]);
  if (r() < 0.5) img = img.flop();
  await img
    .jpeg({ quality: 85 })
    .withExif({ IFD0: { Make: 'Benchcam', Model: 'Scale 1' }, IFD2: { DateTimeOriginal: stamp } })
    .toFile(file);
}

/** Make pool/<i>.jpg for i < n (what is there already is kept). */
async function ensurePool(pool: string, n: number, sources: Source[]): Promise<void> {
  fs.mkdirSync(pool, { recursive: true });
  const name = (i: number): string => path.join(pool, `${String(i).padStart(6, '0')}.jpg`);
  const todo: number[] = [];
  for (let i = 0; i < n; i++) if (!fs.existsSync(name(i))) todo.push(i);
  if (todo.length === 0) return;
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.max(2, os.availableParallelism()) }, async () => {
      while (next < todo.length) {
        const i = todo[next++];
        const tmp = `${name(i)}.tmp.jpg`;
        await makePhoto(sources[i % sources.length], i, tmp);
        fs.renameSync(tmp, name(i));
        if (++done % 1000 === 0) console.error(`generated ${done}/${todo.length} photos (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }),
  );
}

/** A library folder holding hard links to pool photos [from, to). */
function linkPhotos(pool: string, root: string, from: number, to: number): void {
  fs.mkdirSync(root, { recursive: true });
  for (let i = from; i < to; i++) {
    const f = `${String(i).padStart(6, '0')}.jpg`;
    // Spread over folders of 1,000, as a camera or phone export would.
    const dir = path.join(root, `folder-${Math.floor(i / 1000)}`);
    fs.mkdirSync(dir, { recursive: true });
    const dst = path.join(dir, f);
    if (!fs.existsSync(dst)) fs.linkSync(path.join(pool, f), dst);
  }
}

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.memoryUsage().rss / 2 ** 20);
}

/** The child: one N, all phases. Prints its result as JSON on the last line of stdout. */
async function child(): Promise<void> {
  const root = argValue('--root', '');
  const library = argValue('--library', '');
  const pool = argValue('--pool', '');
  const n = Number(argValue('--n', '0'));
  const out: Record<string, unknown> = { photos: n };
  // 1. First organize.
  let firstAlbumsSec = NaN;
  const t0 = performance.now();
  let svc = new LibraryService(library, {
    command: 'bench:scale',
    hooks: { onAlbums: (phase) => phase === 'first' && (firstAlbumsSec = (performance.now() - t0) / 1000) },
  });
  svc.addRoot(root);
  let info = await svc.organize({ device: 'cpu', ...LATER_STAGES }).done;
  if (info.state !== 'done') throw new Error(`organize: ${info.message}`);
  const r1 = svc.report!;
  out.first = {
    firstAlbumsSec,
    trainedAlbumsSec: (performance.now() - t0) / 1000,
    timings: r1.timings,
    albums: r1.albums,
    training: r1.training,
    trained: r1.trained && { steps: r1.trained.steps, photos: r1.trained.photos, limitedBy: r1.trained.limitedBy, warm: r1.trained.warm },
    peakRssMiB: peakRssMiB(),
  };
  console.error(`[${n}] first: ${JSON.stringify(out.first)}`);
  // kNN recall on what the round trained on.
  const bb = backboneEncoder(svc.db);
  const ids = trainingSample(svc.db, bb, TRAIN_SAMPLE_MAX);
  const feats = embeddings.load(svc.db, embeddings.trainFeaturesKey(bb.key, 0), ids);
  const t1 = performance.now();
  const approx = knnApprox(feats.data, feats.ids.length, feats.dim, 5, { seed: 1 });
  const approxSec = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const exact = knnSelf(feats.data, feats.ids.length, feats.dim, 5);
  out.knn = { photos: feats.ids.length, dim: feats.dim, recall: knnRecall(exact, approx), approxSec, exactSec: (performance.now() - t2) / 1000 };
  console.error(`[${n}] knn: ${JSON.stringify(out.knn)}`);
  await svc.close();

  // 2. Restart with nothing changed.
  let t = performance.now();
  svc = new LibraryService(library, { command: 'bench:scale' });
  info = await svc.organize({ device: 'cpu', ...LATER_STAGES }).done;
  if (info.state !== 'done') throw new Error(`organize: ${info.message}`);
  out.noChange = { seconds: (performance.now() - t) / 1000, timings: svc.report!.timings, training: svc.report!.training.message };
  console.error(`[${n}] no change: ${JSON.stringify(out.noChange)}`);
  await svc.close();

  // 3. 1% new photos.
  const extra = Math.max(1, Math.round(n / 100));
  linkPhotos(pool, root, n, n + extra);
  t = performance.now();
  svc = new LibraryService(library, { command: 'bench:scale' });
  info = await svc.organize({ device: 'cpu', ...LATER_STAGES }).done;
  if (info.state !== 'done') throw new Error(`organize: ${info.message}`);
  out.onePercent = { added: extra, seconds: (performance.now() - t) / 1000, timings: svc.report!.timings, training: svc.report!.training.message };
  console.error(`[${n}] +1%: ${JSON.stringify(out.onePercent)}`);
  await svc.close();
  const size = folderSize(library);
  out.libraryMiB = Math.round(size.bytes / 2 ** 20);
  out.libraryFiles = size.files;
  out.photosMiB = Math.round(folderSize(root).bytes / 2 ** 20);
  out.peakRssMiB = peakRssMiB();
  process.stdout.write(`\n${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const large = process.argv.includes('--large');
  const sizes = argValue('--sizes', large ? '100000' : '10000,30000').split(',').map(Number);
  const source = path.resolve(argValue('--source', path.join(REPO, '..', 'shared', 'datasets', 'intel-scenes')));
  const work = path.resolve(argValue('--work', path.join(os.tmpdir(), 'shoebox-scale')));
  const pool = path.join(work, 'pool');
  const max = Math.max(...sizes);
  const t0 = performance.now();
  const sources = await loadSources(source);
  await ensurePool(pool, Math.ceil(max * 1.01) + 1, sources);
  const generateSec = (performance.now() - t0) / 1000;
  if (process.argv.includes('--generate-only')) return;
  const runs: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const dir = path.join(work, `run-${n}`);
    fs.rmSync(dir, { recursive: true, force: true });
    linkPhotos(pool, path.join(dir, 'photos'), 0, n);
    const r = spawnSync(
      process.execPath,
      [new URL(import.meta.url).pathname, '--child', '--n', String(n), '--root', path.join(dir, 'photos'), '--library', path.join(dir, 'library'), '--pool', pool],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    if (r.status !== 0) throw new Error(`bench:scale child for ${n} photos failed (${r.status})`);
    runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>);
    if (!process.argv.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
  let quality: unknown = null;
  if (process.argv.includes('--quality')) {
    const q = spawnSync(
      process.execPath,
      [path.join(REPO, 'dist', 'bench', 'quality.js'), '--dataset', path.join(REPO, '..', 'shared', 'datasets', 'cifar10-test'), '--limit', '10000', '--no-corrections', '--tag', 'scale-10000'],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    if (q.status !== 0) throw new Error('bench:quality failed');
    const file = q.stdout.trim().split('\n').at(-1)!;
    quality = { file: path.relative(REPO, file), summary: (JSON.parse(fs.readFileSync(file, 'utf8')) as { summary: unknown }).summary };
  }
  const tag = argValue('--tag', '');
  writeResult(`${large ? 'scale-large' : 'scale'}${tag ? `-${tag}` : ''}`, {
    inputs: {
      sizes,
      photo: `${WIDTH}x${HEIGHT} JPEG q85 (10% portrait), from ${SOURCES} sources of ${path.basename(source)}`,
      settings: { trainSteps: TRAINING.steps, timeLimitSec: TRAINING.timeLimitSec, device: 'cpu' },
      generateSec,
    },
    runs,
    quality,
  });
}

if (process.argv.includes('--child')) await child();
else await main();
