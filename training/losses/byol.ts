/** BYOL: regress the online prediction of one view onto the target projection of the other. */

import type { Graph, Tensor } from '../graph/graph.js';
import { cosineSimilarity } from '../graph/nn.js';
import { swapViews } from './views.js';

/**
 * Symmetric BYOL loss on stacked views (see views.ts): mean over both directions and all samples of
 * 2 - 2 cos(p_v1, t_v2) and 2 - 2 cos(p_v2, t_v1). `predictions` [2B, E] come from the online network + predictor,
 * `targets` [2B, E] from the EMA target network; no gradient flows into the targets. Range [0, 4].
 */
export function byolLoss(g: Graph, predictions: Tensor, targets: Tensor): Tensor {
  const other = g.stopGradient(swapViews(g, targets));
  return g.sub(2, g.mul(g.reduceMean(cosineSimilarity(g, predictions, other)), 2));
}
