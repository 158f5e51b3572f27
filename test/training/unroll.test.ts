/**
 * K train steps in one run equal K runs of the single step: the same losses per step and the same state after, on
 * the CPU and (where a session can be created; CI requires it) on WebGPU.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeModel } from '../../training/onnx/proto.js';
import { trainingSessionOptions } from '../../training/train/session.js';
import type { TrainStepModel } from '../../training/train/step.js';
import { perStepInputs, unrollTrainStep } from '../../training/train/unroll.js';
import { Trainer } from '../../training/train/trainer.js';
import { MLP_PARTS } from '../../training/train/model.js';
import { smallStep, stepInputs } from './helpers.js';
import { TINY_ADAPTER, twoBlobs } from './synthetic.js';

const STEPS = 3;

/** Single steps one after another: the losses of each and the final state. */
async function single(
  session: InferenceSession,
  step: TrainStepModel,
): Promise<{ scalars: number[][]; state: Record<string, Float32Array> }> {
  const { state, batches } = stepInputs(step, STEPS);
  let current = state;
  const scalars: number[][] = [];
  for (const batch of batches) {
    const out = await session.run({ ...current, ...batch });
    scalars.push(step.scalars.map((k) => (out[k].data as Float32Array)[0]));
    current = Object.fromEntries(step.state.map((s) => [s.name, out[s.output] as OrtTensor]));
  }
  return { scalars, state: Object.fromEntries(Object.entries(current).map(([k, v]) => [k, v.data as Float32Array])) };
}

/** The same steps in one run of the unrolled model, its per-step inputs stacked. */
async function unrolled(
  session: InferenceSession,
  step: TrainStepModel,
): Promise<{ scalars: number[][]; state: Record<string, Float32Array> }> {
  const { state, batches } = stepInputs(step, STEPS);
  const feeds: Record<string, OrtTensor> = { ...state };
  for (const name of perStepInputs(step)) {
    const parts = batches.map((b) => b[name]);
    const per = parts[0].data.length;
    const data = new Float32Array(per * STEPS);
    parts.forEach((p, i) => data.set(p.data as Float32Array, i * per));
    feeds[name] = new OrtTensor('float32', data, [STEPS, ...parts[0].dims]);
  }
  const out = await session.run(feeds);
  const scalars = Array.from({ length: STEPS }, (_, i) => step.scalars.map((k) => (out[k].data as Float32Array)[i]));
  return { scalars, state: Object.fromEntries(step.state.map((s) => [s.name, out[s.output].data as Float32Array])) };
}

function assertSame(a: Awaited<ReturnType<typeof single>>, b: Awaited<ReturnType<typeof single>>, tol: number, what: string): void {
  a.scalars.forEach((row, s) =>
    row.forEach((v, i) =>
      assert.ok(
        Math.abs(v - b.scalars[s][i]) <= tol * Math.max(1, Math.abs(v)),
        `${what}: step ${s} scalar ${i}: ${v} vs ${b.scalars[s][i]}`,
      ),
    ),
  );
  for (const [name, v] of Object.entries(a.state)) {
    let d = 0;
    for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i] - b.state[name][i]));
    assert.ok(d <= tol, `${what}: ${name} differs by ${d}`);
  }
}

async function session(bytes: Uint8Array, provider: 'cpu' | 'webgpu'): Promise<InferenceSession | string> {
  try {
    return await InferenceSession.create(bytes, trainingSessionOptions([provider]));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

describe('several train steps per run', () => {
  for (const method of ['propos', 'byol'] as const) {
    it(`${method}: ${STEPS} steps in one run equal ${STEPS} runs of one step (CPU)`, async () => {
      const step = smallStep(method);
      const k = unrollTrainStep(step, STEPS);
      assert.equal(k.steps, STEPS);
      const one = (await session(encodeModel(step.model), 'cpu')) as InferenceSession;
      const many = (await session(encodeModel(k.model), 'cpu')) as InferenceSession;
      try {
        const a = await single(one, step);
        const b = await unrolled(many, k);
        assertSame(a, b, 1e-5, method);
        assert.ok(a.scalars[0][0] !== a.scalars[STEPS - 1][0], 'the steps differ (the state moved)');
      } finally {
        await one.release();
        await many.release();
      }
    });
  }

  it('the same on WebGPU', async (t) => {
    const step = smallStep('propos');
    const gpu = await session(encodeModel(unrollTrainStep(step, STEPS).model), 'webgpu');
    if (typeof gpu === 'string') {
      const why = `webgpu cannot create a session here: ${gpu.split('\n')[0]}`;
      if (process.env.SHOEBOX_REQUIRE_WEBGPU === '1') throw new Error(why);
      t.skip(why);
      return;
    }
    const cpu = (await session(encodeModel(step.model), 'cpu')) as InferenceSession;
    try {
      assertSame(await single(cpu, step), await unrolled(gpu, unrollTrainStep(step, STEPS)), 2e-3, 'webgpu');
    } finally {
      await cpu.release();
      await gpu.release();
    }
  });

  it('a Trainer on WebGPU, several steps per run, trains as the CPU does one step per run', async (t) => {
    const { data } = twoBlobs(128, 8, 3);
    const options = { steps: 8, batchSize: 16, maxCycleSteps: 4, seed: 5, clusters: 3, warmupCycles: 1, adapter: TINY_ADAPTER, threads: 1 };
    const logs: string[] = [];
    const gpu = await new Trainer(data, { ...options, executionProviders: ['webgpu'], stepsPerRun: 4, onLog: (m) => logs.push(m) }).run();
    if (logs.some((m) => /could not create a session on webgpu/.test(m))) {
      const why = `webgpu cannot create a session here: ${logs.join(' ')}`;
      if (process.env.SHOEBOX_REQUIRE_WEBGPU === '1') throw new Error(why);
      t.skip(why);
      return;
    }
    assert.ok(!logs.some((m) => /one step per run from now on/.test(m)), logs.join('\n'));
    const cpu = await new Trainer(data, options).run();
    for (const p of MLP_PARTS) {
      const [a, b] = [cpu.online.weights[p], gpu.online.weights[p]];
      const d = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      assert.ok(d < 2e-3, `online.${p} differs by ${d}`);
    }
  });

  it('refuses what it cannot unroll', () => {
    assert.throws(() => unrollTrainStep(smallStep('moco'), 2), /keys/);
    assert.throws(() => unrollTrainStep(smallStep('propos'), 0), /positive integer/);
    assert.equal(unrollTrainStep(smallStep('propos'), 1).steps, 1);
  });
});
