/** AdamW (decoupled weight decay, bias-corrected moments), PyTorch semantics, as graph nodes. */

import type { Graph, Tensor } from '../graph/graph.js';
import { gradientOf, type Gradients, type OptimizerUpdate, type ParamGroup, type StateVar } from './types.js';

export interface AdamWOptions {
  /** Learning rate: a scalar graph input. */
  lr: Tensor;
  /** 1-based step count t: a scalar graph input of the graph's float type (for the bias corrections). */
  step: Tensor;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (default 0.01; groups may override). */
  weightDecay?: number;
}

/**
 * For each parameter p with gradient g, with a = lr * lrScale:
 *   m' = b1 m + (1-b1) g;  v' = b2 v + (1-b2) g^2;
 *   p' = p (1 - a wd) - (a / (1 - b1^t)) m' / (sqrt(v') / sqrt(1 - b2^t) + eps).
 * Moments are state named `<param>.adam_m` / `<param>.adam_v`, starting at zero.
 */
export function adamw(g: Graph, groups: readonly ParamGroup[], grads: Gradients, opts: AdamWOptions): OptimizerUpdate {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = opts;
  const updated = new Map<Tensor, Tensor>();
  const state: StateVar[] = [];
  const [stepSize, sqrtBc2] = g.scope('adamw', () => {
    // beta^t = exp(t ln beta): the step count is a graph input.
    const bc1 = g.sub(1, g.exp(g.mul(opts.step, Math.log(beta1))));
    const bc2 = g.sub(1, g.exp(g.mul(opts.step, Math.log(beta2))));
    return [g.div(opts.lr, bc1), g.sqrt(bc2)];
  });
  for (const group of groups) {
    const scale = group.lrScale ?? 1;
    const wd = group.weightDecay ?? opts.weightDecay ?? 0.01;
    const groupStep = scale === 1 ? stepSize : g.mul(stepSize, scale);
    const decay = wd === 0 ? undefined : g.sub(1, g.mul(opts.lr, scale * wd));
    for (const p of group.params) {
      g.scope(`adamw/${p.name}`, () => {
        const gp = gradientOf(grads, p);
        const m = g.input(`${p.name}.adam_m`, p.shape);
        const v = g.input(`${p.name}.adam_v`, p.shape);
        const m2 = g.add(g.mul(m, beta1), g.mul(gp, 1 - beta1));
        const v2 = g.add(g.mul(v, beta2), g.mul(g.mul(gp, gp), 1 - beta2));
        state.push({ input: m, output: m2, init: 0 }, { input: v, output: v2, init: 0 });
        const denom = g.add(g.div(g.sqrt(v2), sqrtBc2), eps);
        const decayed = decay ? g.mul(p, decay) : p;
        updated.set(p, g.sub(decayed, g.mul(g.div(m2, denom), groupStep)));
      });
    }
  }
  return { updated, state };
}
