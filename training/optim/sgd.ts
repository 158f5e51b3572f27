/** SGD with momentum and (coupled, L2) weight decay, PyTorch semantics, as graph nodes. */

import type { Graph, Tensor } from '../graph/graph.js';
import { gradientOf, type Gradients, type OptimizerUpdate, type ParamGroup, type StateVar } from './types.js';

export interface SgdOptions {
  /** Learning rate: a scalar graph input, so schedules are computed per step outside the graph. */
  lr: Tensor;
  /** Momentum factor (default 0.9; 0 disables the momentum buffer). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, wd * p (default 0; groups may override). */
  weightDecay?: number;
}

/**
 * For each parameter p with gradient g:
 *   d = g + wd p;  buf' = momentum buf + d;  p' = p - lr * lrScale * (nesterov ? d + momentum buf' : buf').
 * Momentum buffers are state named `<param>.momentum`, starting at zero.
 */
export function sgd(g: Graph, groups: readonly ParamGroup[], grads: Gradients, opts: SgdOptions): OptimizerUpdate {
  const momentum = opts.momentum ?? 0.9;
  const updated = new Map<Tensor, Tensor>();
  const state: StateVar[] = [];
  for (const group of groups) {
    const lr = (group.lrScale ?? 1) === 1 ? opts.lr : g.mul(opts.lr, group.lrScale!);
    const wd = group.weightDecay ?? opts.weightDecay ?? 0;
    for (const p of group.params) {
      g.scope(`sgd/${p.name}`, () => {
        const gp = gradientOf(grads, p);
        const d = wd !== 0 ? g.add(gp, g.mul(p, wd)) : gp;
        let step = d;
        if (momentum !== 0) {
          const buf = g.input(`${p.name}.momentum`, p.shape);
          const next = g.add(g.mul(buf, momentum), d);
          state.push({ input: buf, output: next, init: 0 });
          step = opts.nesterov ? g.add(d, g.mul(next, momentum)) : next;
        }
        updated.set(p, g.sub(p, g.mul(step, lr)));
      });
    }
  }
  return { updated, state };
}
