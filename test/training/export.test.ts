/** Inference exports: folded adapter model and backbone + adapter merge. */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelIR } from '../../training/onnx/proto.js';
import { Graph } from '../../training/graph/graph.js';
import { exportAdapterModel, mergeEncoder } from '../../training/train/export.js';
import {
  adapterDims,
  declareMlp,
  initMlp,
  MLP_PARTS,
  mlpTrain,
  type AdapterConfig,
  type AdapterParams,
} from '../../training/train/model.js';
import { Rng } from '../../training/numeric/rng.js';
import { maxAbsDiff, runOnce, type Feeds } from './helpers.js';

const config: AdapterConfig = { inputDim: 6, hiddenDim: 5, embedDim: 3, predictorHiddenDim: 4, bnEps: 1e-5 };

function randomParams(seed: number): AdapterParams {
  const rng = new Rng(seed);
  const weights = initMlp(adapterDims(config), rng);
  for (let j = 0; j < config.hiddenDim; j++) {
    weights['bn.gamma'][j] = 0.5 + rng.next();
    weights['bn.beta'][j] = rng.normal();
    weights['bn.mean'][j] = rng.normal();
    weights['bn.var'][j] = 0.2 + rng.next();
  }
  return { config, weights };
}

/** Eval-mode adapter in plain JS, BatchNorm unfolded. */
function reference(p: AdapterParams, x: Float32Array, n: number): Float64Array {
  const { inputDim: d, hiddenDim: h, embedDim: e, bnEps } = p.config;
  const w = p.weights;
  const out = new Float64Array(n * e);
  for (let i = 0; i < n; i++) {
    const a = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k] * w.w1[k * h + j];
      const bn = ((s - w['bn.mean'][j]) / Math.sqrt(w['bn.var'][j] + bnEps)) * w['bn.gamma'][j] + w['bn.beta'][j];
      a[j] = Math.max(0, bn);
    }
    let norm = 0;
    for (let m = 0; m < e; m++) {
      let s = w.b2[m];
      for (let j = 0; j < h; j++) s += a[j] * w.w2[j * e + m];
      out[i * e + m] = s;
      norm += s * s;
    }
    for (let m = 0; m < e; m++) out[i * e + m] /= Math.sqrt(norm);
  }
  return out;
}

function features(n: number, seed: number): Float32Array {
  const x = new Float32Array(n * config.inputDim);
  new Rng(seed).fillNormal(x);
  return x;
}

describe('exportAdapterModel', () => {
  it('matches the eval-mode adapter for any batch size', async () => {
    const p = randomParams(1);
    const model = exportAdapterModel(p);
    assert.deepEqual(model.graph.inputs[0].shape, ['N', 6]);
    for (const n of [1, 7]) {
      const x = features(n, n);
      const out = await runOnce(model, { features: { data: x, dims: [n, 6] } });
      assert.ok(maxAbsDiff(out.embedding, reference(p, x, n)) < 1e-5);
    }
  });

  it('equals the training-mode forward when the running statistics are the batch statistics', async () => {
    const n = 8;
    const p = randomParams(2);
    const x = features(n, 3);
    // Training-mode forward (views = 1) also returns the batch statistics.
    const g = new Graph('float32');
    const t = declareMlp(g, 'net', adapterDims(config), false);
    const f = mlpTrain(g, g.input('x', [n, 6]), t, 1, config.bnEps);
    const feeds: Feeds = { x: { data: x, dims: [n, 6] } };
    for (const part of MLP_PARTS) feeds[`net.${part}`] = { data: p.weights[part], dims: t[part].shape };
    const train = await runOnce(g.toModel({ y: f.y, mean: f.mean, variance: f.variance }), feeds);
    p.weights['bn.mean'].set(train.mean as Float32Array);
    // Running variance is unbiased; training normalizes with the biased one.
    p.weights['bn.var'].set(Array.from(train.variance as Float32Array, (v) => (v * (n - 1)) / n));
    const out = await runOnce(exportAdapterModel(p), { features: { data: x, dims: [n, 6] } });
    const y = train.y as Float32Array;
    const expected = Array.from(y, (v, i) => {
      const row = Math.floor(i / 3);
      return v / Math.hypot(y[row * 3], y[row * 3 + 1], y[row * 3 + 2]);
    });
    assert.ok(maxAbsDiff(out.embedding, expected) < 1e-5);
  });
});

/** A toy backbone: images [N, 2, 3] -> flatten -> MatMul [6, 6] -> Relu -> "pooled" [N, 6, 1, 1], plus a second output. */
function toyBackbone(opset: number, extraNodeName?: string): ModelIR {
  const w = features(6, 9);
  return {
    opsetVersion: opset,
    irVersion: 8,
    graph: {
      name: 'backbone',
      nodes: [
        { opType: 'Flatten', inputs: ['image'], outputs: ['flat'], name: extraNodeName ?? 'flatten', attributes: { axis: { i: 1 } } },
        { opType: 'MatMul', inputs: ['flat', 'w'], outputs: ['mm'], name: 'mm' },
        { opType: 'Relu', inputs: ['mm'], outputs: ['feat'], name: 'relu' },
        { opType: 'Reshape', inputs: ['feat', 'shape'], outputs: ['pooled'], name: 'reshape' },
        { opType: 'Neg', inputs: ['feat'], outputs: ['logits'], name: 'other' },
      ],
      initializers: [
        { name: 'w', dtype: 'float32', dims: [6, 6], data: w },
        { name: 'shape', dtype: 'int64', dims: [4], data: BigInt64Array.of(-1n, 6n, 1n, 1n) },
      ],
      inputs: [{ name: 'image', dtype: 'float32', shape: ['batch', 2, 3] }],
      outputs: [
        { name: 'pooled', dtype: 'float32', shape: ['batch', 6, 1, 1] },
        { name: 'logits', dtype: 'float32', shape: ['batch', 6] },
      ],
    },
  };
}

describe('mergeEncoder', () => {
  for (const opset of [13, 17, 18]) {
    it(`backbone (opset ${opset}) + adapter = adapter(backbone(x)) in one model`, async () => {
      const p = randomParams(4);
      const backbone = toyBackbone(opset);
      const merged = mergeEncoder(backbone, p, 'pooled');
      assert.equal(merged.opsetVersion, opset);
      assert.deepEqual(
        merged.graph.outputs.map((o) => o.name),
        ['embedding'],
      );
      assert.deepEqual(merged.graph.outputs[0].shape, ['batch', 3]);
      const image = features(5, 10);
      const direct = await runOnce(merged, { image: { data: image, dims: [5, 2, 3] } });
      const pooled = (await runOnce(backbone, { image: { data: image, dims: [5, 2, 3] } })).pooled as Float32Array;
      assert.ok(maxAbsDiff(direct.embedding, reference(p, pooled, 5)) < 1e-5);
    });
  }

  it('avoids name clashes and validates the cut point', () => {
    const p = randomParams(5);
    const merged = mergeEncoder(toyBackbone(18, 'adapter/flatten'), p, 'pooled');
    assert.ok(merged.graph.nodes.some((n) => n.name === 'adapter2/fc1'));
    assert.throws(() => mergeEncoder(toyBackbone(18), p, 'missing'), /no tensor named missing/);
    assert.throws(() => mergeEncoder(toyBackbone(18), { ...p, config: { ...config, inputDim: 7 } }, 'pooled'), /6 features/);
  });
});
