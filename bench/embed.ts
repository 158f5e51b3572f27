/**
 * Embedding pipeline benchmark:  node dist/bench/embed.js [--images 500] [--batch N] [--concurrency N]
 *                                [--threads N] [--rounds 2] [--gpu-images 8] [--providers cpu,webgpu]
 *
 * On generated camera-like JPEGs (4000x3000, cached in bench/cache/embed/), per available provider:
 *   - pipeline: images/s of Embedder.embedFiles (decode + pre-process + inference, vectors kept in memory as float16);
 *   - bare: images/s of a plain `session.run` loop over the same images pre-decoded to tensors, same session;
 * plus decode-only images/s, the model's FLOPs per image (Conv/MatMul MACs x 2) and the machine's ORT MatMul GFLOP/s.
 * Bare and pipeline rounds alternate and the best of each is kept, because the machine may be shared.
 * Writes bench/results/embed.json and prints its path last.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor, env as ortEnv } from 'onnxruntime-node';
import sharp from 'sharp';
import { encodeThumbnail, THUMB_SIZE } from '../electron/core/library/thumbs.js';
import { Embedder, loadModel } from '../electron/core/ml/embedder.js';
import { countFlops } from '../electron/core/ml/flops.js';
import { toFloat16 } from '../electron/core/ml/float16.js';
import { createNormalizer, decodeRgb, elementsPerImage } from '../electron/core/ml/preprocess.js';
import { detectEnvironment, planProviders, sessionOptionsFor, type Provider, type SessionTuning } from '../electron/core/ml/providers.js';
import type { EncoderManifest } from '../training/manifest.js';
import { encodeModel } from '../training/onnx/proto.js';
import { rng, syntheticEncoder } from './fixtures/encoders.js';
import { DEFAULT_ENCODER_ID } from '../training/models.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const CACHE = path.join(root, 'bench', 'cache', 'embed');
const RESULTS = path.join(root, 'bench', 'results', 'embed.json');

interface Args {
  images: number;
  batch: number;
  /** Decodes in flight in the pipeline; undefined: the embedder's own default (see EmbedFilesOptions.concurrency). */
  concurrency: number | undefined;
  /** ORT intra-op threads; undefined: the embedder's own choice (see pickCpuThreads). */
  threads: number | undefined;
  rounds: number;
  gpuImages: number;
  providers: Provider[] | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { images: 500, batch: 1, concurrency: undefined, threads: undefined, rounds: 2, gpuImages: 8, providers: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const n = Number(value);
    switch (flag) {
      case '--images':
        a.images = n;
        break;
      case '--batch':
        a.batch = n;
        break;
      case '--concurrency':
        a.concurrency = n;
        break;
      case '--threads':
        a.threads = n;
        break;
      case '--rounds':
        a.rounds = n;
        break;
      case '--gpu-images':
        a.gpuImages = n;
        break;
      case '--providers':
        a.providers = value.split(',') as Provider[];
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  return a;
}

// ------------------------------------------------------------------------------------------------------------------
// Camera-like test images

const PHOTO = { width: 4000, height: 3000, quality: 90, noiseSigma: [4, 16], version: 4 };

/**
 * A 4000x3000 JPEG: smooth colour field, translucent shapes with sharp edges, and sensor-like grain whose strength
 * varies per photo (smooth skies to detailed scenes: ~1-3.5 MB files); every 4th is portrait via EXIF orientation 6.
 * Deterministic per seed; all pixel work runs in libvips.
 */
async function cameraLikeJpeg(seed: number): Promise<Buffer> {
  const { width: W, height: H } = PHOTO;
  const r = rng(seed);
  const u = (): number => (r() + 1) / 2;
  const gw = 4 + (seed % 6);
  const gh = 3 + (seed % 5);
  const grid = Buffer.from(Array.from({ length: gw * gh * 3 }, () => Math.floor(u() * 256)));
  const shapes = Array.from({ length: 6 + (seed % 10) }, () => {
    const [x, y, s] = [u() * W, u() * H, 100 + u() * 700];
    const fill = `rgb(${Math.floor(u() * 256)},${Math.floor(u() * 256)},${Math.floor(u() * 256)})`;
    return u() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${s}" fill="${fill}" fill-opacity="${0.4 + 0.6 * u()}"/>`
      : `<rect x="${x}" y="${y}" width="${s * 1.6}" height="${s}" fill="${fill}" transform="rotate(${u() * 40 - 20} ${x} ${y})"/>`;
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${shapes.join('')}</svg>`);
  // Grain: a 509x509 tile (prime, so it does not align with 8x8 JPEG blocks) of ~N(128, sigma) grey, overlaid.
  const [lo, hi] = PHOTO.noiseSigma;
  const sigma = lo + ((hi - lo) * (seed % 7)) / 6;
  const tile = 509;
  const grain = Buffer.from(Array.from({ length: tile * tile }, () => 128 + Math.round((r() + r() + r() + r()) * 0.866 * sigma)));
  const grainPng = await sharp(grain, { raw: { width: tile, height: tile, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  const pixels = await sharp(grid, { raw: { width: gw, height: gh, channels: 3 } })
    .resize(W, H, { kernel: 'cubic', fit: 'fill' })
    .composite([{ input: svg }, { input: grainPng, tile: true, blend: 'soft-light' }])
    .removeAlpha()
    .raw()
    .toBuffer();
  const img = sharp(pixels, { raw: { width: W, height: H, channels: 3 } });
  return (seed % 4 === 3 ? img.withMetadata({ orientation: 6 }) : img).jpeg({ quality: PHOTO.quality }).toBuffer();
}

/** Generate (once) and return `count` cached photos. */
async function ensurePhotos(count: number): Promise<string[]> {
  await mkdir(CACHE, { recursive: true });
  const stamp = path.join(CACHE, 'params.json');
  const params = JSON.stringify(PHOTO);
  const fresh = existsSync(stamp) && (await readFile(stamp, 'utf8')) === params;
  const files = Array.from({ length: count }, (_, i) => path.join(CACHE, `photo-${String(i).padStart(4, '0')}.jpg`));
  const missing = files.map((f, i) => ({ f, i })).filter(({ f }) => !fresh || !existsSync(f));
  if (missing.length > 0) {
    console.error(`generating ${missing.length} ${PHOTO.width}x${PHOTO.height} JPEGs into ${CACHE} (once)...`);
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) {
        const { f, i } = missing[next++];
        await writeFile(f, await cameraLikeJpeg(i + 1));
      }
    };
    await Promise.all(Array.from({ length: os.availableParallelism() }, worker));
    await writeFile(stamp, params);
    console.error(`generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return files;
}

// ------------------------------------------------------------------------------------------------------------------
// Measurements

/** ORT CPU MatMul throughput (GFLOP/s) for an n x n x n product with the given threads. */
async function matmulGflopsOf(threads: number, n = 1024): Promise<number> {
  const r = rng(5);
  const model = encodeModel({
    opsetVersion: 17,
    graph: {
      name: 'matmul',
      nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
      initializers: [{ name: 'b', dtype: 'float32', dims: [n, n], data: Float32Array.from({ length: n * n }, r) }],
      inputs: [{ name: 'a', dtype: 'float32', shape: [n, n] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [n, n] }],
    },
  });
  const session = await InferenceSession.create(model, sessionOptionsFor('cpu', { threads }));
  try {
    const a = new Tensor('float32', Float32Array.from({ length: n * n }, r), [n, n]);
    await session.run({ a });
    let best = Infinity;
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      await session.run({ a });
      best = Math.min(best, performance.now() - t0);
    }
    return (2 * n ** 3) / (best / 1000) / 1e9;
  } finally {
    await session.release();
  }
}

/** Decode + pre-process every photo (in parallel, `concurrency` at a time) into one tensor block. */
async function predecode(files: string[], manifest: EncoderManifest, concurrency: number): Promise<{ tensors: Float32Array; seconds: number }> {
  const per = elementsPerImage(manifest);
  const tensors = new Float32Array(files.length * per);
  const normalize = createNormalizer(manifest);
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      normalize((await decodeRgb(files[i], manifest)).data, tensors, i * per);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { tensors, seconds: (performance.now() - t0) / 1000 };
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** Throughput of one phase, and the CPU time (all of this process's threads) it burnt per image. */
interface Rate {
  imagesPerSec: number;
  cpuMsPerImage: number;
  /** CPU time / (wall time x cores): the share of the machine this process got (external load lowers it). */
  cpuShare: number;
}

async function measure(images: number, work: () => Promise<void>): Promise<Rate> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  return {
    imagesPerSec: round(images / wall),
    cpuMsPerImage: round((1000 * cpu) / images, 1),
    cpuShare: round(cpu / (wall * os.availableParallelism()), 2),
  };
}

/** Decode + pre-process only (results dropped), `concurrency` at a time. */
function decodeOnly(files: string[], manifest: EncoderManifest, concurrency: number): Promise<Rate> {
  const normalize = createNormalizer(manifest);
  const scratch = new Float32Array(elementsPerImage(manifest));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) normalize((await decodeRgb(files[next++], manifest)).data, scratch, 0);
  };
  return measure(files.length, async () => {
    await Promise.all(Array.from({ length: concurrency }, worker));
  });
}

/** Plain inference loop over pre-decoded tensors. */
function bareLoop(session: InferenceSession, manifest: EncoderManifest, tensors: Float32Array, count: number, batch: number): Promise<Rate> {
  const per = elementsPerImage(manifest);
  const { width, height, name } = manifest.input;
  const shape = (n: number): number[] => (manifest.input.layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width]);
  return measure(count, async () => {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      const out = await session.run({ [name]: new Tensor('float32', tensors.subarray(i * per, (i + n) * per), shape(n)) });
      out[manifest.output.name].dispose();
    }
  });
}

