/**
 * Training features (training/train/features.ts) of the bundled default encoder: the pooled squeeze-excite input and
 * block input of its last block, from which the block's own layers reproduce the embedding exactly.
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';

import { bundledModelsDir } from '../../electron/core/paths.js';
import { decodeModel, encodeModel, type ModelIR } from '../../training/onnx/proto.js';
import { pruneModel } from '../../training/onnx/prune.js';
import { adapterInput, storedFeatures, TRAIN_FEATURES, trainFeaturesModel } from '../../training/train/features.js';
import { encoderVersion, exportAdapterModel } from '../../training/train/export.js';
import { adapterDims, initMlp } from '../../training/train/model.js';
import { Rng } from '../../training/numeric/rng.js';
import { DEFAULT_ENCODER_ID, loadEncoder } from '../../training/models.js';
import { makeImages } from './convert/helpers.js';
import { requireModel } from '../helpers/models.js';

const dir = bundledModelsDir();
const BLOCK = 'MobilenetV3/expanded_conv_14';

async function run(model: ModelIR, x: Float32Array, shape: number[]): Promise<Record<string, Float32Array>> {
  const s = await InferenceSession.create(encodeModel(model));
  try {
    const out = await s.run({ input: new Tensor('float32', x, shape) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

/** A 1x1 convolution y = W x + b from the graph's initializers (W [O, I, 1, 1]). */
function conv1x1(model: ModelIR, name: string): (x: Float64Array) => Float64Array {
  const w = model.graph.initializers.find((t) => t.name === `${name}/W`)!;
  const b = model.graph.initializers.find((t) => t.name === `${name}/B`)!.data as Float32Array;
  const [o, i] = w.dims.map(Number);
  const wd = w.data as Float32Array;
  return (x) => Float64Array.from({ length: o }, (_, r) => x.reduce((s, v, c) => s + v * wd[r * i + c], b[r]));
}

