/**
 * Train-step benchmark: samples/s of the default adapter's ProPos train step (batch 256, D = what the default
 * encoder trains on: its manifest's `trainFeatures.dim`, else its output dimension; `--dim` overrides), synthetic
 * features) on CPU (and WebGPU when a session can be created), its matrix FLOPs counted from the graph, and the
 * machine's ORT MatMul GFLOP/s with the same session options. Writes bench/results/train.json and prints its path
 * last. `ratio` = train-step FLOP/s on CPU / MatMul FLOP/s (target >= 0.5).
 *
 * Rates use the fastest of N runs of each measurement (the least disturbed by other processes); medians are recorded.
 *
 * With --unroll, the same step is also timed K steps per run (training/train/unroll.ts) on each provider: what a
 * GPU provider gains when its fixed cost per run is paid once for K steps.
 *
 * Usage: node dist/bench/train.js [--steps N] [--method propos|byol|moco] [--optimizer sgd|adamw] [--threads T]
 *        [--no-webgpu] [--dim D] [--unroll 1,4,16] [--batch 256] [--block] [--tag name (writes train-<name>.json)]
 *
 * --block: the step that also fine-tunes the default encoder's last block (training/train/backbone.ts), on the
 * activations entering it ([120, 10, 10] per view).
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { env, InferenceSession, Tensor } from 'onnxruntime-node';
import { countFlops } from '../training/graph/flops.js';
import { DEFAULT_ENCODER_ID } from '../training/models.js';
import { decodeModel, encodeModel, type ModelIR } from '../training/onnx/proto.js';
import { readInvertedResidual } from '../training/train/backbone.js';
import { adapterDims, DEFAULT_ADAPTER, initMlp, predictorDims } from '../training/train/model.js';
import { Rng } from '../training/numeric/rng.js';
import { openFastestCpuSession, trainingSessionOptions } from '../training/train/session.js';
import { buildTrainStep, type Method, type TrainStepConfig, type TrainStepModel } from '../training/train/step.js';
import { perStepInputs, unrollTrainStep, type UnrolledTrainStep } from '../training/train/unroll.js';

/** Feature dimension the bundled default encoder's adapter trains on (its manifest), or 1792 when the models are not built. */
async function defaultEncoderDim(): Promise<number> {
  try {
    const file = fileURLToPath(new URL(`../../models/${DEFAULT_ENCODER_ID}.json`, import.meta.url));
    const m = JSON.parse(await readFile(file, 'utf8')) as { output: { dim: number }; trainFeatures?: { dim: number } };
    return m.trainFeatures?.dim ?? m.output.dim;
  } catch {
    return 1792;
  }
}

