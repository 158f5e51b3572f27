/**
 * The default encoder's last inverted-residual block, rebuilt from its weights as trainable graph ops, computes what
 * the encoder computes: from the activations entering the block, the same embedding.
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { bundledModelsDir } from '../../electron/core/paths.js';
import { Graph } from '../../training/graph/graph.js';
import { decodeModel, encodeModel } from '../../training/onnx/proto.js';
import { Rng } from '../../training/numeric/rng.js';
import {
  blockFeeds,
  blockModel,
  declareBlock,
  invertedResidual,
  readInvertedResidual,
  type BlockWeights,
  type ConvWeights,
} from '../../training/train/backbone.js';
import { BLOCK_PARTS, blockFeatures, type TrainStepModel } from '../../training/train/step.js';
import { Trainer } from '../../training/train/trainer.js';
import { encoderVersion, exportAdapterModel } from '../../training/train/export.js';
import { adapterDims, initMlp } from '../../training/train/model.js';
import type { EncoderManifest } from '../../training/manifest.js';
import { requireModel } from '../helpers/models.js';
import { runOnce, smallStep, stepInputs } from './helpers.js';

/** A small block: 4 channels in, 6 expanded, a 3x3 depthwise; only expand and depthwise matter to the step. */
function smallBlock(): BlockWeights {
  const rng = new Rng(6);
  const conv = (shape: [number, number, number, number], group: number, pads: [number, number, number, number]): ConvWeights => ({
    w: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.5),
    wShape: shape,
    b: Float32Array.from({ length: shape[0] }, () => rng.normal() * 0.1),
    pads,
    group,
  });
  const none: [number, number, number, number] = [0, 0, 0, 0];
  return {
    input: 'in',
    output: 'out',
    expand: conv([6, 4, 1, 1], 1, none),
    depthwise: conv([6, 1, 3, 3], 6, [1, 1, 1, 1]),
    seReduce: conv([2, 6, 1, 1], 1, none),
    seExpand: conv([6, 2, 1, 1], 1, none),
    project: conv([4, 6, 1, 1], 1, none),
    hardScale: 1 / 6,
  };
}

