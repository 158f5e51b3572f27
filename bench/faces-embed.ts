/**
 * bench:faces-embed — which face embedder separates people best, measured on aligned face crops.
 *
 *   node dist/bench/faces-embed.js [--dataset ../shared/datasets/faces-12] [--models mobilefacenet,faceres]
 *        [--out /tmp/faces-models] [--threads N] [--sizes 224,160,112]
 *
 * For each candidate of training/convert/faces.ts: convert it to ONNX (written with its manifest under --out, never
 * into the repository), embed every crop of the dataset (MANIFEST.tsv: path<TAB>person; resized to the model's
 * input with sharp), L2-normalise, and score, for each pixel normalisation the spec lists, without and with
 * horizontal-flip test-time augmentation (mean of the crop's and the mirrored crop's embeddings):
 *   - leave-one-out kNN-1 / kNN-5 accuracy (cosine);
 *   - clustering with automatic K: agglomerative average linkage on cosine distance, cut at a distance threshold;
 *     per threshold of a sweep: clusters found, ACC (Hungarian), NMI, ARI, pairwise precision and recall;
 *   - time per face (decode + resize, and ONNX inference on the CPU at batch 1 and batch 32).
 * With --sizes, each candidate is also converted and measured at those input sizes (`<id>@<size>`): a face in a
 * 1024 px photo is rarely larger than 112 px, so a smaller input may lose nothing and cost less.
 * Writes bench/results/faces-embed.json and prints its path last.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import { evaluateClustering, knnAccuracy } from '../electron/core/cluster/index.js';
import { pairwiseScores } from '../electron/core/cluster/metrics.js';
import {
  FACE_EMBEDDERS,
  convertFaceEmbedder,
  normalizeFace,
  type FaceEmbedderSpec,
  type FacePreprocess,
} from '../training/convert/faces.js';
import { argValue, REPO, writeResult } from './common.js';

const dataset = path.resolve(argValue('--dataset', path.join(REPO, '..', 'shared', 'datasets', 'faces-12')));
const outDir = path.resolve(argValue('--out', '/tmp/faces-models'));
const only = argValue('--models', '');
const threads = Number(argValue('--threads', '0'));
const sizes = argValue('--sizes', '')
  .split(',')
  .filter(Boolean)
  .map(Number);
/** Cosine-distance thresholds of the sweep: 0.20 to 0.95 in steps of 0.01. */
const THRESHOLDS = Array.from({ length: 76 }, (_, i) => Math.round((0.2 + 0.01 * i) * 1000) / 1000);
/** The targets for automatic-K clustering. */
const TARGET = { acc: 0.9, pairwisePrecision: 0.95 };
const BATCH = 32;

interface Item {
  file: string;
  label: number;
}

function readManifest(): { items: Item[]; people: string[] } {
  const rows = fs
    .readFileSync(path.join(dataset, 'MANIFEST.tsv'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string]);
  const people = [...new Set(rows.map((r) => r[1]))].sort();
  return { items: rows.map(([rel, label]) => ({ file: path.join(dataset, rel), label: people.indexOf(label) })), people };
}

/** Decode a crop to size x size 8-bit RGB (stretched: the crops are already square and aligned). */
async function decode(file: string, size: number): Promise<Uint8Array> {
  const { data } = await sharp(file)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function l2normalize(v: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += v[i * dim + k] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < dim; k++) v[i * dim + k] *= inv;
  }
}

/**
 * Average-linkage agglomerative clustering of unit rows on cosine distance by the nearest-neighbour-chain
 * algorithm (O(n^2) time and memory). Returns the merges, each joining the clusters holding points a and b at
 * distance h; average linkage is reducible, so sorting merges by h gives the dendrogram.
 */
function averageLinkage(x: Float32Array, n: number, dim: number): { a: number; b: number; h: number }[] {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += x[i * dim + k] * x[j * dim + k];
      d[i * n + j] = d[j * n + i] = 1 - s;
    }
  }
  const size = new Float64Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const merges: { a: number; b: number; h: number }[] = [];
  const chain: number[] = [];
  for (let left = n; left > 1;) {
    if (chain.length === 0) chain.push(active.indexOf(1));
    const a = chain[chain.length - 1];
    const prev = chain.length > 1 ? chain[chain.length - 2] : -1;
    // Nearest active cluster to a; the previous chain element wins ties so the chain always terminates.
    let b = prev;
    let best = prev >= 0 ? d[a * n + prev] : Infinity;
    for (let j = 0; j < n; j++) {
      if (j === a || !active[j]) continue;
      if (d[a * n + j] < best) {
        best = d[a * n + j];
        b = j;
      }
    }
    if (b !== prev) {
      chain.push(b);
      continue;
    }
    // a and b are reciprocal nearest neighbours: merge b into a (Lance-Williams update for average linkage).
    chain.length -= 2;
    merges.push({ a, b, h: best });
    const sa = size[a];
    const sb = size[b];
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === a || k === b) continue;
      const v = (sa * d[a * n + k] + sb * d[b * n + k]) / (sa + sb);
      d[a * n + k] = d[k * n + a] = v;
    }
    size[a] = sa + sb;
    active[b] = 0;
    left--;
  }
  return merges.sort((p, q) => p.h - q.h);
}