/** The full pipeline, keeping float16 vectors in memory. */
async function pipeline(emb: Embedder, files: string[], batch: number, concurrency: number | undefined): Promise<Rate> {
  const store = new Map<number, Uint16Array>();
  let errors = 0;
  const rate = await measure(files.length, async () => {
    for await (const r of emb.embedFiles(files, { batchSize: batch, concurrency })) {
      if ('vector' in r) store.set(r.index, toFloat16(r.vector));
      else errors++;
    }
  });
  if (errors > 0 || store.size !== files.length) throw new Error(`pipeline: ${errors} errors, ${store.size}/${files.length} vectors`);
  return rate;
}

/**
 * Shoebox's embed stage reads the 256 px thumbnails the scan already wrote (EXIF-rotated, JPEG), not the originals:
 * the original is decoded once, for the thumbnail. Make those thumbnails for the bench photos (once, cached).
 */
async function ensureThumbnails(files: string[]): Promise<string[]> {
  const dir = path.join(CACHE, 'thumbs');
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const f of files) {
    const t = path.join(dir, `${path.basename(f, path.extname(f))}.jpg`);
    if (!existsSync(t)) {
      await encodeThumbnail(sharp(f).rotate().resize(THUMB_SIZE, THUMB_SIZE, { fit: 'outside', withoutEnlargement: true, fastShrinkOnLoad: true })).toFile(t);
    }
    out.push(t);
  }
  return out;
}

