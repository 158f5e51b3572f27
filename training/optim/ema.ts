/** Exponential moving average of parameters (the BYOL/ProPos target network update), as graph nodes. */

import type { Graph, Tensor } from '../graph/graph.js';

export interface EmaPair {
  /** Current target value (a graph input). */
  target: Tensor;
  /** The online value to move towards (usually the freshly updated parameter). */
  online: Tensor;
}

/** target' = m * target + (1 - m) * online, for a scalar momentum input m. Returns target' per pair, in order. */
export function emaUpdate(g: Graph, pairs: readonly EmaPair[], momentum: Tensor): Tensor[] {
  if (momentum.size !== 1) throw new Error(`EMA momentum must be a scalar, got ${momentum}`);
  const rest = g.sub(1, momentum);
  return pairs.map(({ target, online }) => {
    if (target.shape.join() !== online.shape.join()) throw new Error(`EMA shapes differ: ${target} vs ${online}`);
    return g.add(g.mul(target, momentum), g.mul(online, rest));
  });
}