void describe('training features', () => {
  before(() => requireModel());
  void it('hold everything the embedding is computed from: the last block maps them to it exactly', async () => {
    const { manifest, modelPath } = await loadEncoder(path.join(dir, `${DEFAULT_ENCODER_ID}.json`));
    const tf = manifest.trainFeatures;
    assert.ok(tf);
    const source = decodeModel(new Uint8Array(fs.readFileSync(modelPath)));
    const model = trainFeaturesModel(source, storedFeatures(tf));
    const n = 2;
    const shape = [n, manifest.input.height, manifest.input.width, 3];
    const x = makeImages(n, shape[1], shape[2], 255, 11);
    const out = await run(model, x, shape);
    const plain = await run(source, x, shape);
    const e = manifest.output.dim;
    assert.equal(out[TRAIN_FEATURES].length, n * tf.dim);
    assert.deepEqual(out[manifest.output.name], plain[manifest.output.name], 'the original output is unchanged');

    // embedding = project(gate(pool d) * pool d) + pool r, with the block's squeeze-excite and projection weights.
    const reduce = conv1x1(source, `${BLOCK}/squeeze_excite/Conv/Relu`);
    const expand = conv1x1(source, `${BLOCK}/squeeze_excite/Conv_1/BiasAdd`);
    const project = conv1x1(source, `${BLOCK}/project/BatchNorm/FusedBatchNorm`);
    const p = tf.dim - e;
    for (let b = 0; b < n; b++) {
      const f = out[TRAIN_FEATURES].subarray(b * tf.dim, (b + 1) * tf.dim);
      const d = Float64Array.from(f.subarray(0, p));
      const h = reduce(d).map((v) => Math.max(0, v));
      // The graph's hard sigmoid: Add 3, Relu6, Mul by 1/6 as stored in float16.
      const gate = expand(h).map((v) => Math.min(6, Math.max(0, v + 3)) * 0.1666259765625);
      const y = project(d.map((v, i) => v * gate[i])).map((v, k) => v + f[p + k]);
      const want = plain[manifest.output.name].subarray(b * e, (b + 1) * e);
      const scale = Math.max(...want.map(Math.abs));
      const err = Math.max(...y.map((v, k) => Math.abs(v - want[k])));
      assert.ok(err < 1e-4 * scale, `image ${b}: max |difference| ${err} for values up to ${scale}`);
    }
  });

  void it('refuses tensors the graph does not compute, and names already in use', async () => {
    const { modelPath } = await loadEncoder(path.join(dir, `${DEFAULT_ENCODER_ID}.json`));
    const source = decodeModel(new Uint8Array(fs.readFileSync(modelPath)));
    assert.throws(() => trainFeaturesModel(source, { pooled: ['no/such/tensor'], dim: 1 }), /computes no tensor no\/such\/tensor/);
    const once = trainFeaturesModel(source, { pooled: [`${BLOCK}/add`], dim: 120 });
    assert.throws(() => trainFeaturesModel(once, { pooled: [`${BLOCK}/add`], dim: 120 }), /already uses the name/);
  });

  void it('with unitParts, each pooled tensor is scaled to unit length: the plain features, part by part', async () => {
    const { manifest, modelPath } = await loadEncoder(path.join(dir, `${DEFAULT_ENCODER_ID}.json`));
    const source = decodeModel(new Uint8Array(fs.readFileSync(modelPath)));
    const tf = manifest.trainFeatures!;
    const shape = [2, manifest.input.height, manifest.input.width, 3];
    const x = makeImages(2, shape[1], shape[2], 255, 3);
    const plain = (await run(trainFeaturesModel(source, storedFeatures(tf)), x, shape))[TRAIN_FEATURES];
    const unit = (await run(trainFeaturesModel(source, { ...tf, unitParts: true }), x, shape))[TRAIN_FEATURES];
    const sizes = [tf.dim - manifest.output.dim, manifest.output.dim];
    for (let b = 0; b < 2; b++) {
      let at = b * tf.dim;
      for (const size of sizes) {
        const p = plain.subarray(at, at + size);
        const norm = Math.hypot(...p);
        assert.ok(norm > 1e-3, 'a part that is not zero');
        const err = Math.max(...unit.subarray(at, at + size).map((v, i) => Math.abs(v - p[i] / norm)));
        assert.ok(err < 1e-6, `photo ${b}, part of ${size}: max |difference| ${err}`);
        at += size;
      }
    }
    // The library stores plain features and scales them where they are read: the same numbers.
    // (With the manifest's own part sizes where it names them: wrong ones would scale the wrong slices here.)
    const spec = { ...tf, unitParts: true, partDims: tf.partDims ?? sizes };
    assert.deepEqual(storedFeatures(spec), { pooled: tf.pooled, dim: tf.dim, partDims: spec.partDims });
    const scaled = adapterInput(spec, plain.slice());
    const err = Math.max(...scaled.map((v, i) => Math.abs(v - unit[i])));
    assert.ok(err < 1e-6, `scaled where read: max |difference| ${err}`);
    assert.throws(() => adapterInput({ pooled: tf.pooled, dim: tf.dim, unitParts: true }, plain.slice()), /needs partDims/);
    assert.equal(adapterInput(storedFeatures(tf), plain), plain, 'plain features pass as they are');
  });

  void it("with unitParts, a version's adapter reads the stored plain features and equals its merged encoder", async () => {
    const { manifest, modelPath } = await loadEncoder(path.join(dir, `${DEFAULT_ENCODER_ID}.json`));
    const bytes = new Uint8Array(fs.readFileSync(modelPath));
    const tf = manifest.trainFeatures!;
    const spec = { ...tf, unitParts: true, partDims: [tf.dim - manifest.output.dim, manifest.output.dim] };
    const rng = new Rng(4);
    const config = { inputDim: tf.dim, hiddenDim: 32, embedDim: 16, predictorHiddenDim: 32, bnEps: 1e-5 };
    const params = { config, weights: initMlp(adapterDims(config), rng) };
    const version = encoderVersion({ manifest: { ...manifest, trainFeatures: spec }, model: bytes }, params, {
      id: 't',
      parentKey: 'centernet_mnv3@1',
      runId: 1,
      notes: '',
    });
    const shape = [2, manifest.input.height, manifest.input.width, 3];
    const x = makeImages(2, shape[1], shape[2], 255, 8);
    const stored = (await run(trainFeaturesModel(decodeModel(bytes), storedFeatures(spec)), x, shape))[TRAIN_FEATURES];
    const s = await InferenceSession.create(version.adapter);
    const viaAdapter = (await s.run({ features: new Tensor('float32', stored, [2, tf.dim]) })).embedding.data as Float32Array;
    await s.release();
    const merged = (await run(decodeModel(version.merged), x, shape)).embedding;
    const err = Math.max(...merged.map((v, i) => Math.abs(v - viaAdapter[i])));
    assert.ok(err < 1e-5, `adapter on stored features vs merged encoder: max |difference| ${err}`);
    // Without the scaling the adapter reads different numbers: the check above can fail.
    const plainAdapter = await InferenceSession.create(encodeModel(exportAdapterModel(params)));
    const unscaled = (await plainAdapter.run({ features: new Tensor('float32', stored, [2, tf.dim]) })).embedding.data as Float32Array;
    await plainAdapter.release();
    assert.ok(Math.max(...merged.map((v, i) => Math.abs(v - unscaled[i]))) > 1e-3);
  });

  void it('pruneModel keeps only what the outputs need, with the same results', async () => {
    const { manifest, modelPath } = await loadEncoder(path.join(dir, `${DEFAULT_ENCODER_ID}.json`));
    const source = decodeModel(new Uint8Array(fs.readFileSync(modelPath)));
    const full = trainFeaturesModel(source, manifest.trainFeatures!);
    const onlyFeatures: ModelIR = {
      ...full,
      graph: { ...full.graph, outputs: full.graph.outputs.filter((o) => o.name === TRAIN_FEATURES) },
    };
    const pruned = pruneModel(onlyFeatures);
    // The projection (and the embedding's pooling) feed only the dropped output.
    const names = new Set(pruned.graph.initializers.map((t) => t.name));
    assert.ok(!names.has(`${BLOCK}/project/BatchNorm/FusedBatchNorm/W`));
    assert.ok(names.has(`${BLOCK}/depthwise/depthwise/W`));
    assert.ok(pruned.graph.nodes.length < onlyFeatures.graph.nodes.length);
    assert.ok(!pruned.graph.nodes.some((nd) => nd.outputs.includes(manifest.output.name)));
    const shape = [1, manifest.input.height, manifest.input.width, 3];
    const x = makeImages(1, shape[1], shape[2], 255, 5);
    assert.deepEqual((await run(pruned, x, shape))[TRAIN_FEATURES], (await run(onlyFeatures, x, shape))[TRAIN_FEATURES]);
  });
});
