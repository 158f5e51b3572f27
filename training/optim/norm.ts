/** Gradient monitoring helpers. */

import type { Graph, Tensor } from '../graph/graph.js';

/** sqrt(sum over tensors of sum(x^2)): e.g. the global gradient norm, a scalar. */
export function globalNorm(g: Graph, xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new Error('globalNorm of nothing');
  const squares = xs.map((x) => g.reduceSumSquare(x));
  return g.sqrt(squares.reduce((acc, s) => g.add(acc, s)));
}
