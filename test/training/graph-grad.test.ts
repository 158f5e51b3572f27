/** Every differentiable op's gradient against central finite differences (float64, CPU provider). */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../training/graph/graph.js';
import { batchNorm, cosineSimilarity, hardSwish, l2Normalize, squeezeExcite } from '../../training/graph/nn.js';
import { Rng } from '../../training/numeric/rng.js';
import { awayFromZero, gradCheck, runOnce, uniform, type GradCheckCase } from './helpers.js';

const TOL = 1e-6;

async function check(c: GradCheckCase, tol = TOL): Promise<void> {
  const r = await gradCheck(c);
  assert.ok(r.minGradNorm > 1e-3, `degenerate check: gradient norm ${r.minGradNorm}`);
  assert.ok(r.maxRelError < tol, `relative error ${r.maxRelError} >= ${tol}: ${JSON.stringify(r.perParam)}`);
}

const positive = uniform(0.5, 2);

describe('elementwise gradients with broadcasting', () => {
  it('Add', async () => {
    await check({ build: (g) => g.add(g.param('a', [2, 3]), g.param('b', [3])) });
    await check({ build: (g) => g.add(g.param('a', [2, 1]), g.param('b', [1, 3])) });
    await check({ build: (g) => g.add(2.5, g.param('a', [3])) });
  });
  it('Sub', async () => {
    await check({ build: (g) => g.sub(g.param('a', [2, 3]), g.param('b', [2, 1])) });
    await check({ build: (g) => g.sub(1, g.param('a', [4])) });
  });
  it('Mul', async () => {
    await check({ build: (g) => g.mul(g.param('a', [3, 1, 2]), g.param('b', [4, 2])) });
    await check({ build: (g) => g.mul(g.param('a', [3]), g.param('a2', [])) });
  });
  it('Div', async () => {
    await check({ build: (g) => g.div(g.param('a', [2, 3]), g.param('b', [3])), samplers: { b: awayFromZero(0.5, 1.5) } });
    await check({ build: (g) => g.div(1, g.param('b', [2, 2])), samplers: { b: awayFromZero(0.5, 1.5) } });
  });
  it('Neg', async () => {
    await check({ build: (g) => g.neg(g.param('a', [2, 3])) });
  });
  it('Relu (away from the kink)', async () => {
    await check({ build: (g) => g.relu(g.param('a', [3, 4])), samplers: { a: awayFromZero(0.05, 1) } });
  });
  it('Clip', async () => {
    const sampler = awayFromZero(0.05, 1.2);
    await check({
      build: (g) => g.clip(g.param('a', [4, 5]), -0.5, 0.5),
      samplers: { a: (rng, n) => sampler(rng, n).map((v) => (Math.abs(Math.abs(v) - 0.5) < 0.05 ? v * 1.3 : v)) },
    });
    await check({ build: (g) => g.clip(g.param('a', [6]), 0.1), samplers: { a: awayFromZero(0.2, 1) } });
    await check({ build: (g) => g.clip(g.param('a', [6]), undefined, 0.1), samplers: { a: awayFromZero(0.2, 1) } });
  });
  it('Sqrt, Exp, Log', async () => {
    await check({ build: (g) => g.sqrt(g.param('a', [2, 3])), samplers: { a: positive } });
    await check({ build: (g) => g.exp(g.param('a', [2, 3])) });
    await check({ build: (g) => g.log(g.param('a', [2, 3])), samplers: { a: positive } });
  });
  it('Pow with constant exponents', async () => {
    for (const p of [2, 3, 0.5, -1.5]) {
      await check({ build: (g) => g.pow(g.param('a', [5]), p), samplers: { a: positive } });
    }
  });
  it('Where', async () => {
    await check({
      build: (g) => g.where(g.greater(g.input('c', [2, 3]), 0), g.param('a', [2, 3]), g.param('b', [3])),
      feeds: { c: { data: Float64Array.of(1, -1, 1, -1, -1, 1), dims: [2, 3] } },
    });
  });
  it('Expand', async () => {
    await check({ build: (g) => g.expand(g.param('a', [3, 1]), [2, 3, 4]) });
  });
  it('Identity', async () => {
    await check({ build: (g) => g.identity(g.param('a', [3])) });
  });
});

describe('linear algebra gradients', () => {
  it('MatMul 2-D', async () => {
    await check({ build: (g) => g.matmul(g.param('a', [3, 4]), g.param('b', [4, 2])) });
  });
  it('MatMul batched x 2-D', async () => {
    await check({ build: (g) => g.matmul(g.param('a', [2, 3, 4]), g.param('b', [4, 2])) });
  });
  it('MatMul with broadcast batch dimensions', async () => {
    await check({ build: (g) => g.matmul(g.param('a', [2, 1, 3, 4]), g.param('b', [3, 4, 2])) });
  });
  it('Gemm, all transpose combinations, alpha/beta, broadcast C', async () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        await check({
          build: (g) => {
            const a = g.param('a', transA ? [4, 3] : [3, 4]);
            const b = g.param('b', transB ? [2, 4] : [4, 2]);
            return g.gemm(a, b, g.param('c', [2]), { transA, transB, alpha: 0.7, beta: 1.3 });
          },
        });
      }
    }
    await check({ build: (g) => g.gemm(g.param('a', [3, 4]), g.param('b', [4, 2]), g.param('c', [3, 1])) });
    await check({ build: (g) => g.gemm(g.param('a', [3, 4]), g.param('b', [4, 2]), g.param('c', [3, 2]), { beta: 0.5 }) });
  });
});

