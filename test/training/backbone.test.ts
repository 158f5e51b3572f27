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
import { blockFeeds, blockModel, declareBlock, invertedResidual, readInvertedResidual } from '../../training/train/backbone.js';
import { requireModel } from '../helpers/models.js';
import { runOnce } from './helpers.js';

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
