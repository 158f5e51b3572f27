import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Embedder, ModelIntegrityError, decodeSlots, loadModel, pickCpuThreads, type EmbedResult } from '../../../../electron/core/ml/embedder.js';
import { preprocessImage } from '../../../../electron/core/ml/preprocess.js';
import type { EncoderManifest } from '../../../../training/manifest.js';
import { photoLikeJpeg, syntheticEncoder } from '../../../../bench/fixtures/encoders.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function collect(it: AsyncIterable<EmbedResult>): Promise<Map<number, EmbedResult>> {
  const m = new Map<number, EmbedResult>();
  for await (const r of it) {
    assert.ok(!m.has(r.index), `duplicate index ${r.index}`);
    m.set(r.index, r);
  }
  return m;
}

function vectorOf(r: EmbedResult | undefined): Float32Array {
  assert.ok(r && 'vector' in r, `expected a vector, got ${JSON.stringify(r)}`);
  return r.vector;
}

async function writeModel(dir: string, manifest: EncoderManifest, bytes: Uint8Array): Promise<string> {
  await writeFile(path.join(dir, manifest.file), bytes);
  const p = path.join(dir, `${manifest.id}.json`);
  await writeFile(p, JSON.stringify(manifest));
  return p;
}

void describe('Embedder', () => {
  let dir: string;
  let photos: string[];
  const synthetic = syntheticEncoder({ width: 32, height: 24, dim: 24 });

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-embed-'));
    photos = [];
    for (let i = 0; i < 7; i++) {
      const p = path.join(dir, `photo${i}.jpg`);
      await writeFile(p, await photoLikeJpeg(200 + 16 * i, 150 + 8 * i, i + 1));
      photos.push(p);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  void it('opens a model from its manifest and rejects a sha256 mismatch', async () => {
    const sub = await mkdtemp(path.join(dir, 'model-'));
    const manifestPath = await writeModel(sub, synthetic.manifest, synthetic.bytes);
    const loaded = await loadModel(manifestPath);
    assert.equal(loaded.manifest.sha256, synthetic.manifest.sha256);

    const tampered = Uint8Array.from(synthetic.bytes);
    tampered[tampered.length - 1] ^= 1;
    await writeFile(path.join(sub, synthetic.manifest.file), tampered);
    await assert.rejects(Embedder.open(manifestPath, { device: 'cpu' }), (e: unknown) => e instanceof ModelIntegrityError && /sha256/.test(e.message));
    await assert.rejects(Embedder.fromModel(synthetic.manifest, tampered), ModelIntegrityError);
  });

  void it('sizes the decodes in flight from the CPU threads it measured or was given', async () => {
    const cores = os.availableParallelism();
    const fixed = await Embedder.fromModel(synthetic.manifest, synthetic.bytes, { device: 'cpu', tuning: { threads: 1 } });
    try {
      assert.equal(fixed.cpuThreads, 1);
      assert.equal(fixed.decodeConcurrency(1), decodeSlots(cores, 1, 1));
      assert.equal(fixed.decodeConcurrency(8), Math.max(2 * cores, 8));
    } finally {
      await fixed.release();
    }
    const auto = await Embedder.fromModel(synthetic.manifest, synthetic.bytes, { device: 'cpu' });
    try {
      if (cores > 1) {
        assert.equal(auto.threadTimings?.length, 2);
        assert.ok(auto.cpuThreads === 1 || auto.cpuThreads === cores, `threads ${auto.cpuThreads}`);
      }
      assert.equal(auto.decodeConcurrency(1), decodeSlots(cores, auto.cpuThreads, 1));
    } finally {
      await auto.release();
    }
  });

  void it('embedFiles matches embedTensors on the same pre-processing, for any batch size', async () => {
    const emb = await Embedder.fromModel(synthetic.manifest, synthetic.bytes, { device: 'cpu' });
    try {
      assert.equal(emb.provider, 'cpu');
      const tensors = new Float32Array(photos.length * emb.imageSize);
      for (let i = 0; i < photos.length; i++) tensors.set(await preprocessImage(photos[i], synthetic.manifest), i * emb.imageSize);
      const reference = await emb.embedTensors(tensors);
      assert.equal(reference.length, photos.length * synthetic.manifest.output.dim);
      const dim = synthetic.manifest.output.dim;

      for (const [batchSize, concurrency] of [[1, 1], [3, 2], [16, 8]]) {
        const progress: number[] = [];
        const got = await collect(emb.embedFiles(photos, { batchSize, concurrency, onProgress: (p) => progress.push(p.done) }));
        assert.equal(got.size, photos.length);
        for (let i = 0; i < photos.length; i++) {
          assert.ok(maxAbsDiff(vectorOf(got.get(i)), reference.subarray(i * dim, (i + 1) * dim)) < 1e-4, `photo ${i}, batch ${batchSize}`);
        }
        assert.deepEqual(progress, photos.map((_, i) => i + 1));
      }
      // Different photos give different embeddings (the test would be vacuous otherwise).
      assert.ok(maxAbsDiff(reference.subarray(0, dim), reference.subarray(dim, 2 * dim)) > 1e-3);
    } finally {
      await emb.release();
    }
  });

  void it('stops on abort, with the abort reason', async () => {
    const emb = await Embedder.fromModel(synthetic.manifest, synthetic.bytes, { device: 'cpu' });
    try {
      const ac = new AbortController();
      const many = Array.from({ length: 40 }, (_, i) => photos[i % photos.length]);
      let seen = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of emb.embedFiles(many, { batchSize: 2, concurrency: 2, signal: ac.signal })) {
            if (++seen === 3) ac.abort(new Error('user cancelled'));
          }
        })(),
        /user cancelled/,
      );
      assert.ok(seen < many.length, `saw ${seen} results after abort`);
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(emb.embedFiles(photos, { signal: pre.signal }).next(), { name: 'AbortError' });
    } finally {
      await emb.release();
    }
  });

  void it('handles NCHW models and fixed batch sizes (padding the last batch)', async () => {
    const fixed = syntheticEncoder({ width: 32, height: 24, layout: 'NCHW', batch: 4, seed: 11 });
    const emb = await Embedder.fromModel(fixed.manifest, fixed.bytes, { device: 'cpu' });
    try {
      assert.equal(emb.fixedBatch, 4);
      const got = await collect(emb.embedFiles(photos, { batchSize: 16 }));
      assert.equal(got.size, photos.length);
      const single = await emb.embedTensors(await preprocessImage(photos[6], fixed.manifest));
      assert.ok(maxAbsDiff(vectorOf(got.get(6)), single) < 1e-4);
    } finally {
      await emb.release();
    }
  });

  void it('refuses work after release', async () => {
    const emb = await Embedder.fromModel(synthetic.manifest, synthetic.bytes, { device: 'cpu' });
    await emb.release();
    await emb.release();
    await assert.rejects(emb.embedTensors(new Float32Array(emb.imageSize)), /released/);
  });
});

