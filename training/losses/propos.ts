/**
 * ProPos (Huang et al., "Learning Representation for Clustering via Prototype Scattering and Positive Sampling"):
 * PSA, BYOL-style alignment with posterior sampling (Gaussian noise on the online embedding before the predictor),
 * plus PSL, a contrastive loss between cluster prototypes of the online and target networks.
 */

import type { Graph, Tensor } from '../graph/graph.js';
import { l2Normalize } from '../graph/nn.js';
import { byolLoss } from './byol.js';
import { splitViews } from './views.js';

/** Large negative logit for masked-out prototypes (exp underflows to exactly 0 in float32 and float64). */
const MASKED = -1e9;

export interface PsaInputs {
  /** Online projections z, stacked views [2B, E]. */
  online: Tensor;
  /** Target projections, stacked views [2B, E]. */
  target: Tensor;
  /** Standard normal noise eps [2B, E], sampled outside the graph. */
  noise: Tensor;
  /** Noise scale sigma: a scalar input (0 during warm-up) or a constant. */
  sigma: Tensor | number;
  /** The predictor network, applied to all stacked rows at once. */
  predictor: (x: Tensor) => Tensor;
}

/** Posterior-sampling alignment: BYOL loss of predictor(z + sigma * eps) against the other view's target. */
export function psaLoss(g: Graph, i: PsaInputs): Tensor {
  const sampled = g.add(i.online, g.mul(i.noise, i.sigma));
  return byolLoss(g, i.predictor(sampled), i.target);
}

/** Cluster prototypes [K, E]: normalize(sum of the unit-normalized rows of `x` [B, E] with one-hot `labels` [B, K]). */
export function prototypes(g: Graph, x: Tensor, labels: Tensor): Tensor {
  // normalize(mean) == normalize(sum); empty clusters give zero rows.
  return l2Normalize(g, g.gemm(labels, l2Normalize(g, x), undefined, { transA: true }));
}

export type PslNegatives = 'target' | 'online';

export interface PslDirection {
  /** Online projections of one view [B, E]. */
  online: Tensor;
  /** Target projections of the other view [B, E]. */
  target: Tensor;
  /** One-hot pseudo-labels of the online rows [B, K]. */
  onlineLabels: Tensor;
  /** One-hot pseudo-labels of the target rows [B, K]. */
  targetLabels: Tensor;
  /** 1 for clusters present in the batch (in both label sets), 0 for clusters to ignore [K]. */
  mask: Tensor;
  /** Temperature tau. */
  temperature: number;
  /**
   * Negatives of online prototype k: 'target' (default) contrasts it with all other target prototypes; 'online'
   * with the other online prototypes, as in the reference ProPos code. The positive is always target prototype k.
   */
  negatives?: PslNegatives;
}

/**
 * Prototype scattering, one direction: mean over present clusters k of
 * -log softmax_j(<P_k, N_j> / tau)[k], where P are online prototypes, N_k = target prototype k and N_j (j != k) the
 * negatives; absent clusters are masked out of both the sum and the softmax. Zero if no cluster is present.
 */
export function pslDirection(g: Graph, d: PslDirection): Tensor {
  const k = d.mask.size;
  const online = prototypes(g, d.online, d.onlineLabels);
  const target = g.stopGradient(prototypes(g, d.target, d.targetLabels));
  const eye = g.constant(
    Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)),
    [k, k],
  );
  let logits = g.gemm(online, target, undefined, { transB: true, alpha: 1 / d.temperature });
  if (d.negatives === 'online') {
    const offDiagonal = g.gemm(online, online, undefined, { transB: true, alpha: 1 / d.temperature });
    logits = g.add(g.mul(logits, eye), g.mul(offDiagonal, g.sub(1, eye)));
  }
  // Masked columns get a huge negative logit; masked rows get weight 0.
  const masked = g.add(logits, g.mul(g.sub(1, d.mask), MASKED));
  const logProb = g.logSoftmax(masked, 1);
  const positive = g.reduceSum(g.mul(logProb, eye), [1]);
  const present = g.clip(g.reduceSum(d.mask), 1);
  return g.div(g.neg(g.reduceSum(g.mul(positive, d.mask))), present);
}

export interface PslInputs {
  /** Online projections, stacked views [2B, E]. */
  online: Tensor;
  /** Target projections, stacked views [2B, E]. */
  target: Tensor;
  /** One-hot pseudo-labels of the stacked rows [2B, K] (the two views of a sample may differ, e.g. neighbours). */
  labels: Tensor;
  mask: Tensor;
  temperature: number;
  negatives?: PslNegatives;
}

/** Symmetric prototype scattering loss: the mean of both directions (online view 1 vs target view 2 and back). */
export function pslLoss(g: Graph, i: PslInputs): Tensor {
  const [z1, z2] = splitViews(g, i.online);
  const [t1, t2] = splitViews(g, i.target);
  const [y1, y2] = splitViews(g, i.labels);
  const common = { mask: i.mask, temperature: i.temperature, negatives: i.negatives };
  const a = pslDirection(g, { online: z1, target: t2, onlineLabels: y1, targetLabels: y2, ...common });
  const b = pslDirection(g, { online: z2, target: t1, onlineLabels: y2, targetLabels: y1, ...common });
  return g.mul(g.add(a, b), 0.5);
}

export interface ProPosInputs extends PsaInputs {
  labels: Tensor;
  mask: Tensor;
  /** Weight of PSL (scalar input: 0 during warm-up) or a constant. Default in the trainer: 0.1. */
  lambda: Tensor | number;
  temperature: number;
  negatives?: PslNegatives;
}

export interface ProPosLoss {
  total: Tensor;
  psa: Tensor;
  psl: Tensor;
}

/** ProPos objective: PSA + lambda * PSL. */
export function proposLoss(g: Graph, i: ProPosInputs): ProPosLoss {
  const psa = psaLoss(g, i);
  const psl = pslLoss(g, {
    online: i.online,
    target: i.target,
    labels: i.labels,
    mask: i.mask,
    temperature: i.temperature,
    negatives: i.negatives,
  });
  return { total: g.add(psa, g.mul(psl, i.lambda)), psa, psl };
}
