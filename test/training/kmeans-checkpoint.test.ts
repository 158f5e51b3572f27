/** Spherical k-means, the RNG's state round trip, and the checkpoint file format. */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { jsAssigner, sphericalKMeans } from '../../training/train/kmeans.js';
import { assignmentModel, ortAssigner } from '../../training/train/assign.js';
import { encodeModel } from '../../training/onnx/proto.js';
import { trainingSessionOptions } from '../../training/train/session.js';
import { Rng } from '../../training/numeric/rng.js';
import { decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint } from '../../training/train/checkpoint.js';

/** n unit vectors around k random directions in d dims; returns points and true cluster ids. */
function directions(n: number, k: number, d: number, seed: number, spread = 0.15): { x: Float32Array; truth: Int32Array } {
  const rng = new Rng(seed);
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.normal()));
  const x = new Float32Array(n * d);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    truth[i] = c;
    let s = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = centers[c][j] / Math.sqrt(d) + (spread * rng.normal()) / Math.sqrt(d);
      s += x[i * d + j] ** 2;
    }
    for (let j = 0; j < d; j++) x[i * d + j] /= Math.sqrt(s);
  }
  return { x, truth };
}

/** Fraction of pairs on which two labelings agree about "same cluster" (Rand index). */
function randIndex(a: Int32Array, b: Int32Array): number {
  let agree = 0;
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      agree += (a[i] === a[j]) === (b[i] === b[j]) ? 1 : 0;
      total++;
    }
  }
  return agree / total;
}

describe('sphericalKMeans', () => {
  it('recovers well separated directions, deterministically', async () => {
    const { x, truth } = directions(300, 4, 16, 1);
    const r = await sphericalKMeans(x, 300, 16, { k: 4, seed: 2 });
    assert.ok(randIndex(r.labels, truth) > 0.99);
    assert.equal(new Set(r.labels).size, 4);
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(Math.hypot(...r.centroids.subarray(c * 16, (c + 1) * 16)) - 1) < 1e-5);
    assert.deepEqual((await sphericalKMeans(x, 300, 16, { k: 4, seed: 2 })).labels, r.labels);
    // A warm start from the solution converges immediately to the same labels.
    const warm = await sphericalKMeans(x, 300, 16, { k: 4, seed: 7, init: r.centroids });
    assert.deepEqual(warm.labels, r.labels);
    assert.ok(warm.iterations <= 1);
  });

  it('keeps fixed points in their clusters and those centroids at their mean', async () => {
    const { x, truth } = directions(200, 3, 8, 3);
    // Pin two points of different true clusters into clusters 0 and 1, and one point of cluster A into cluster 1.
    const a = truth.indexOf(0);
    const b = truth.indexOf(1);
    const odd = truth.indexOf(0, a + 1);
    const fixed = new Int32Array(200).fill(-1);
    fixed[a] = 0;
    fixed[b] = 1;
    fixed[odd] = 1;
    const r = await sphericalKMeans(x, 200, 8, { k: 4, seed: 1, fixed });
    assert.equal(r.labels[a], 0);
    assert.equal(r.labels[b], 1);
    assert.equal(r.labels[odd], 1);
    const mean = Array.from({ length: 8 }, (_, j) => x[b * 8 + j] + x[odd * 8 + j]);
    const norm = Math.hypot(...mean);
    for (let j = 0; j < 8; j++) assert.ok(Math.abs(r.centroids[8 + j] - mean[j] / norm) < 1e-6);
  });

  it('never leaves a cluster empty when k <= n', async () => {
    const { x } = directions(20, 2, 4, 4, 0.01);
    const r = await sphericalKMeans(x, 20, 4, { k: 6, seed: 1 });
    assert.equal(new Set(r.labels).size, 6);
  });

  it('runs its assignment step on ONNX Runtime with the same result as in JS', async () => {
    const { x } = directions(500, 5, 16, 6, 0.5);
    const session = await InferenceSession.create(encodeModel(assignmentModel(16)), trainingSessionOptions(['cpu']));
    try {
      // More clusters than directions: Lloyd iterations move points between them, so the assigner runs repeatedly.
      const viaOrt = await sphericalKMeans(x, 500, 16, { k: 9, seed: 3 }, ortAssigner(session, x, 500, 16, 128));
      const viaJs = await sphericalKMeans(x, 500, 16, { k: 9, seed: 3 }, jsAssigner(x, 500, 16));
      assert.deepEqual(viaOrt.labels, viaJs.labels);
      assert.ok(viaOrt.iterations > 1, `iterations ${viaOrt.iterations}`);
    } finally {
      await session.release();
    }
  });
});

describe('Rng', () => {
  it('resumes exactly from a saved state', () => {
    const a = new Rng([1, 2]);
    a.next();
    const saved = Rng.fromState(a.state());
    const xs = [a.nextU32(), a.next(), a.normal(), a.int(10)];
    assert.deepEqual([saved.nextU32(), saved.next(), saved.normal(), saved.int(10)], xs);
    assert.notDeepEqual(new Rng(1).state(), new Rng(2).state());
  });

  it('produces standard normal samples', () => {
    const v = new Float64Array(20000);
    new Rng(5).fillNormal(v);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `${mean} ${variance}`);
  });
});

describe('checkpoint files', () => {
  const tensors = {
    w: Float32Array.of(1.5, -2, Math.PI),
    d: Float64Array.of(1e-300, 2),
    perm: Int32Array.of(3, 1, 2, 0, -1),
    bytes: Uint8Array.of(1, 2, 3),
  };

  it('round-trips metadata and typed arrays bit-exactly', () => {
    const c = decodeCheckpoint<{ epoch: number; rng: number[] }>(encodeCheckpoint({ meta: { epoch: 3, rng: [1, 2, 3, 4] }, tensors }));
    assert.deepEqual(c.meta, { epoch: 3, rng: [1, 2, 3, 4] });
    assert.deepEqual(c.tensors, tensors);
  });

  it('rejects damaged files', () => {
    const bytes = encodeCheckpoint({ meta: {}, tensors });
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 2] ^= 0xff;
    assert.throws(() => decodeCheckpoint(flipped), /corrupt/);
    assert.throws(() => decodeCheckpoint(bytes.subarray(0, 10)), /truncated|not a Shoebox/);
    assert.throws(() => decodeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint')), /not a Shoebox/);
  });

  it('writes atomically and reads back; a missing file is undefined', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-ckpt-'));
    try {
      const file = path.join(dir, 'sub', 'train.ckpt');
      assert.equal(await readCheckpoint(file), undefined);
      await writeCheckpoint(file, { meta: { v: 1 }, tensors });
      await writeCheckpoint(file, { meta: { v: 2 }, tensors });
      assert.deepEqual(await readdir(path.dirname(file)), ['train.ckpt']);
      const c = await readCheckpoint<{ v: number }>(file);
      assert.equal(c?.meta.v, 2);
      assert.deepEqual(c?.tensors.perm, tensors.perm);
      // A torn write of the old content is detected rather than resumed.
      const bytes = await readFile(file);
      await writeFile(file, bytes.subarray(0, bytes.length - 4));
      await assert.rejects(readCheckpoint(file), /corrupt/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