/** The default encoder's last block, read out of its converted model (built by `npm run build:models`). */
async function defaultBlock(): Promise<NonNullable<TrainStepConfig['block']>> {
  const file = fileURLToPath(new URL(`../../models/${DEFAULT_ENCODER_ID}.onnx`, import.meta.url));
  const weights = readInvertedResidual(decodeModel(new Uint8Array(await readFile(file))), 'MobilenetV3/expanded_conv_14');
  return { weights, input: [weights.expand.wShape[1], 10, 10], lrScale: 0.1 };
}

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Timing {
  /** Fastest run (least disturbed by other processes): what rates and the ratio are computed from. */
  bestMs: number;
  medianMs: number;
  meanMs: number;
  runs: number;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Feeds of an unrolled step: the single step's per-step inputs repeated along a leading axis of K. */
function unrolledFeeds(step: UnrolledTrainStep): Record<string, Tensor> {
  const feeds = initialFeeds(step);
  if (step.steps === 1) return feeds;
  for (const name of perStepInputs(step)) {
    const t = feeds[name];
    const data = new Float32Array(t.data.length * step.steps);
    for (let i = 0; i < step.steps; i++) data.set(t.data as Float32Array, i * t.data.length);
    feeds[name] = new Tensor('float32', data, [step.steps, ...t.dims]);
  }
  return feeds;
}

/** Feeds for the first step: initialized networks, zero optimizer state, random batch. */
function initialFeeds(step: TrainStepModel): Record<string, Tensor> {
  const rng = new Rng(1);
  const a = step.config.adapter;
  const online = initMlp(adapterDims(a), rng);
  const nets = { online, predictor: initMlp(predictorDims(a), rng, 'small'), target: online };
  const feeds: Record<string, Tensor> = {};
  for (const s of step.state) {
    const data = s.initial
      ? Float32Array.from(s.initial)
      : s.role === 'optimizer'
        ? new Float32Array(size(s.shape))
        : Float32Array.from(nets[s.role][s.part!]);
    feeds[s.name] = new Tensor('float32', data, s.shape);
  }
  const rows = 2 * step.config.batchSize;
  // Pooled features are post-ReLU-like; a block's input maps are any sign.
  const xShape = step.config.block ? [rows, ...step.config.block.input] : [rows, a.inputDim];
  const x = new Float32Array(size(xShape));
  for (let i = 0; i < x.length; i++) x[i] = step.config.block ? rng.normal() : Math.max(0, rng.normal());
  feeds.x = new Tensor('float32', x, xShape);
  const k = step.config.clusters;
  for (const b of step.batch) {
    const data = new Float32Array(size(b.shape));
    if (b.name === 'labels') for (let r = 0; r < rows; r++) data[r * k + rng.int(k)] = 1;
    else if (b.name === 'mask') data.fill(1);
    else rng.fillNormal(data);
    feeds[b.name] = new Tensor('float32', data, b.shape);
  }
  const hyper: Record<string, number> = { lr: 0.5, ema_momentum: 0.996, step: 1, lambda: 0.1, sigma: 0.001 };
  for (const h of step.hyper) feeds[h] = new Tensor('float32', Float32Array.of(hyper[h]), []);
  return feeds;
}

interface StepResult {
  providers: string[];
  timing: Timing;
  samplesPerSec: number;
  gflopsPerSec: number;
}

/**
 * A train-step session whose state outputs are written into preallocated buffers (ping-pong between two sets), as
 * the trainer does: no per-step allocation or copy of the parameters.
 */
async function stepRunner(
  step: TrainStepModel,
  bytes: Uint8Array,
  providers: string[],
  threads?: number,
): Promise<{ run: () => Promise<void>; release: () => Promise<void> }> {
  const session = await InferenceSession.create(bytes, trainingSessionOptions(providers, threads));
  const feeds = 'steps' in step ? unrolledFeeds(step as UnrolledTrainStep) : initialFeeds(step);
  let spare: Record<string, Tensor> = Object.fromEntries(
    step.state.map((s) => [s.output, new Tensor('float32', new Float32Array(size(s.shape)), s.shape)]),
  );
  const others = Object.fromEntries([...step.scalars, ...step.extras].map((k) => [k, null]));
  return {
    run: async () => {
      await session.run(feeds, { ...spare, ...others });
      const next: Record<string, Tensor> = {};
      for (const s of step.state) {
        next[s.output] = feeds[s.name];
        feeds[s.name] = spare[s.output];
      }
      spare = next;
    },
    release: () => session.release(),
  };
}

function matmulModel(n: number): ModelIR {
  return {
    opsetVersion: 18,
    graph: {
      name: 'matmul',
      nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'], name: 'mm' }],
      initializers: [],
      inputs: [
        { name: 'a', dtype: 'float32', shape: [n, n] },
        { name: 'b', dtype: 'float32', shape: [n, n] },
      ],
      outputs: [{ name: 'y', dtype: 'float32', shape: [n, n] }],
    },
  };
}

async function matmulRunner(
  n: number,
  providers: string[],
  threads?: number,
): Promise<{ run: () => Promise<void>; release: () => Promise<void> }> {
  const session = await InferenceSession.create(encodeModel(matmulModel(n)), trainingSessionOptions(providers, threads));
  const rng = new Rng(2);
  const a = new Float32Array(n * n);
  const b = new Float32Array(n * n);
  rng.fillUniform(a, -1, 1);
  rng.fillUniform(b, -1, 1);
  const feeds = { a: new Tensor('float32', a, [n, n]), b: new Tensor('float32', b, [n, n]) };
  return {
    run: async () => {
      await session.run(feeds);
    },
    release: () => session.release(),
  };
}

/** Time two workloads in alternation (so both see the same background load); the best of N counts. */
async function interleaved(rounds: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[Timing, Timing]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < rounds + 2; i++) {
    let t = performance.now();
    await a();
    if (i >= 2) ta.push(performance.now() - t);
    t = performance.now();
    await b();
    if (i >= 2) tb.push(performance.now() - t);
  }
  return [summarize(ta), summarize(tb)];
}

