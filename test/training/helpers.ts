/** Shared helpers for the training tests: running builder models on ORT and finite-difference gradient checks. */

import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeModel, type ModelIR, type TypedArray } from '../../training/onnx/proto.js';
import { Graph, type Tensor } from '../../training/graph/graph.js';
import { trainingSessionOptions } from '../../training/train/session.js';
import { Rng } from '../../training/numeric/rng.js';
import { adapterDims, initMlp, predictorDims } from '../../training/train/model.js';
import { buildTrainStep, type Method, type TrainStepConfig, type TrainStepModel } from '../../training/train/step.js';

export interface Feed {
  data: TypedArray;
  dims: readonly number[];
}

export type Feeds = Record<string, Feed>;

const ORT_TYPE = new Map<string, OrtTensor.Type>([
  ['Float32Array', 'float32'],
  ['Float64Array', 'float64'],
  ['BigInt64Array', 'int64'],
  ['Int32Array', 'int32'],
  ['Uint8Array', 'bool'],
]);

/** A session on one model with plain-typed-array feeds and fetches. */
export class Runner {
  private constructor(readonly session: InferenceSession) {}

  static async open(model: ModelIR, providers: readonly string[] = ['cpu']): Promise<Runner> {
    return new Runner(await InferenceSession.create(encodeModel(model), trainingSessionOptions(providers)));
  }

  async run(feeds: Feeds): Promise<Record<string, TypedArray>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      const type = ORT_TYPE.get(f.data.constructor.name);
      if (!type) throw new Error(`unsupported feed type for ${name}`);
      ortFeeds[name] = new OrtTensor(type, f.data as never, [...f.dims]);
    }
    const out = await this.session.run(ortFeeds);
    const res: Record<string, TypedArray> = {};
    for (const [k, v] of Object.entries(out)) res[k] = v.data as TypedArray;
    return res;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Run a model once. */
export async function runOnce(model: ModelIR, feeds: Feeds, providers?: readonly string[]): Promise<Record<string, TypedArray>> {
  const r = await Runner.open(model, providers);
  try {
    return await r.run(feeds);
  } finally {
    await r.release();
  }
}

export function f64(values: ArrayLike<number>, dims: readonly number[]): Feed {
  return { data: Float64Array.from(values), dims };
}

/** Per-parameter sampler for gradient checks: keep inputs inside an op's domain and away from its kinks. */
export type Sampler = (rng: Rng, size: number) => Float64Array;

export const uniform =
  (lo: number, hi: number): Sampler =>
  (rng, n) =>
    Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.next());

/** Values with |x| in [lo, hi] and a random sign. */
export const awayFromZero =
  (lo: number, hi: number): Sampler =>
  (rng, n) =>
    Float64Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng.next()));

export interface GradCheckCase {
  /** Declare parameters with `g.param` (and other inputs with `g.input`), return the value to differentiate. */
  build: (g: Graph) => Tensor;
  /** Samplers by parameter name (default uniform(-1, 1)). */
  samplers?: Record<string, Sampler>;
  /** Feeds for non-parameter inputs. */
  feeds?: Feeds;
  seed?: number;
  /** Finite-difference step (default 1e-5). */
  h?: number;
  /**
   * float32 for ops ORT runs in float32 only (Conv): check what is linear in each parameter, where central
   * differences are exact for any step and only rounding remains.
   */
  dtype?: 'float32' | 'float64';
}

export interface GradCheckResult {
  /** Largest over parameters of |analytic - numeric|_2 / max(|analytic|_2, |numeric|_2). */
  maxRelError: number;
  /** Smallest numeric gradient norm over parameters (checks are meaningless if this is 0). */
  minGradNorm: number;
  perParam: Record<string, { relError: number; norm: number; analyticNorm: number }>;
}

/**
 * Compare `g.grad` against central finite differences in float64 on the CPU provider. The differentiated value is
 * reduced to a scalar as sum(y * R) with a random R, so every output element's gradient path is exercised.
 */