interface ProviderResult {
  images: number;
  batch: number;
  bareImagesPerSec: number;
  pipelineImagesPerSec: number;
  /** The shipped embed stage: same pipeline over the scan's thumbnails. */
  thumbnailPipelineImagesPerSec?: number;
  ratio: number;
  ratioFromThumbnails?: number;
  rounds: Array<{ bare: Rate; pipeline: Rate; thumbnailPipeline?: Rate; decodeOnly?: Rate; matmulGflops?: number; loadAverage: number }>;
  placement?: Record<string, number>;
  fallbacks?: unknown;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // libvips' operation cache would serve repeated rounds over the same files from memory.
  sharp.cache(false);
  const tuning: SessionTuning = { threads: args.threads, spinning: false };
  const cores = os.availableParallelism();
  let cpuThreads: number = args.threads ?? cores;
  let cpuDecodeConcurrency: number | null = null;
  let threadTimings: unknown = null;

  let model: { manifest: EncoderManifest; bytes: Uint8Array };
  let modelNote: string;
  const manifestPath = process.env.SHOEBOX_ENCODER_MANIFEST ?? path.join(root, 'models', `${DEFAULT_ENCODER_ID}.json`);
  if (existsSync(manifestPath)) {
    model = await loadModel(manifestPath);
    modelNote = `real model ${path.relative(root, manifestPath)}`;
  } else {
    model = syntheticEncoder({ width: 224, height: 224, dim: 1792 });
    modelNote = `SYNTHETIC stand-in: ${manifestPath} is absent`;
  }
  const { manifest, bytes } = model;
  console.error(`model: ${manifest.id}@${manifest.version} (${modelNote})`);

  const files = await ensurePhotos(args.images);
  const loadStart = os.loadavg();
  const { height, width, layout, name } = manifest.input;
  const flops = await countFlops(bytes, { [name]: layout === 'NHWC' ? [1, height, width, 3] : [1, 3, height, width] });
  console.error(`model: ${round(flops.flops / 1e9, 3)} GFLOP/image`);

  console.error(`pre-decoding ${files.length} photos for the bare loop...`);
  const { tensors } = await predecode(files, manifest, args.concurrency ?? 2 * cores);
  const thumbs = await ensureThumbnails(files);