void describe('pickCpuThreads', () => {
  void it('keeps one thread when a second one barely helps, so decoding gets the other core', () => {
    // Measured shape of MobileNetV3 at 320 px on 2 cores: one thread 8.8 ms; two threads 11.1 ms wall, 17.2 CPU ms.
    const t = pickCpuThreads(
      [
        { threads: 2, wallMs: 11.1, cpuMs: 17.2 },
        { threads: 1, wallMs: 8.8, cpuMs: 8.8 },
      ],
      2,
    );
    assert.equal(t.threads, 1);
  });

  void it('takes all cores when they cut the wall time enough to pay for the decoding they displace', () => {
    // A model that scales: 8 cores take it from 40 ms to 6 ms per image.
    const t = pickCpuThreads(
      [
        { threads: 8, wallMs: 6, cpuMs: 44 },
        { threads: 1, wallMs: 40, cpuMs: 40 },
      ],
      8,
    );
    assert.equal(t.threads, 8);
  });

  void it('counts the decoding that shares the cores: a costly decoder tips the balance to one thread', () => {
    const timings = [
      { threads: 2, wallMs: 6.3, cpuMs: 9.9 },
      { threads: 1, wallMs: 6.8, cpuMs: 6.8 },
    ];
    assert.equal(pickCpuThreads(timings, 2, 1).threads, 2);
    assert.equal(pickCpuThreads(timings, 2, 6).threads, 1);
  });
});

void describe('decodeSlots', () => {
  void it('CPU EP, one image per run: the cores inference leaves free plus one; never none', () => {
    assert.equal(decodeSlots(2, 1, 1), 2);
    assert.equal(decodeSlots(8, 1, 1), 8);
    assert.equal(decodeSlots(2, 2, 1), 2);
    assert.equal(decodeSlots(16, 16, 1), 2);
  });

  void it('GPU providers and batches prefetch a whole batch on all cores', () => {
    assert.equal(decodeSlots(2, null, 1), 4);
    assert.equal(decodeSlots(2, null, 16), 16);
    assert.equal(decodeSlots(4, 1, 2), 8);
  });
});
