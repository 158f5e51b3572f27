/**
 * The same train steps on the CPU and WebGPU execution providers agree within float32 tolerance. Skips (with the
 * reason) where no WebGPU session can be created; SHOEBOX_REQUIRE_WEBGPU=1 (CI, Mesa lavapipe) makes that a failure.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeModel } from '../../training/onnx/proto.js';
import type { TrainStepModel } from '../../training/train/step.js';
import { trainingSessionOptions } from '../../training/train/session.js';
import { smallStep as stepModel, stepInputs as inputs } from './helpers.js';

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