/** Flat clusters from the sorted merges: every merge at distance <= threshold is applied. */
function cut(merges: { a: number; b: number; h: number }[], n: number, threshold: number): Int32Array {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const m of merges) {
    if (m.h > threshold) break;
    parent[find(m.a)] = find(m.b);
  }
  const ids = new Map<number, number>();
  return Int32Array.from({ length: n }, (_, i) => {
    const r = find(i);
    if (!ids.has(r)) ids.set(r, ids.size);
    return ids.get(r)!;
  });
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

interface SweepRow {
  threshold: number;
  clusters: number;
  /** Clusters with at least 3 faces (what a person would see as a group). */
  clustersMin3: number;
  acc: number;
  nmi: number;
  ari: number;
  pairwisePrecision: number;
  pairwiseRecall: number;
}

/** Subtract the mean embedding of the set and re-normalise (what the photo pipeline's centerRows does for albums). */
function centered(emb: Float32Array, n: number, dim: number): Float32Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += emb[i * dim + k] / n;
  const out = Float32Array.from(emb, (v, j) => v - mean[j % dim]);
  l2normalize(out, n, dim);
  return out;
}

function score(emb: Float32Array, n: number, dim: number, labels: Int32Array) {
  const knn1 = knnAccuracy(emb, n, dim, labels, 1);
  const knn5 = knnAccuracy(emb, n, dim, labels, 5);
  const merges = averageLinkage(emb, n, dim);
  const sweep: SweepRow[] = THRESHOLDS.map((threshold) => {
    const pred = cut(merges, n, threshold);
    const sizes = new Map<number, number>();
    for (const p of pred) sizes.set(p, (sizes.get(p) ?? 0) + 1);
    const s = evaluateClustering(labels, pred);
    const pw = pairwiseScores(labels, pred);
    return {
      threshold,
      clusters: sizes.size,
      clustersMin3: [...sizes.values()].filter((c) => c >= 3).length,
      acc: r3(s.acc),
      nmi: r3(s.nmi),
      ari: r3(s.ari),
      pairwisePrecision: r3(pw.precision),
      pairwiseRecall: r3(pw.recall),
    };
  });
  const bestAcc = sweep.reduce((b, r) => (r.acc > b.acc ? r : b));
  const precise = sweep.filter((r) => r.pairwisePrecision >= TARGET.pairwisePrecision);
  const bestPrecise = precise.length ? precise.reduce((b, r) => (r.acc > b.acc ? r : b)) : null;
  const meetsTargets = sweep.filter((r) => r.acc >= TARGET.acc && r.pairwisePrecision >= TARGET.pairwisePrecision).map((r) => r.threshold);
  return { knn1: r3(knn1), knn5: r3(knn5), bestAcc, bestWithPrecision: bestPrecise, thresholdsMeetingTargets: meetsTargets, sweep };
}

async function embedAll(
  session: InferenceSession,
  crops: Uint8Array[],
  size: number,
  pre: FacePreprocess,
  dim: number,
  flip: boolean,
): Promise<Float32Array> {
  const n = crops.length;
  const per = size * size * 3;
  const emb = new Float32Array(n * dim);
  for (let i = 0; i < n; i += BATCH) {
    const m = Math.min(BATCH, n - i);
    for (const mirrored of flip ? [false, true] : [false]) {
      const x = new Float32Array(m * per);
      for (let j = 0; j < m; j++) normalizeFace(crops[i + j], size, pre, x, j * per, mirrored);
      const out = await session.run({ input: new Tensor('float32', x, [m, size, size, 3]) });
      const y = out.embedding.data as Float32Array;
      // Each view is unit-normalised before averaging, so both count equally.
      const view = Float32Array.from(y);
      l2normalize(view, m, dim);
      for (let k = 0; k < m * dim; k++) emb[i * dim + k] += view[k];
    }
  }
  l2normalize(emb, n, dim);
  return emb;
}

/**
 * Inference ms per face at a batch size: after a warm-up run, `rounds` rounds over `count` crops; the best round
 * counts, because the machine may be shared.
 */
async function inferenceMs(
  session: InferenceSession,
  crops: Uint8Array[],
  size: number,
  pre: FacePreprocess,
  batch: number,
  count: number,
  rounds = 3,
): Promise<number> {
  const per = size * size * 3;
  const x = new Float32Array(batch * per);
  for (let j = 0; j < batch; j++) normalizeFace(crops[j % crops.length], size, pre, x, j * per);
  const input = new Tensor('float32', x, [batch, size, size, 3]);
  await session.run({ input });
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < count; i += batch) await session.run({ input });
    best = Math.min(best, (performance.now() - t) / (Math.ceil(count / batch) * batch));
  }
  return best;
}