function summarize(ms: number[]): Timing {
  const sorted = [...ms].sort((x, y) => x - y);
  return {
    bestMs: sorted[0],
    medianMs: sorted[Math.floor(ms.length / 2)],
    meanMs: ms.reduce((x, y) => x + y, 0) / ms.length,
    runs: ms.length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '12' },
      method: { type: 'string', default: 'propos' },
      optimizer: { type: 'string', default: 'sgd' },
      threads: { type: 'string' },
      'no-webgpu': { type: 'boolean', default: false },
      dim: { type: 'string' },
      unroll: { type: 'string', default: '1' },
      batch: { type: 'string', default: '256' },
      block: { type: 'boolean', default: false },
      tag: { type: 'string' },
    },
  });
  const unrolls = values.unroll.split(',').map(Number);
  const threads = values.threads ? Number(values.threads) : undefined;
  const runs = Number(values.steps);
  const method = values.method as Method;
  const batchSize = Number(values.batch);
  const clusters = 100;
  const adapter = { ...DEFAULT_ADAPTER, inputDim: values.dim ? Number(values.dim) : await defaultEncoderDim() };
  const block = values.block ? await defaultBlock() : undefined;
  const step = buildTrainStep({
    method,
    adapter,
    batchSize,
    clusters,
    temperature: method === 'moco' ? 0.2 : 0.5,
    negatives: 'target',
    queueSize: 4096,
    optimizer:
      values.optimizer === 'adamw'
        ? { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }
        : { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
    predictorLrScale: 10,
    bnMomentum: 0.1,
    dtype: 'float32',
    ...(block ? { block } : {}),
  });
  const bytes = encodeModel(step.model);
  const flops = countFlops(step.model);
  console.log(
    `train step: ${method}, ${step.model.graph.nodes.length} nodes, ${(flops.matmul / 1e9).toFixed(2)} GFLOP (matrix products) per step`,
  );

  // The trainer picks its CPU thread count by timing the step (openFastestCpuSession); do the same unless told.
  let cpuThreads = threads;
  let threadTrials: unknown = null;
  if (cpuThreads === undefined) {
    const picked = await openFastestCpuSession(bytes, initialFeeds(step));
    await picked.session.release();
    cpuThreads = picked.threads;
    threadTrials = picked.trials;
    console.log(`cpu threads: ${cpuThreads}, as the trainer would pick (${JSON.stringify(picked.trials)})`);
  }
  const matmulN = 2048;
  const mm = await matmulRunner(matmulN, ['cpu'], cpuThreads);
  const cpuStep = await stepRunner(step, bytes, ['cpu'], cpuThreads);
  const [mmTiming, stepTiming] = await interleaved(runs, mm.run, cpuStep.run).finally(async () => {
    await mm.release();
    await cpuStep.release();
  });
  const matmul = { n: matmulN, timing: mmTiming, gflopsPerSec: (2 * matmulN ** 3) / mmTiming.bestMs / 1e6 };
  const cpu: StepResult = {
    providers: ['cpu'],
    timing: stepTiming,
    samplesPerSec: (batchSize * 1000) / stepTiming.bestMs,
    gflopsPerSec: flops.matmul / stepTiming.bestMs / 1e6,
  };
  console.log(
    `cpu MatMul ${matmulN}^3: best ${mmTiming.bestMs.toFixed(1)} ms (median ${mmTiming.medianMs.toFixed(1)}), ${matmul.gflopsPerSec.toFixed(1)} GFLOP/s`,
  );
  console.log(
    `cpu train step: best ${stepTiming.bestMs.toFixed(1)} ms (median ${stepTiming.medianMs.toFixed(1)}), ${cpu.samplesPerSec.toFixed(0)} samples/s, ${cpu.gflopsPerSec.toFixed(1)} GFLOP/s`,
  );

  let webgpu: StepResult | { error: string } | undefined;
  if (!values['no-webgpu']) {
    try {
      const gpu = await stepRunner(step, bytes, ['webgpu']);
      try {
        const [timing] = await interleaved(Math.max(3, Math.floor(runs / 2)), gpu.run, () => Promise.resolve());
        webgpu = {
          providers: ['webgpu'],
          timing,
          samplesPerSec: (batchSize * 1000) / timing.bestMs,
          gflopsPerSec: flops.matmul / timing.bestMs / 1e6,
        };
        console.log(`webgpu train step: best ${timing.bestMs.toFixed(1)} ms, ${webgpu.samplesPerSec.toFixed(0)} samples/s`);
      } finally {
        await gpu.release();
      }
    } catch (err) {
      webgpu = { error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
      console.log(`webgpu: unavailable (${webgpu.error})`);
    }
  }

  // Steps per run, per provider: ms per step and steps/s (the fastest run over K).
  const perRun: Record<string, Record<string, { msPerStep: number; stepsPerSec: number; timing: Timing } | { error: string }>> = {};
  const providersToTime = values['no-webgpu'] ? ['cpu'] : ['cpu', 'webgpu'];
  if (unrolls.some((k) => k > 1) || unrolls.length > 1) {
    for (const provider of providersToTime) {
      perRun[provider] = {};
      for (const k of unrolls) {
        try {
          const unrolled = unrollTrainStep(step, k);
          const r = await stepRunner(unrolled, encodeModel(unrolled.model), [provider], provider === 'cpu' ? cpuThreads : undefined);
          try {
            const rounds = Math.max(3, Math.ceil(runs / k));
            const [timing] = await interleaved(rounds, r.run, () => Promise.resolve());
            perRun[provider][k] = { msPerStep: timing.bestMs / k, stepsPerSec: (1000 * k) / timing.bestMs, timing };
            console.log(
              `${provider} x${k}: ${(timing.bestMs / k).toFixed(2)} ms per step (${((1000 * k) / timing.bestMs).toFixed(1)} steps/s)`,
            );
          } finally {
            await r.release();
          }
        } catch (err) {
          perRun[provider][k] = { error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
          console.log(`${provider} x${k}: ${(perRun[provider][k] as { error: string }).error}`);
        }
      }
    }
  }

  const ratio = cpu.gflopsPerSec / matmul.gflopsPerSec;
  const report = {
    machine: {
      cpus: os.cpus().length,
      availableParallelism: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model,
      loadavg: os.loadavg(),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      onnxruntime: env.versions.node ?? env.versions.common,
    },
    inputs: {
      method,
      optimizer: values.optimizer,
      batchSize,
      rowsPerStep: 2 * batchSize,
      featureDim: adapter.inputDim,
      adapter,
      clusters,
      steps: runs,
      sessionOptions: trainingSessionOptions(['cpu'], cpuThreads),
      threadsChosenBy: threads === undefined ? 'trainer rule (openFastestCpuSession)' : '--threads',
      threadTrials,
      timing:
        'MatMul and train step timed in alternation; rates and ratio from the fastest of N runs (after 2 warm-up rounds); medians recorded too',
    },
    results: {
      flopsPerStep: flops.matmul,
      matmulNodes: flops.nodes,
      graphNodes: step.model.graph.nodes.length,
      cpu,
      cpuMatmul: matmul,
      webgpu,
      stepsPerRun: perRun,
    },
    ratio,
  };
  const RESULTS = path.join(RESULTS_DIR, values.tag ? `train-${values.tag}.json` : 'train.json');
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`ratio (train-step FLOP/s / MatMul FLOP/s on CPU): ${ratio.toFixed(2)}`);
  console.log(RESULTS);
}

await main();