describe('reduction and normalization gradients', () => {
  it('ReduceSum', async () => {
    await check({ build: (g) => g.reduceSum(g.param('a', [2, 3, 2]), [1]) });
    await check({ build: (g) => g.reduceSum(g.param('a', [2, 3, 2]), [0, -1], true) });
    await check({ build: (g) => g.reduceSum(g.param('a', [2, 3])) });
  });
  it('ReduceMean', async () => {
    await check({ build: (g) => g.reduceMean(g.param('a', [2, 3, 2]), [1]) });
    await check({ build: (g) => g.reduceMean(g.param('a', [2, 3, 2]), [0, 2], true) });
    await check({ build: (g) => g.reduceMean(g.param('a', [4])) });
  });
  it('ReduceSumSquare', async () => {
    await check({ build: (g) => g.reduceSumSquare(g.param('a', [2, 3, 2]), [1]) });
    await check({ build: (g) => g.reduceSumSquare(g.param('a', [2, 3, 2]), [0, 2], true) });
    await check({ build: (g) => g.reduceSumSquare(g.param('a', [4])) });
  });
  it('Softmax and LogSoftmax', async () => {
    await check({ build: (g) => g.softmax(g.param('a', [3, 4])) });
    await check({ build: (g) => g.softmax(g.param('a', [3, 4]), 0) });
    await check({ build: (g) => g.logSoftmax(g.param('a', [3, 4])) });
    await check({ build: (g) => g.logSoftmax(g.param('a', [2, 3, 2]), 1) });
  });
  it('batch normalization in training mode (statistics included)', async () => {
    await check({
      build: (g) => batchNorm(g, g.param('x', [5, 3]), g.param('gamma', [3]), g.param('beta', [3])).y,
    });
    // Per-view statistics: x [views, batch, C], normalized over the batch axis only.
    await check({
      build: (g) => batchNorm(g, g.param('x', [2, 4, 3]), g.param('gamma', [3]), g.param('beta', [3]), { axes: [1] }).y,
    });
  });
  it('L2 normalization and cosine similarity', async () => {
    await check({ build: (g) => l2Normalize(g, g.param('x', [3, 4])) });
    await check({ build: (g) => cosineSimilarity(g, g.param('a', [3, 4]), g.param('b', [3, 4])) });
  });
});

describe('convolution gradients (float32, as ORT runs Conv: linear in each parameter, so differences are exact)', () => {
  const conv = (x: number[], w: number[], opts: Parameters<Graph['conv2d']>[3], bias = true): GradCheckCase => ({
    dtype: 'float32',
    h: 0.5,
    build: (g) => g.conv2d(g.param('x', x), g.param('w', w), bias ? g.param('b', [w[0]]) : undefined, opts),
  });
  it('3x3, stride 1, same padding, with bias', async () => {
    await check(conv([2, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }), 1e-4);
  });
  it('stride 2 where it does not divide the input, uneven padding', async () => {
    await check(conv([1, 2, 6, 7], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }), 1e-4);
    await check(conv([2, 2, 7, 6], [2, 2, 5, 5], { strides: [2, 2], pads: [1, 2, 2, 1] }, false), 1e-4);
  });
  it('depthwise (group = channels), stride 2', async () => {
    await check(conv([2, 4, 7, 7], [4, 1, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], group: 4 }), 1e-4);
  });
  it('grouped, and pointwise (1x1)', async () => {
    await check(conv([1, 4, 4, 4], [6, 2, 3, 3], { group: 2 }), 1e-4);
    await check(conv([2, 3, 4, 4], [5, 3, 1, 1], {}), 1e-4);
  });
  it('hard swish (away from its kinks at -3 and 3) and squeeze-excite', async () => {
    await check({ build: (g) => hardSwish(g, g.param('x', [4, 5])), samplers: { x: uniform(-2.9, 2.9) } });
    // Nonlinear and float32: central differences with a small step, so a looser bound.
    await check(
      {
        dtype: 'float32',
        h: 1e-2,
        build: (g) =>
          squeezeExcite(
            g,
            g.param('x', [2, 4, 3, 3]),
            { w: g.param('w1', [2, 4, 1, 1]), b: g.param('b1', [2]) },
            { w: g.param('w2', [4, 2, 1, 1]), b: g.param('b2', [4]) },
          ),
        samplers: { b1: uniform(0.5, 1), b2: uniform(-1, 1) },
      },
      5e-3,
    );
  });
  it('the forward pass is the convolution it claims (strided, padded, grouped)', async () => {
    const g = new Graph('float32');
    const [n, c, h, w, m, k, group, s, p] = [1, 4, 6, 5, 6, 3, 2, 2, 1];
    const x = g.input('x', [n, c, h, w]);
    const wt = g.input('w', [m, c / group, k, k]);
    const y = g.conv2d(x, wt, undefined, { strides: [s, s], pads: [p, p, p, p], group });
    const rng = new Rng(4);
    const xv = Float32Array.from({ length: n * c * h * w }, () => rng.next() - 0.5);
    const wv = Float32Array.from({ length: m * (c / group) * k * k }, () => rng.next() - 0.5);
    const out = (await runOnce(g.toModel({ y }), { x: { data: xv, dims: x.shape }, w: { data: wv, dims: wt.shape } })).y as Float32Array;
    const [ho, wo] = [y.shape[2], y.shape[3]];
    assert.deepEqual(y.shape, [1, 6, 3, 3]);
    for (let o = 0; o < m; o++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++) {
          let want = 0;
          const first = Math.floor(o / (m / group)) * (c / group);
          for (let ci = 0; ci < c / group; ci++)
            for (let a = 0; a < k; a++)
              for (let b = 0; b < k; b++) {
                const [r, q] = [i * s + a - p, j * s + b - p];
                if (r >= 0 && q >= 0 && r < h && q < w)
                  want += xv[((first + ci) * h + r) * w + q] * wv[((o * (c / group) + ci) * k + a) * k + b];
              }
          assert.ok(Math.abs(out[(o * ho + i) * wo + j] - want) < 1e-5, `y[${o},${i},${j}]`);
        }
    assert.throws(() => g.conv2d(x, g.input('w2', [6, 3, 3, 3]), undefined, { group: 2 }), /group 2/);
  });
});