async function benchModel(spec: FaceEmbedderSpec, items: Item[], labels: Int32Array) {
  const t0 = performance.now();
  const { manifest, onnx } = await convertFaceEmbedder(spec);
  const convertMs = performance.now() - t0;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, manifest.file), onnx);
  fs.writeFileSync(path.join(outDir, `${spec.id}.json`), `${JSON.stringify(manifest, null, 2)}\n`);

  const size = spec.inputSize;
  const t1 = performance.now();
  const crops = await Promise.all(items.map((it) => decode(it.file, size)));
  const decodeMs = (performance.now() - t1) / items.length;

  const session = await InferenceSession.create(onnx, {
    executionProviders: ['cpu'],
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  });
  const dim = manifest.output.dim;
  const variants: Record<string, FacePreprocess> = { upstream: spec.preprocess, ...(spec.altPreprocess ?? {}) };
  const results: Record<string, unknown> = {};
  try {
    for (const [name, pre] of Object.entries(variants)) {
      for (const flip of [false, true]) {
        const emb = await embedAll(session, crops, size, pre, dim, flip);
        const s = score(emb, items.length, dim, labels);
        const c = score(centered(emb, items.length, dim), items.length, dim, labels);
        const key = `${name}${flip ? '+flip' : ''}`;
        results[key] = { preprocess: pre, flip, ...s, centered: c };
        const b = s.bestAcc;
        const p = s.bestWithPrecision;
        console.log(
          `${spec.id.padEnd(14)} ${key.padEnd(14)} kNN-1 ${s.knn1.toFixed(3)} kNN-5 ${s.knn5.toFixed(3)} | best ACC t=${b.threshold} k=${b.clusters} ACC ${b.acc} NMI ${b.nmi} ARI ${b.ari} P ${b.pairwisePrecision} R ${b.pairwiseRecall}` +
            (p
              ? ` | P>=0.95: t=${p.threshold} k=${p.clusters} ACC ${p.acc} P ${p.pairwisePrecision} R ${p.pairwiseRecall}`
              : ' | P>=0.95: none'),
        );
        const cb = c.bestWithPrecision;
        console.log(
          `${''.padEnd(14)} ${'  centered'.padEnd(14)} kNN-1 ${c.knn1.toFixed(3)} kNN-5 ${c.knn5.toFixed(3)} | P>=0.95: ` +
            (cb ? `t=${cb.threshold} k=${cb.clusters} ACC ${cb.acc} P ${cb.pairwisePrecision} R ${cb.pairwiseRecall}` : 'none'),
        );
      }
    }
    const batch1Ms = await inferenceMs(session, crops, size, spec.preprocess, 1, 64);
    const batch32Ms = await inferenceMs(session, crops, size, spec.preprocess, BATCH, 128);
    return {
      manifest,
      onnxBytes: onnx.length,
      convertMs: Math.round(convertMs),
      timePerFaceMs: {
        decodeResize: r3(decodeMs),
        inferenceBatch1: r3(batch1Ms),
        inferenceBatch32: r3(batch32Ms),
        flipDoublesInference: true,
      },
      results,
    };
  } finally {
    await session.release();
  }
}

async function main(): Promise<void> {
  const { items, people } = readManifest();
  const labels = Int32Array.from(items, (it) => it.label);
  const specs = FACE_EMBEDDERS.filter((s) => !only || only.split(',').includes(s.id)).flatMap((s) =>
    sizes.length ? sizes.map((size) => ({ ...s, id: size === s.inputSize ? s.id : `${s.id}@${size}`, inputSize: size })) : [s],
  );
  const models: Record<string, unknown> = {};
  const failed: Record<string, string> = {};
  for (const spec of specs) {
    try {
      models[spec.id] = await benchModel(spec, items, labels);
    } catch (e) {
      failed[spec.id] = e instanceof Error ? e.message : String(e);
      console.error(`${spec.id}: ${failed[spec.id]}`);
    }
  }
  writeResult('faces-embed', {
    inputs: {
      dataset: path.relative(REPO, dataset),
      faces: items.length,
      people: people.length,
      perPerson: Math.round(items.length / people.length),
      resize: 'sharp cubic, fill (crops are square, aligned 112 px)',
      clustering: 'agglomerative, average linkage, cosine distance on L2-normalised embeddings, cut at threshold',
      thresholds: THRESHOLDS,
      target: TARGET,
      knn: 'leave-one-out, cosine, majority vote (electron/core/cluster knnAccuracy)',
      timing:
        'onnxruntime-node CPU provider, ms per face, best of 3 rounds (64 faces at batch 1, 128 at batch 32); decodeResize: sharp, all crops in parallel',
      centered: 'each result also has `centered`: the same scores after subtracting the mean embedding of the set and re-normalising',
      threads: threads || 'ORT default',
    },
    models,
    ...(Object.keys(failed).length ? { failed } : {}),
  });
}

await main();