  // The machine may be shared: every CPU round re-measures everything, and the best of each is reported.
  const decodeSample = files.slice(0, Math.min(files.length, 140));
  const envInfo = detectEnvironment();
  const wanted = args.providers ?? [...new Set([...planProviders('auto', envInfo).candidates, ...planProviders('webgpu', envInfo).candidates])];
  const providers: Partial<Record<Provider, ProviderResult | { error: string }>> = {};
  for (const p of wanted) {
    let emb: Embedder;
    try {
      // As the embed stage opens it: the inputs (thumbnails, camera JPEGs) have no alpha channel.
      emb = await Embedder.fromModel(manifest, bytes, { device: p, tuning, decode: { opaque: true } });
      if (emb.provider !== p) {
        providers[p] = { error: `fell back to ${emb.provider}: ${JSON.stringify(emb.fallbacks)}` };
        await emb.release();
        continue;
      }
    } catch (e) {
      providers[p] = { error: e instanceof Error ? e.message : String(e) };
      continue;
    }
    try {
      const gpu = p !== 'cpu';
      if (!gpu) {
        cpuThreads = emb.cpuThreads ?? args.threads ?? cores;
        cpuDecodeConcurrency = emb.decodeConcurrency(args.batch);
        threadTimings = emb.threadTimings ?? null;
        console.error(`cpu: ${cpuThreads} intra-op thread(s); measured at open: ${JSON.stringify(threadTimings)}`);
      }
      const count = gpu ? Math.min(args.gpuImages, files.length) : files.length;
      const batch = gpu ? Math.max(args.batch, 4) : args.batch;
      const rounds: ProviderResult['rounds'] = [];
      for (let r = 0; r < (gpu ? 1 : args.rounds); r++) {
        const matmulGflops = gpu ? undefined : round(await matmulGflopsOf(cores), 1);
        const decode = gpu ? undefined : await decodeOnly(decodeSample, manifest, args.concurrency ?? 2 * cores);
        const bare = await bareLoop(emb.session, manifest, tensors, count, batch);
        const pipe = await pipeline(emb, files.slice(0, count), batch, args.concurrency);
        const thumbPipe = gpu ? undefined : await pipeline(emb, thumbs.slice(0, count), batch, args.concurrency);
        rounds.push({ bare, pipeline: pipe, ...(thumbPipe ? { thumbnailPipeline: thumbPipe } : {}), ...(decode ? { decodeOnly: decode, matmulGflops } : {}), loadAverage: round(os.loadavg()[0]) });
        const extra = (thumbPipe ? `; from thumbnails ${thumbPipe.imagesPerSec}` : '') + (decode ? `; decode-only ${decode.imagesPerSec} (${decode.cpuMsPerImage} CPU ms); MatMul ${matmulGflops} GFLOP/s` : '');
        console.error(
          `${p} round ${r + 1}: bare ${bare.imagesPerSec} images/s (${bare.cpuMsPerImage} CPU ms/image), ` +
            `pipeline ${pipe.imagesPerSec} (${pipe.cpuMsPerImage} CPU ms)${extra}; load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
      const bare = Math.max(...rounds.map((x) => x.bare.imagesPerSec));
      const pipe = Math.max(...rounds.map((x) => x.pipeline.imagesPerSec));
      const thumbRates = rounds.flatMap((x) => (x.thumbnailPipeline ? [x.thumbnailPipeline.imagesPerSec] : []));
      const thumbPipe = thumbRates.length ? Math.max(...thumbRates) : undefined;
      providers[p] = {
        images: count,
        batch,
        bareImagesPerSec: bare,
        pipelineImagesPerSec: pipe,
        ...(thumbPipe !== undefined ? { thumbnailPipelineImagesPerSec: thumbPipe, ratioFromThumbnails: round(thumbPipe / bare, 3) } : {}),
        ratio: round(pipe / bare, 3),
        rounds,
        placement: emb.placement,
        ...(emb.fallbacks.length ? { fallbacks: emb.fallbacks } : {}),
      };
    } finally {
      await emb.release();
    }
  }

  const cpu = providers.cpu && 'ratio' in providers.cpu ? providers.cpu : undefined;
  const cpuRounds = cpu?.rounds ?? [];
  const best = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
  const least = (xs: number[]): number | null => (xs.length ? Math.min(...xs) : null);
  const gflops = best(cpuRounds.flatMap((r) => r.matmulGflops ?? [])) ?? round(await matmulGflopsOf(cores), 1);
  const decodeRate = best(cpuRounds.flatMap((r) => r.decodeOnly?.imagesPerSec ?? []));
  // CPU cost per image, the least seen over the rounds (CPU time is far less sensitive to other load than wall time).
  const decodeCpu = least(cpuRounds.flatMap((r) => r.decodeOnly?.cpuMsPerImage ?? []));
  const inferCpu = least(cpuRounds.map((r) => r.bare.cpuMsPerImage));
  const pipelineCpu = least(cpuRounds.map((r) => r.pipeline.cpuMsPerImage));
  // When decoding and inference share the cores, the pipeline can at best reach bare x infer / (decode + infer).
  const ratioBound = decodeCpu !== null && inferCpu !== null ? round(inferCpu / (decodeCpu + inferCpu), 3) : null;
  const sharpVersions = sharp.versions as Record<string, string | undefined>;
  const result = {
    // The shipped embed stage reads the scan's thumbnails; see notes.
    ratio: cpu?.ratioFromThumbnails ?? cpu?.ratio ?? null,
    ratioFromOriginals: cpu?.ratio ?? null,
    ratioTarget: 0.85,
    ratioBound,
    // CPU the pipeline spends per image beyond decode + inference done separately (1.0 = no overhead).
    pipelineCpuOverhead: decodeCpu !== null && inferCpu !== null && pipelineCpu !== null ? round(pipelineCpu / (decodeCpu + inferCpu), 3) : null,
    cpuMsPerImage: { decode: decodeCpu, inference: inferCpu, pipeline: pipelineCpu },
    flopsPerImage: flops.flops,
    macsByOp: flops.byOp,
    ortMatMulGflops: gflops,
    modelGflopsAchievedBare: cpu ? round((cpu.bareImagesPerSec * flops.flops) / 1e9, 1) : null,
    decodeOnlyImagesPerSec: decodeRate,
    providers,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      platform: `${process.platform}-${process.arch}`,
      loadAverageStart: loadStart.map((x) => round(x)),
      loadAverageEnd: os.loadavg().map((x) => round(x)),
      hardwareGpu: envInfo.hardwareGpu,
    },
    versions: {
      node: process.versions.node,
      onnxruntime: ortEnv.versions.node ?? ortEnv.versions.common,
      sharp: sharpVersions.sharp,
      libvips: sharpVersions.vips,
    },
    inputs: {
      model: { id: manifest.id, version: manifest.version, sha256: manifest.sha256, note: modelNote },
      images: files.length,
      decodeOnlySample: decodeSample.length,
      photo: PHOTO,
      cache: path.relative(root, CACHE),
      batch: args.batch,
      concurrency: args.concurrency ?? `embedder default (${cpuDecodeConcurrency ?? '?'} on the CPU EP)`,
      ortThreads: cpuThreads,
      ortThreadsChosenBy: args.threads === undefined ? 'embedder (pickCpuThreads)' : '--threads',
      ortThreadTimings: threadTimings,
      ortSpinning: false,
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      sharpConcurrency: sharp.concurrency(),
      rounds: args.rounds,
    },
    notes: [
      'ratio = best images/s of the embed stage as Shoebox runs it (decode the scan\'s 256 px JPEG thumbnail + preprocess + ' +
        'infer + store) / best bare ORT images/s over pre-decoded tensors, CPU, same session and options. The original ' +
        'photo is decoded once, by the scan, whose cost bench:scan measures.',
      'ratioFromOriginals = the same pipeline decoding the original camera JPEGs instead (what a stand-alone embedder pays).',
      'ratioBound = inference CPU ms / (decode + inference CPU ms) per image: the best a pipeline can reach when ' +
        'decoding and inference share the same cores (from CPU time, which other load on the machine barely affects).',
      'pipelineCpuOverhead = pipeline CPU ms / (decode + inference CPU ms) per image.',
      'ortMatMulGflops is measured with all cores, whatever ortThreads the embedder chose.',
      'Every CPU round re-measures MatMul, decode-only (first decodeOnlySample photos), bare and pipeline; best of each. ' +
        'Wall-clock rates swing by tens of percent when other processes load the machine (see loadAverage); CPU ms do not.',
      envInfo.hardwareGpu ? 'a GPU device node exists' : 'no GPU device node: webgpu ran on a software Vulkan adapter (Mesa lavapipe)',
    ],
    date: new Date().toISOString(),
  };
  await mkdir(path.dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify({ ratio: result.ratio, providers: Object.fromEntries(Object.entries(providers).map(([k, v]) => [k, v && 'ratio' in v ? { bare: v.bareImagesPerSec, pipeline: v.pipelineImagesPerSec, fromThumbnails: v.thumbnailPipelineImagesPerSec, ratio: v.ratio } : v])) }));
  console.log(path.relative(process.cwd(), RESULTS) || RESULTS);
}

await main();
