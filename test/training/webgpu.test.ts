/**
 * The same train steps on the CPU and WebGPU execution providers agree within float32 tolerance. Skips (with the
 * reason) where no WebGPU session can be created; SHOEBOX_REQUIRE_WEBGPU=1 (CI, Mesa lavapipe) makes that a failure.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeModel } from '../../training/onnx/proto.js';
import { buildTrainStep, type Method, type TrainStepModel } from '../../training/train/step.js';
import { adapterDims, initMlp, predictorDims } from '../../training/train/model.js';
import { trainingSessionOptions } from '../../training/train/session.js';
import { Rng } from '../../training/numeric/rng.js';

const B = 32;
const K = 4;

function stepModel(method: Method): TrainStepModel {
  return buildTrainStep({
    method,
    adapter: { inputDim: 96, hiddenDim: 64, embedDim: 32, predictorHiddenDim: 64, bnEps: 1e-5 },
    batchSize: B,
    clusters: K,
    temperature: method === 'moco' ? 0.2 : 0.5,
    negatives: 'target',
    queueSize: 64,
    optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
    predictorLrScale: 10,
    bnMomentum: 0.1,
    dtype: 'float32',
  });
}

/** Initial state and per-step batches, identical for both providers. */
function inputs(step: TrainStepModel, steps: number): { state: Record<string, OrtTensor>; batches: Record<string, OrtTensor>[] } {
  const rng = new Rng(3);
  const a = step.config.adapter;
  const nets = {
    online: initMlp(adapterDims(a), rng),
    predictor: initMlp(predictorDims(a), rng, 'small'),
    target: initMlp(adapterDims(a), rng),
  };
  const state: Record<string, OrtTensor> = {};
  for (const s of step.state) {
    const data = s.role === 'optimizer' ? new Float32Array(s.shape.reduce((x, y) => x * y, 1)) : Float32Array.from(nets[s.role][s.part!]);
    state[s.name] = new OrtTensor('float32', data, s.shape);
  }
  const batches = Array.from({ length: steps }, (_, t) => {
    const feeds: Record<string, OrtTensor> = {};
    const x = new Float32Array(2 * B * a.inputDim);
    rng.fillNormal(x);
    feeds.x = new OrtTensor('float32', x, [2 * B, a.inputDim]);
    for (const b of step.batch) {
      const data = new Float32Array(b.shape.reduce((x2, y) => x2 * y, 1));
      if (b.name === 'labels') for (let r = 0; r < 2 * B; r++) data[r * K + ((r % B) % K)] = 1;
      else if (b.name === 'mask') data.fill(1);
      else rng.fillNormal(data);
      feeds[b.name] = new OrtTensor('float32', data, b.shape);
    }
    const hyper: Record<string, number> = { lr: 0.5, ema_momentum: 0.99, step: t + 1, lambda: 0.1, sigma: 0.001 };
    for (const h of step.hyper) feeds[h] = new OrtTensor('float32', Float32Array.of(hyper[h]), []);
    return feeds;
  });
  return { state, batches };
}

async function runSteps(
  session: InferenceSession,
  step: TrainStepModel,
  steps: number,
): Promise<{ scalars: number[][]; params: Float32Array }> {
  const { state, batches } = inputs(step, steps);
  const scalars: number[][] = [];
  let current = state;
  for (const batch of batches) {
    const out = await session.run({ ...current, ...batch });
    scalars.push(step.scalars.map((k) => (out[k].data as Float32Array)[0]));
    current = Object.fromEntries(step.state.map((s) => [s.name, out[s.output] as OrtTensor]));
  }
  return { scalars, params: current['online.w1'].data as Float32Array };
}

async function webgpuSession(bytes: Uint8Array): Promise<InferenceSession | string> {
  try {
    return await InferenceSession.create(bytes, trainingSessionOptions(['webgpu']));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

describe('CPU / WebGPU parity', () => {
  for (const method of ['propos', 'moco'] as const) {
    it(`${method}: three train steps give the same losses and parameters`, async (t) => {
      const step = stepModel(method);
      const bytes = encodeModel(step.model);
      const gpu = await webgpuSession(bytes);
      if (typeof gpu === 'string') {
        const why = `webgpu cannot create a session here: ${gpu.split('\n')[0]}`;
        if (process.env.SHOEBOX_REQUIRE_WEBGPU === '1') throw new Error(why);
        t.skip(why);
        return;
      }
      const cpu = await InferenceSession.create(bytes, trainingSessionOptions(['cpu']));
      try {
        const a = await runSteps(cpu, step, 3);
        const b = await runSteps(gpu, step, 3);
        a.scalars.forEach((row, s) =>
          row.forEach((v, i) => {
            const w = b.scalars[s][i];
            assert.ok(Math.abs(v - w) <= 2e-3 * Math.max(1, Math.abs(v)), `step ${s} ${step.scalars[i]}: cpu ${v} webgpu ${w}`);
          }),
        );
        let maxDiff = 0;
        for (let i = 0; i < a.params.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.params[i] - b.params[i]));
        assert.ok(maxDiff < 1e-3, `online.w1 differs by ${maxDiff}`);
      } finally {
        await cpu.release();
        await gpu.release();
      }
    });
  }
});
