/** MoCo v2: InfoNCE of online queries against EMA keys, with a queue of negative keys from earlier batches. */

import type { Graph, Tensor } from '../graph/graph.js';
import { l2Normalize } from '../graph/nn.js';
import { swapViews } from './views.js';

export interface MocoInputs {
  /** Online projections (queries), stacked views [2B, E]. */
  queries: Tensor;
  /** Target projections (keys), stacked views [2B, E]; no gradient flows into them. */
  keys: Tensor;
  /** Negative keys [Q, E], unit-normalized, maintained outside the graph. */
  queue: Tensor;
  /** Temperature (MoCo v2: 0.2). */
  temperature: number;
}

/**
 * Symmetric InfoNCE: for each stacked row, the positive is the other view's key and the negatives are the queue;
 * mean of -log softmax([q.k+, q.queue] / tau)[0] over all 2B rows.
 */
export function mocoLoss(g: Graph, i: MocoInputs): Tensor {
  const q = l2Normalize(g, i.queries);
  const k = g.stopGradient(swapViews(g, l2Normalize(g, i.keys)));
  const positive = g.reduceSum(g.mul(q, k), [1], true);
  const negative = g.gemm(q, g.stopGradient(i.queue), undefined, { transB: true });
  const logits = g.div(g.concat([positive, negative], 1), i.temperature);
  const logProb = g.slice(g.logSoftmax(logits, 1), [0], [1], [1]);
  return g.neg(g.reduceMean(logProb));
}