describe('shape op gradients', () => {
  it('Transpose', async () => {
    await check({ build: (g) => g.transpose(g.param('a', [2, 3, 4]), [2, 0, 1]) });
    await check({ build: (g) => g.transpose(g.param('a', [2, 3])) });
  });
  it('Reshape, Unsqueeze, Squeeze', async () => {
    await check({ build: (g) => g.mul(g.reshape(g.param('a', [2, 3, 2]), [3, -1]), g.param('b', [4])) });
    await check({ build: (g) => g.mul(g.unsqueeze(g.param('a', [2, 3]), [0, 3]), g.param('b', [2, 1, 3, 2])) });
    await check({ build: (g) => g.mul(g.squeeze(g.param('a', [1, 3, 1])), g.param('b', [2, 3])) });
  });
  it('Concat', async () => {
    await check({
      build: (g) => g.concat([g.param('a', [2, 1]), g.input('k', [2, 2]), g.param('b', [2, 3])], 1),
      feeds: { k: { data: Float64Array.of(1, 2, 3, 4), dims: [2, 2] } },
    });
  });
  it('Slice (negative bounds, clamping, steps)', async () => {
    await check({ build: (g) => g.slice(g.param('a', [4, 5]), [1, -4], [3, 100], [0, 1]) });
    await check({ build: (g) => g.slice(g.param('a', [5, 7]), [0, 1], [5, 7], [0, 1], [2, 3]) });
    await check({ build: (g) => g.slice(g.param('a', [3, 6]), [1], [6], [-1], [2]) });
  });
  it('Gather (repeated indices accumulate)', async () => {
    await check({
      build: (g) => g.gather(g.param('a', [4, 3]), g.input('i', [5], 'int64'), 0),
      feeds: { i: { data: BigInt64Array.of(2n, 0n, 2n, -1n, 2n), dims: [5] } },
    });
    await check({
      build: (g) => g.gather(g.param('a', [2, 4]), g.input('i', [2, 2], 'int64'), 1),
      feeds: { i: { data: BigInt64Array.of(3n, 1n, 1n, 0n), dims: [2, 2] } },
    });
  });
});

describe('composite graphs', () => {
  it('two-layer MLP with cross-entropy', async () => {
    const build = (g: Graph): Tensor => {
      const x = g.input('x', [4, 3]);
      const h = g.relu(g.gemm(x, g.param('w1', [3, 5]), g.param('b1', [5])));
      const logits = g.matmul(h, g.param('w2', [5, 2]));
      const labels = g.input('y', [4, 2]);
      return g.neg(g.reduceMean(g.reduceSum(g.mul(g.logSoftmax(logits), labels), [1])));
    };
    await check({
      build,
      feeds: {
        x: { data: Float64Array.of(1, -2, 0.5, 0.3, 0.8, -1, 2, 1, 1, -0.4, 0.2, 0.9), dims: [4, 3] },
        y: { data: Float64Array.of(1, 0, 0, 1, 0, 1, 1, 0), dims: [4, 2] },
      },
      seed: 3,
    });
  });
  it('a parameter used several times accumulates its gradient', async () => {
    await check({
      build: (g) => {
        const w = g.param('w', [3, 3]);
        return g.add(g.matmul(w, w), g.mul(w, g.exp(w)));
      },
    });
  });
});
