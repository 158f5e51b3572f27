/**
 * The trainable adapter on top of the frozen image backbone, and its predictor.
 *
 * Both are 2-layer MLPs in the BYOL/ProPos style: Linear(in, hidden, no bias) -> BatchNorm -> ReLU -> Linear(hidden,
 * out). The adapter ("projector") maps cached backbone features [N, D] to the embedding used for clustering; the
 * predictor (training only) maps embeddings to embeddings. Parameters live in plain Float32Arrays between steps.
 */

import type { Graph, Tensor } from '../graph/graph.js';
import { batchNorm } from '../graph/nn.js';
import type { Rng } from '../numeric/rng.js';

export interface AdapterConfig {
  /** Backbone feature dimension D (1792 for the default encoder). */
  inputDim: number;
  /** Hidden width of the adapter MLP (default 1024). */
  hiddenDim: number;
  /** Embedding dimension (default 256). */
  embedDim: number;
  /** Hidden width of the predictor MLP (default 1024). */
  predictorHiddenDim: number;
  /** BatchNorm epsilon (default 1e-5). */
  bnEps: number;
}

export const DEFAULT_ADAPTER: Omit<AdapterConfig, 'inputDim'> = {
  hiddenDim: 1024,
  embedDim: 256,
  predictorHiddenDim: 1024,
  bnEps: 1e-5,
};

/** Tensor roles inside one MLP. */
export type MlpPart = 'w1' | 'bn.gamma' | 'bn.beta' | 'bn.mean' | 'bn.var' | 'w2' | 'b2';

export const MLP_PARTS: readonly MlpPart[] = ['w1', 'bn.gamma', 'bn.beta', 'bn.mean', 'bn.var', 'w2', 'b2'];

/** Running statistics are buffers: carried between steps but not trained. */
export const BUFFER_PARTS: ReadonlySet<MlpPart> = new Set<MlpPart>(['bn.mean', 'bn.var']);

/** Parts exempt from weight decay (biases and BatchNorm affine parameters). */
export const NO_DECAY_PARTS: ReadonlySet<MlpPart> = new Set<MlpPart>(['bn.gamma', 'bn.beta', 'b2']);

export interface MlpDims {
  in: number;
  hidden: number;
  out: number;
}

export function mlpShapes(d: MlpDims): Record<MlpPart, number[]> {
  return {
    w1: [d.in, d.hidden],
    'bn.gamma': [d.hidden],
    'bn.beta': [d.hidden],
    'bn.mean': [d.hidden],
    'bn.var': [d.hidden],
    w2: [d.hidden, d.out],
    b2: [d.out],
  };
}

export function adapterDims(c: AdapterConfig): MlpDims {
  return { in: c.inputDim, hidden: c.hiddenDim, out: c.embedDim };
}

export function predictorDims(c: AdapterConfig): MlpDims {
  return { in: c.embedDim, hidden: c.predictorHiddenDim, out: c.embedDim };
}

/** One MLP's tensors by part, e.g. `{ w1: Float32Array, 'bn.gamma': ..., ... }`. */
export type MlpWeights = Record<MlpPart, Float32Array>;

/** A trained adapter: its configuration and weights (BatchNorm with running statistics). */
export interface AdapterParams {
  config: AdapterConfig;
  weights: MlpWeights;
}

/**
 * Fresh MLP weights. 'default': PyTorch Linear initialization (uniform +-1/sqrt(fan_in)) for the adapter;
 * 'small': N(0, 0.01^2) weights and zero bias, as ProPos initializes its predictor. BatchNorm: gamma 1, beta 0,
 * running mean 0, running variance 1.
 */
export function initMlp(d: MlpDims, rng: Rng, scheme: 'default' | 'small' = 'default'): MlpWeights {
  const shapes = mlpShapes(d);
  const w = Object.fromEntries(MLP_PARTS.map((p) => [p, new Float32Array(shapes[p].reduce((a, b) => a * b, 1))])) as MlpWeights;
  if (scheme === 'small') {
    rng.fillNormal(w.w1, 0.01);
    rng.fillNormal(w.w2, 0.01);
  } else {
    const b1 = 1 / Math.sqrt(d.in);
    const b2 = 1 / Math.sqrt(d.hidden);
    rng.fillUniform(w.w1, -b1, b1);
    rng.fillUniform(w.w2, -b2, b2);
    rng.fillUniform(w.b2, -b2, b2);
  }
  w['bn.gamma'].fill(1);
  w['bn.var'].fill(1);
  return w;
}

export function cloneMlp(w: MlpWeights): MlpWeights {
  return Object.fromEntries(MLP_PARTS.map((p) => [p, Float32Array.from(w[p])])) as MlpWeights;
}

/** Graph tensors of one MLP. */
export type MlpTensors = Record<MlpPart, Tensor>;

/**
 * Declare one MLP's tensors named `<prefix>.<part>`: trainable parts as parameters when `trainable`, everything else
 * (running statistics, or a whole EMA target network) as plain inputs.
 */
export function declareMlp(g: Graph, prefix: string, d: MlpDims, trainable: boolean): MlpTensors {
  const shapes = mlpShapes(d);
  const t = {} as MlpTensors;
  for (const part of MLP_PARTS) {
    const name = `${prefix}.${part}`;
    t[part] = trainable && !BUFFER_PARTS.has(part) ? g.param(name, shapes[part]) : g.input(name, shapes[part]);
  }
  return t;
}

export interface MlpForward {
  /** Output [V*B, out]. */
  y: Tensor;
  /** Batch mean of the hidden pre-activations, averaged over views [hidden]. */
  mean: Tensor;
  /** Unbiased batch variance of the hidden pre-activations, averaged over views [hidden]. */
  variance: Tensor;
}

/**
 * Training-mode forward pass on stacked views x [V*B, in]: BatchNorm statistics are taken per view (each view is its
 * own batch, as when views are forwarded separately).
 */
export function mlpTrain(g: Graph, x: Tensor, t: MlpTensors, views: number, eps: number): MlpForward {
  const [rows, hidden] = [x.shape[0], t.w1.shape[1]];
  const batch = rows / views;
  if (!Number.isInteger(batch)) throw new Error(`${rows} rows do not split into ${views} views`);
  const h = g.reshape(g.matmul(x, t.w1), [views, batch, hidden]);
  const bn = batchNorm(g, h, t['bn.gamma'], t['bn.beta'], { axes: [1], eps });
  const a = g.relu(g.reshape(bn.y, [rows, hidden]));
  const y = g.gemm(a, t.w2, t.b2);
  const mean = g.reshape(g.reduceMean(bn.mean, [0]), [hidden]);
  const unbiased = batch > 1 ? batch / (batch - 1) : 1;
  const variance = g.reshape(g.mul(g.reduceMean(bn.variance, [0]), unbiased), [hidden]);
  return { y, mean: g.stopGradient(mean), variance: g.stopGradient(variance) };
}

/** Running statistics update: r' = (1 - momentum) r + momentum * batch (PyTorch convention, momentum 0.1). */
export function updateRunningStats(g: Graph, t: MlpTensors, f: MlpForward, momentum: number): { mean: Tensor; variance: Tensor } {
  return {
    mean: g.add(g.mul(t['bn.mean'], 1 - momentum), g.mul(f.mean, momentum)),
    variance: g.add(g.mul(t['bn.var'], 1 - momentum), g.mul(f.variance, momentum)),
  };
}