export async function gradCheck(c: GradCheckCase): Promise<GradCheckResult> {
  const rng = new Rng(c.seed ?? 1);
  const dtype = c.dtype ?? 'float64';
  const g = new Graph(dtype);
  const y = c.build(g);
  const r = g.constant(uniform(-1, 1)(rng, y.size), y.shape);
  const loss = g.reduceSum(g.mul(y, r));
  const params = [...g.params];
  const grads = g.grad(loss, params);
  const outputs: Record<string, Tensor> = { loss };
  params.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
  const values: Feeds = { ...c.feeds };
  for (const p of params) {
    const sampler = c.samplers?.[p.name] ?? uniform(-1, 1);
    const data = sampler(rng, p.size);
    values[p.name] = { data: dtype === 'float32' ? Float32Array.from(data) : data, dims: p.shape };
  }
  const full = await Runner.open(g.toModel(outputs));
  const fwd = await Runner.open(g.toModel({ loss }));
  try {
    const analytic = await full.run(values);
    const h = c.h ?? 1e-5;
    const result: GradCheckResult = { maxRelError: 0, minGradNorm: Infinity, perParam: {} };
    for (const p of params) {
      const x = values[p.name].data as Float64Array | Float32Array;
      const a = analytic[`grad:${p.name}`] as Float64Array | Float32Array;
      let diff = 0;
      let na = 0;
      let nn = 0;
      for (let i = 0; i < x.length; i++) {
        const x0 = x[i];
        x[i] = x0 + h;
        const lp = (await fwd.run(values)).loss[0] as number;
        x[i] = x0 - h;
        const lm = (await fwd.run(values)).loss[0] as number;
        x[i] = x0;
        const num = (lp - lm) / (2 * h);
        diff += (a[i] - num) ** 2;
        na += a[i] ** 2;
        nn += num ** 2;
      }
      const norm = Math.sqrt(nn);
      const rel = Math.sqrt(diff) / Math.max(Math.sqrt(na), norm, 1e-300);
      result.perParam[p.name] = { relError: rel, norm, analyticNorm: Math.sqrt(na) };
      result.maxRelError = Math.max(result.maxRelError, rel);
      result.minGradNorm = Math.min(result.minGradNorm, norm);
    }
    return result;
  } finally {
    await full.release();
    await fwd.release();
  }
}

/** Max |a - b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
}

/** Batch and clusters of the small train steps of the step tests. */
const B = 32;
const K = 4;

export function smallStep(method: Method, opts: { block?: TrainStepConfig['block']; inputDim?: number } = {}): TrainStepModel {
  const { block } = opts;
  const inputDim = block ? block.weights.depthwise.wShape[0] + block.input[0] : (opts.inputDim ?? 96);
  return buildTrainStep({
    method,
    ...(block ? { block } : {}),
    adapter: { inputDim, hiddenDim: 64, embedDim: 32, predictorHiddenDim: 64, bnEps: 1e-5 },
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
export function stepInputs(
  step: TrainStepModel,
  steps: number,
): { state: Record<string, OrtTensor>; batches: Record<string, OrtTensor>[] } {
  const rng = new Rng(3);
  const a = step.config.adapter;
  const nets = {
    online: initMlp(adapterDims(a), rng),
    predictor: initMlp(predictorDims(a), rng, 'small'),
    target: initMlp(adapterDims(a), rng),
  };
  const state: Record<string, OrtTensor> = {};
  for (const s of step.state) {
    const data = s.initial
      ? Float32Array.from(s.initial)
      : s.role === 'optimizer'
        ? new Float32Array(s.shape.reduce((x, y) => x * y, 1))
        : Float32Array.from(nets[s.role][s.part!]);
    state[s.name] = new OrtTensor('float32', data, s.shape);
  }
  const xShape = step.config.block ? [2 * B, ...step.config.block.input] : [2 * B, a.inputDim];
  const batches = Array.from({ length: steps }, (_, t) => {
    const feeds: Record<string, OrtTensor> = {};
    const x = new Float32Array(xShape.reduce((p, q) => p * q, 1));
    rng.fillNormal(x);
    feeds.x = new OrtTensor('float32', x, xShape);
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
