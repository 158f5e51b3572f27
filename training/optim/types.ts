/** Shared types of graph-built optimizers. */

import type { Tensor } from '../graph/graph.js';

/**
 * A value carried from one train step to the next: `input` is fed at step t, `output` is its value for step t+1.
 * `init` is the value to feed at the first step (every element).
 */
export interface StateVar {
  input: Tensor;
  output: Tensor;
  init: number;
}

/** Parameters sharing optimizer settings (e.g. the predictor with a 10x learning rate). */
export interface ParamGroup {
  /** For diagnostics only. */
  name?: string;
  params: readonly Tensor[];
  /** Multiplies the learning rate fed to the graph (default 1). */
  lrScale?: number;
  /** Overrides the optimizer's weight decay for this group (e.g. 0 for biases and BatchNorm affine parameters). */
  weightDecay?: number;
}

/** What an optimizer adds to a train-step graph. */
export interface OptimizerUpdate {
  /** Updated value of each parameter. */
  updated: Map<Tensor, Tensor>;
  /** Optimizer state carried between steps (momentum buffers, moments). */
  state: StateVar[];
}

/** Gradients by parameter; every parameter of every group must have one. */
export type Gradients = ReadonlyMap<Tensor, Tensor>;

export function gradientOf(grads: Gradients, p: Tensor): Tensor {
  const gp = grads.get(p);
  if (!gp) throw new Error(`no gradient for parameter ${p.name}`);
  return gp;
}
