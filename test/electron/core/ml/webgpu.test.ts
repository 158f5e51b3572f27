/**
 * WebGPU EP checks. They run wherever a WebGPU adapter exists (on a GPU-less Linux box: Mesa lavapipe, installed by
 * `.ci/vulkan.sh`) and skip with the reason otherwise; SHOEBOX_REQUIRE_WEBGPU=1 turns a missing adapter into a failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { Embedder, loadModel } from '../../../../electron/core/ml/embedder.js';
import { createSessionWithFallback } from '../../../../electron/core/ml/providers.js';
import { encodeModel } from '../../../../training/onnx/proto.js';
import { DEFAULT_ENCODER_ID } from '../../../../training/models.js';
import { bundledManifest, photoLikeJpeg, syntheticEncoder } from '../../../../bench/fixtures/encoders.js';

/** null if a WebGPU session can be created here, else why not. */
async function webgpuUnavailableReason(): Promise<string | null> {
  try {
    const s = await InferenceSession.create(syntheticEncoder().bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
    await s.release();
    return null;
  } catch (e) {
    const why = `no WebGPU adapter (run .ci/vulkan.sh for Mesa lavapipe): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    if (process.env.SHOEBOX_REQUIRE_WEBGPU === '1') throw new Error(why, { cause: e });
    return why;
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

async function vectors(emb: Embedder, files: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  // Batch 1 reuses the shaders the batch-1 probe run compiled (each new shape compiles again on WebGPU).
  for await (const r of emb.embedFiles(files, { batchSize: 1 })) {
    assert.ok('vector' in r, JSON.stringify(r));
    out[r.index] = r.vector;
  }
  return out;
}

void describe('WebGPU', () => {
  let why: string | null;
  let dir: string;
  let photos: string[];

  before(async () => {
    why = await webgpuUnavailableReason();
    dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-webgpu-'));
    photos = [];
    for (let i = 0; i < 3; i++) {
      photos.push(path.join(dir, `p${i}.jpg`));
      await writeFile(photos[i], await photoLikeJpeg(300, 240, 40 + i));
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // The synthetic encoder and both bundled encoders (the default first).
  for (const which of ['synthetic', ...new Set([DEFAULT_ENCODER_ID, 'centernet_mnv3', 'mobilenet_v2_mid'])]) {
    void it(`CPU and WebGPU embeddings agree (cosine >= 0.999 per image): ${which} model`, async (t) => {
      if (why) return t.skip(why);
      const real = which === 'synthetic' ? null : bundledManifest(which);
      if (which !== 'synthetic' && !real) assert.fail(`models/${which}.onnx is absent: npm run build:models writes it`);
      const model = real ? await loadModel(real) : syntheticEncoder({ width: 64, height: 48, dim: 32 });
      // A real model takes ~1.5 s per image on lavapipe: two photos are enough.
      const files = real ? photos.slice(0, 2) : photos;
      const cpu = await Embedder.fromModel(model.manifest, model.bytes, { device: 'cpu' });
      const gpu = await Embedder.fromModel(model.manifest, model.bytes, { device: 'webgpu' });
      try {
        assert.equal(gpu.provider, 'webgpu', `fell back: ${JSON.stringify(gpu.fallbacks)}`);
        assert.ok((gpu.placement?.WebGpuExecutionProvider ?? 0) > 0, JSON.stringify(gpu.placement));
        t.diagnostic(`${model.manifest.id}: placement ${JSON.stringify(gpu.placement)}`);
        const [a, b] = [await vectors(cpu, files), await vectors(gpu, files)];
        for (let i = 0; i < files.length; i++) {
          const c = cosine(a[i], b[i]);
          assert.ok(c >= 0.999, `image ${i}: cosine ${c}`);
        }
        // Different photos must give clearly different vectors, or the comparison above proves nothing.
        assert.ok(cosine(a[0], a[1]) < 0.9999, `photos 0 and 1 embed alike: ${cosine(a[0], a[1])}`);
      } finally {
        await cpu.release();
        await gpu.release();
      }
    });
  }

  void it('a session that runs every node on the CPU EP is a failure, not a WebGPU session', async (t) => {
    if (why) return t.skip(why);
    // Det has no WebGPU kernel: ORT silently places it on the CPU EP.
    const model = encodeModel({
      opsetVersion: 17,
      graph: {
        name: 'det',
        nodes: [{ opType: 'Det', inputs: ['x'], outputs: ['y'] }],
        initializers: [],
        inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3, 3] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: ['N'] }],
      },
    });
    const got = await createSessionWithFallback(model, 'webgpu');
    try {
      assert.equal(got.provider, 'cpu');
      assert.equal(got.fallbacks[0].provider, 'webgpu');
      assert.match(got.fallbacks[0].error, /no compute node was placed on WebGpuExecutionProvider/);
    } finally {
      await got.release();
    }
  });
});
