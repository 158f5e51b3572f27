/**
 * Two-view batches are "stacked": a tensor [2B, ...] holds view 1 of the B samples in rows [0, B) and view 2 in
 * rows [B, 2B). These helpers split and swap the halves.
 */

import type { Graph, Tensor } from '../graph/graph.js';

/** Rows of view 1 and view 2 of a stacked tensor. */
export function splitViews(g: Graph, x: Tensor): [Tensor, Tensor] {
  const rows = x.shape[0];
  if (rows % 2 !== 0) throw new Error(`stacked views need an even number of rows, got ${x}`);
  const b = rows / 2;
  return [g.slice(x, [0], [b], [0]), g.slice(x, [b], [rows], [0])];
}

/** The stacked tensor with its views exchanged: row i of the result is the other view of sample i. */
export function swapViews(g: Graph, x: Tensor): Tensor {
  const [a, b] = splitViews(g, x);
  return g.concat([b, a], 0);
}
