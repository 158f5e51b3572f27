/** Neural-network building blocks composed from the differentiable primitives of {@link Graph}. */

import { normAxes } from './shape.js';
import type { Graph, Tensor } from './graph.js';

/** x / sqrt(sum(x^2, axis) + eps): unit L2 norm along `axis`; a zero vector stays zero. */
export function l2Normalize(g: Graph, x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const norm = g.sqrt(g.add(g.reduceSumSquare(x, [axis], true), eps));
  return g.div(x, norm);
}

/** Cosine similarity of `a` and `b` along `axis` (that axis is removed). */
export function cosineSimilarity(g: Graph, a: Tensor, b: Tensor, axis = -1): Tensor {
  return g.reduceSum(g.mul(l2Normalize(g, a, axis), l2Normalize(g, b, axis)), [axis]);
}

/** x W (+ b) for x [N, in], W [in, out] and b [out]: one Gemm. */
export function linear(g: Graph, x: Tensor, w: Tensor, b?: Tensor): Tensor {
  return g.gemm(x, w, b);
}

export interface BatchNormOptions {
  /** Axes the statistics are taken over (default: all but the last). */
  axes?: readonly number[];
  /** Added to the variance (default 1e-5, as PyTorch). */
  eps?: number;
}

export interface BatchNormResult {
  y: Tensor;
  /** Batch mean, with the reduced axes kept as size 1. */
  mean: Tensor;
  /** Biased batch variance (divided by the count), reduced axes kept. */
  variance: Tensor;
  /** Number of values each statistic was taken over (for the unbiased running variance). */
  count: number;
}

/**
 * Batch normalization in training mode: normalize with the batch's own mean and variance, then scale by `gamma` and
 * shift by `beta` (both broadcast against the kept axes, e.g. shape [C] for x [..., C]). Differentiable, gradients
 * flow through the statistics; the backward pass uses the closed form
 *   dx = gamma / std * (dy - mean(dy) - xhat * mean(dy * xhat))   (means over the normalized axes)
 * instead of the chain rule through every primitive, which needs about half the passes over x.
 */
export function batchNorm(g: Graph, x: Tensor, gamma: Tensor, beta: Tensor, opts: BatchNormOptions = {}): BatchNormResult {
  const axes = normAxes(opts.axes ?? x.shape.slice(0, -1).map((_, i) => i), x.rank);
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  let mean!: Tensor;
  let variance!: Tensor;
  let invStd!: Tensor;
  let xhat!: Tensor;
  const y = g.composite(
    [x, gamma, beta],
    () => {
      mean = g.reduceMean(x, axes, true);
      const centered = g.sub(x, mean);
      variance = g.mul(g.reduceSumSquare(centered, axes, true), 1 / count);
      invStd = g.div(1, g.sqrt(g.add(variance, opts.eps ?? 1e-5)));
      xhat = g.mul(centered, invStd);
      return g.add(g.mul(xhat, gamma), beta);
    },
    (gy, needs) => {
      // Per-statistics-group sums (kept axes), shared by all three gradients.
      const sumDy = g.reduceSum(gy, axes, true);
      const sumDyXhat = g.reduceSum(g.mul(gy, xhat), axes, true);
      let dx: Tensor | undefined;
      if (needs[0]) {
        const k = g.mul(invStd, gamma);
        const slope = g.mul(k, g.mul(sumDyXhat, 1 / count));
        const offset = g.mul(k, g.mul(sumDy, 1 / count));
        dx = g.sub(g.mul(gy, k), g.add(g.mul(xhat, slope), offset));
      }
      return [dx, needs[1] ? g.unbroadcast(sumDyXhat, gamma.shape) : undefined, needs[2] ? g.unbroadcast(sumDy, beta.shape) : undefined];
    },
  );
  return { y, mean, variance, count };
}

/** Hard swish, x * relu6(x + 3) * scale (MobileNetV3's activation; `scale` is 1/6, or what a converted model stores). */
export function hardSwish(g: Graph, x: Tensor, scale = 1 / 6): Tensor {
  return g.mul(x, g.mul(g.clip(g.add(x, 3), 0, 6), scale));
}

/**
 * Squeeze-and-excite on NCHW `x`: each channel scaled by a gate computed from the channel means through a reducing
 * 1x1 convolution, ReLU, an expanding one and a hard sigmoid (relu6(v + 3) * scale), as in MobileNetV3.
 */
export function squeezeExcite(
  g: Graph,
  x: Tensor,
  reduce: { w: Tensor; b: Tensor },
  expand: { w: Tensor; b: Tensor },
  scale = 1 / 6,
): Tensor {
  const pooled = g.reduceMean(x, [2, 3], true);
  const hidden = g.relu(g.conv2d(pooled, reduce.w, reduce.b));
  const gate = g.mul(g.clip(g.add(g.conv2d(hidden, expand.w, expand.b), 3), 0, 6), scale);
  return g.mul(x, gate);
}