/** One run of `step` on its own initial state and `batch`; the outputs by name. */
async function runStep(step: TrainStepModel, batch: Record<string, OrtTensor>): Promise<Record<string, Float32Array>> {
  const session = await InferenceSession.create(encodeModel(step.model));
  try {
    const out = await session.run({ ...stepInputs(step, 1).state, ...batch });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

const BLOCK = 'MobilenetV3/expanded_conv_14';

describe('backbone block', () => {
  it("the last block of centernet_mnv3, as graph ops, gives the encoder's embedding from the block's input", async () => {
    requireModel('centernet_mnv3');
    const model = decodeModel(new Uint8Array(fs.readFileSync(path.join(bundledModelsDir(), 'centernet_mnv3.onnx'))));
    const weights = readInvertedResidual(model, BLOCK);
    assert.deepEqual(weights.expand.wShape, [720, 120, 1, 1]);
    assert.deepEqual(weights.depthwise.wShape, [720, 1, 5, 5]);
    assert.equal(weights.depthwise.group, 720);
    assert.deepEqual(weights.project.wShape, [120, 720, 1, 1]);
    // The encoder with the block's input as a second output.
    model.graph.outputs.push({ name: weights.input, dtype: 'float32', shape: null });
    const encoder = await InferenceSession.create(encodeModel(model));
    const rng = new Rng(8);
    const n = 2;
    const images = Float32Array.from({ length: n * 320 * 320 * 3 }, () => rng.int(256));
    const out = await encoder.run({ input: new OrtTensor('float32', images, [n, 320, 320, 3]) });
    await encoder.release();
    const entering = out[weights.input];
    assert.deepEqual(entering.dims, [n, 120, 10, 10]);
    const per = 120 * 10 * 10;
    const block = blockModel(weights, [120, 10, 10]);
    for (let i = 0; i < n; i++) {
      const x = (entering.data as Float32Array).slice(i * per, (i + 1) * per);
      const got = (await runOnce(block, { x: { data: x, dims: [1, 120, 10, 10] }, ...blockFeeds('block', weights) }))
        .embedding as Float32Array;
      const want = (out.embedding.data as Float32Array).subarray(i * 120, (i + 1) * 120);
      let d = 0;
      let norm = 0;
      for (let j = 0; j < 120; j++) {
        d = Math.max(d, Math.abs(got[j] - want[j]));
        norm = Math.max(norm, Math.abs(want[j]));
      }
      assert.ok(norm > 0.1, 'a non-trivial embedding');
      assert.ok(d < 1e-4 * norm, `image ${i}: differs by ${d} (max ${norm})`);
    }
  });

  it("a step that fine-tunes the block: the adapter's loss on the features the block makes; the block moves, its target follows", async () => {
    const weights = smallBlock();
    const step = smallStep('propos', { block: { weights, input: [4, 5, 5], lrScale: 0.5 } });
    const batch = stepInputs(step, 1).batches[0];
    const out = await runStep(step, batch);
    // The features the block makes of the same maps, fed with the same batch to the adapter-only step: the same loss.
    const g = new Graph('float32');
    const x = g.input('x', [...batch.x.dims]);
    const net = Object.fromEntries(
      BLOCK_PARTS.map((p) => [p, { w: g.constant(weights[p].w, weights[p].wShape), b: g.constant(weights[p].b, [weights[p].wShape[0]]) }]),
    ) as Parameters<typeof blockFeatures>[2];
    const features = (
      await runOnce(g.toModel({ f: blockFeatures(g, x, net, weights) }), {
        x: { data: batch.x.data as Float32Array, dims: batch.x.dims },
      })
    ).f as Float32Array;
    const plain = smallStep('propos', { inputDim: 10 });
    const viaFeatures = await runStep(plain, { ...batch, x: new OrtTensor('float32', features, [batch.x.dims[0], 10]) });
    assert.ok(
      Math.abs(out.loss[0] - viaFeatures.loss[0]) < 1e-5 * Math.max(1, Math.abs(out.loss[0])),
      `${out.loss[0]} vs ${viaFeatures.loss[0]}`,
    );
    // SGD moved the online block; the target moved towards it by (1 - momentum).
    for (const part of BLOCK_PARTS) {
      const before = weights[part].w;
      const online = out[`online.block.${part}.w.next`];
      const target = out[`target.block.${part}.w.next`];
      let moved = 0;
      let ema = 0;
      for (let i = 0; i < before.length; i++) {
        moved = Math.max(moved, Math.abs(online[i] - before[i]));
        ema = Math.max(ema, Math.abs(target[i] - (0.99 * before[i] + 0.01 * online[i])));
      }
      assert.ok(moved > 1e-6, `${part} did not train`);
      assert.ok(ema < 1e-6, `${part}: the target is not the EMA`);
    }
  });

  it('a Trainer fine-tunes the block with the adapter: the block moves, the same seed gives the same result, several steps per run too', async () => {
    const weights = smallBlock();
    const block = { weights, input: [4, 5, 5] as [number, number, number], lrScale: 0.5 };
    // Two kinds of photo, told apart by which channels are bright; two noisy views each.
    const rng = new Rng(11);
    const n = 64;
    const views = [0, 1].map(() => {
      const v = new Float32Array(n * 100);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < 100; j++) v[i * 100 + j] = (Math.floor(j / 25) % 2 === i % 2 ? 1 : 0) + 0.3 * rng.normal();
      return v;
    });
    const options = {
      steps: 6,
      batchSize: 16,
      maxCycleSteps: 3,
      seed: 3,
      clusters: 2,
      warmupCycles: 1,
      threads: 1,
      block,
      adapter: { hiddenDim: 16, embedDim: 8, predictorHiddenDim: 16 },
    };
    const a = await new Trainer({ views, dim: 100 }, options).run();
    assert.equal(a.params.config.inputDim, 10, 'the adapter reads 6 pooled depthwise channels and 4 pooled input channels');
    assert.equal(a.embeddings.length, n * 8);
    assert.ok(a.block, 'the trained block comes back');
    for (const part of BLOCK_PARTS) {
      const d = a.block[part].w.reduce((m, v, i) => Math.max(m, Math.abs(v - weights[part].w[i])), 0);
      assert.ok(d > 1e-6, `${part} moved`);
    }
    const b = await new Trainer({ views, dim: 100 }, options).run();
    assert.deepEqual(b.block, a.block);
    assert.deepEqual(b.embeddings, a.embeddings);
    const c = await new Trainer({ views, dim: 100 }, { ...options, stepsPerRun: 3 }).run();
    for (const part of BLOCK_PARTS) {
      const d = c.block![part].w.reduce((m, v, i) => Math.max(m, Math.abs(v - a.block![part].w[i])), 0);
      assert.ok(d < 1e-5, `${part}: ${d} apart with 3 steps per run`);
    }
    assert.throws(() => new Trainer({ views, dim: 100 }, { ...options, block: { ...block, input: [4, 5, 4] } }), /4x5x4 activations/);
  });

  for (const unitParts of [false, true]) {
    it(`export: the encoder with the trained block and the adapter, one model, equals the training graph on photos${unitParts ? ' (parts scaled to unit length)' : ''}`, async () => {
      requireModel('centernet_mnv3');
      const dir = bundledModelsDir();
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'centernet_mnv3.onnx')));
      const bundled = JSON.parse(fs.readFileSync(path.join(dir, 'centernet_mnv3.json'), 'utf8')) as EncoderManifest;
      const tf = bundled.trainFeatures!;
      const manifest: EncoderManifest = { ...bundled, trainFeatures: { ...tf, unitParts, partDims: [720, 120] } };
      const model = decodeModel(bytes);
      const weights = readInvertedResidual(model, BLOCK);
      const rng = new Rng(12);
      const nudge = (a: Float32Array): Float32Array => a.map((v) => v * (1 + 0.2 * rng.normal()));
      const trained = {
        expand: { w: nudge(weights.expand.w), b: nudge(weights.expand.b) },
        depthwise: { w: nudge(weights.depthwise.w), b: nudge(weights.depthwise.b) },
      };
      const config = { inputDim: 840, hiddenDim: 32, embedDim: 16, predictorHiddenDim: 32, bnEps: 1e-5 };
      const params = { config, weights: initMlp(adapterDims(config), rng) };
      const opts = { id: 'test', parentKey: 'centernet_mnv3@1', runId: 1, notes: '' };
      const merged = encoderVersion({ manifest, model: bytes }, params, { ...opts, block: { prefix: BLOCK, trained } }).merged;
      const frozen = encoderVersion({ manifest, model: bytes }, params, opts).merged;
      const n = 2;
      const images = new OrtTensor(
        'float32',
        Float32Array.from({ length: n * 320 * 320 * 3 }, () => rng.int(256)),
        [n, 320, 320, 3],
      );
      const embed = async (m: Uint8Array): Promise<Float32Array> => {
        const s = await InferenceSession.create(m);
        try {
          return (await s.run({ input: images })).embedding.data as Float32Array;
        } finally {
          await s.release();
        }
      };
      // The training graph's forward: the block's input from the encoder, the block's features, the adapter.
      model.graph.outputs.push({ name: weights.input, dtype: 'float32', shape: null });
      const enc = await InferenceSession.create(encodeModel(model));
      const entering = (await enc.run({ input: images }))[weights.input];
      await enc.release();
      const g = new Graph('float32');
      const x = g.input('x', [...entering.dims]);
      const net = {
        expand: { w: g.constant(trained.expand.w, weights.expand.wShape), b: g.constant(trained.expand.b, [720]) },
        depthwise: { w: g.constant(trained.depthwise.w, weights.depthwise.wShape), b: g.constant(trained.depthwise.b, [720]) },
      };
      const features = (
        await runOnce(g.toModel({ f: blockFeatures(g, x, net, weights, unitParts) }), {
          x: { data: entering.data as Float32Array, dims: entering.dims },
        })
      ).f as Float32Array;
      const want = (await runOnce(exportAdapterModel(params), { features: { data: features, dims: [n, 840] } })).embedding as Float32Array;
      const got = await embed(merged);
      const d = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
      assert.ok(d < 1e-4, `the merged encoder differs from the training graph by ${d}`);
      const before = await embed(frozen);
      assert.ok(
        before.some((v, i) => Math.abs(v - got[i]) > 1e-3),
        'the trained block changes the embedding',
      );
    });
  }

  it('gradients reach every weight of the block', () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(path.join(bundledModelsDir(), 'centernet_mnv3.onnx'))));
    const weights = readInvertedResidual(model, BLOCK);
    const g = new Graph('float32');
    const t = declareBlock(g, 'b', weights);
    const { y } = invertedResidual(g, g.input('x', [2, 120, 10, 10]), t, weights);
    const params = Object.values(t).flatMap((p) => [p.w, p.b]);
    const grads = g.grad(g.reduceMean(y), params);
    grads.forEach((d, i) => assert.deepEqual(d.shape, params[i].shape));
    assert.ok(
      grads.every((d) => d.kind === 'op'),
      'none is the zero a parameter the loss does not reach gets',
    );
    assert.throws(() => readInvertedResidual(model, 'MobilenetV3/expanded_conv_99'), /no convolution/);
  });
});
