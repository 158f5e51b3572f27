/** Loss functions: values against JS references, gradients against finite differences (float64, tiny sizes). */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../training/graph/graph.js';
import { byolLoss, mocoLoss, proposLoss, pslLoss, type PslNegatives } from '../../training/losses/index.js';
import { buildObjective, type TrainStepConfig } from '../../training/train/step.js';
import { declareMlp, adapterDims, predictorDims } from '../../training/train/model.js';
import { Rng } from '../../training/numeric/rng.js';
import { gradCheck, runOnce, type Feeds, type GradCheckCase } from './helpers.js';

const B = 3; // samples; stacked views have 2B rows
const E = 4;
const K = 3;

type Rows = number[][];

function randn(rng: Rng, rows: number, cols: number): Rows {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}
const flat = (r: Rows): Float64Array => Float64Array.from(r.flat());
const feed = (r: Rows): Feeds[string] => ({ data: flat(r), dims: [r.length, r[0].length] });
const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
const unit = (a: number[]): number[] => {
  const n = Math.sqrt(dot(a, a));
  return n > 0 ? a.map((v) => v / n) : a.map(() => 0);
};
const swap = (r: Rows): Rows => [...r.slice(r.length / 2), ...r.slice(0, r.length / 2)];
const logSumExp = (v: number[]): number => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};
const oneHot = (labels: number[]): Rows => labels.map((l) => Array.from({ length: K }, (_, k) => (k === l ? 1 : 0)));

function byolRef(p: Rows, t: Rows): number {
  const other = swap(t);
  return p.reduce((s, row, i) => s + 2 - 2 * dot(unit(row), unit(other[i])), 0) / p.length;
}

function pslRef(z: Rows, t: Rows, labels: number[], mask: number[], tau: number, negatives: PslNegatives): number {
  const protos = (rows: Rows, ls: number[]): Rows =>
    Array.from({ length: K }, (_, k) =>
      unit(rows.reduce((acc, r, i) => (ls[i] === k ? acc.map((v, j) => v + unit(r)[j]) : acc), new Array<number>(E).fill(0))),
    );
  const direction = (on: Rows, onL: number[], tg: Rows, tgL: number[]): number => {
    const P = protos(on, onL);
    const Q = protos(tg, tgL);
    let total = 0;
    for (let k = 0; k < K; k++) {
      if (!mask[k]) continue;
      const logits = [];
      for (let j = 0; j < K; j++) {
        if (!mask[j]) continue;
        logits.push((j === k || negatives === 'target' ? dot(P[k], Q[j]) : dot(P[k], P[j])) / tau);
      }
      total += logSumExp(logits) - dot(P[k], Q[k]) / tau;
    }
    return (
      total /
      Math.max(
        1,
        mask.reduce((a, b) => a + b, 0),
      )
    );
  };
  const half = (r: Rows | number[], i: number): never => r.slice(i * B, (i + 1) * B) as never;
  return (
    0.5 *
    (direction(half(z, 0), half(labels, 0), half(t, 1), half(labels, 1)) +
      direction(half(z, 1), half(labels, 1), half(t, 0), half(labels, 0)))
  );
}

function mocoRef(q: Rows, k: Rows, queue: Rows, tau: number): number {
  const keys = swap(k).map(unit);
  return (
    q.reduce((s, row, i) => {
      const u = unit(row);
      const logits = [dot(u, keys[i]) / tau, ...queue.map((n) => dot(u, n) / tau)];
      return s + logSumExp(logits) - logits[0];
    }, 0) / q.length
  );
}

/** PSL on the standard inputs z (online), t (target), y (one-hot labels), m (cluster mask), temperature 0.5. */
function pslOnInputs(g: Graph, negatives?: PslNegatives): Tensor {
  return pslLoss(g, {
    online: g.input('z', [2 * B, E]),
    target: g.input('t', [2 * B, E]),
    labels: g.input('y', [2 * B, K]),
    mask: g.input('m', [K]),
    temperature: 0.5,
    ...(negatives ? { negatives } : {}),
  });
}

async function value(build: (g: Graph) => Tensor, feeds: Feeds): Promise<number> {
  const g = new Graph('float64');
  const out = await runOnce(g.toModel({ value: build(g) }), feeds);
  return out.value[0] as number;
}

/** Gradient check; parameters listed in `zero` must have an exactly vanishing gradient (both ways). */
async function checkGrad(c: GradCheckCase, zero: readonly string[] = []): Promise<void> {
  const r = await gradCheck(c);
  for (const [name, p] of Object.entries(r.perParam)) {
    if (zero.includes(name)) {
      assert.ok(p.norm < 1e-8 && p.analyticNorm < 1e-8, `${name}: expected a zero gradient, got ${JSON.stringify(p)}`);
      continue;
    }
    assert.ok(p.norm > 1e-4, `degenerate check: ${name} has gradient norm ${p.norm}`);
    assert.ok(p.relError < 1e-6, `${name}: relative error ${p.relError}: ${JSON.stringify(r.perParam)}`);
  }
}

describe('loss values match JS references', () => {
  const rng = new Rng(5);
  const z = randn(rng, 2 * B, E);
  const t = randn(rng, 2 * B, E);
  // View 2 of sample 1 is a neighbour in another cluster; cluster 2 has no member: masked.
  const labels = [0, 1, 1, 0, 0, 1];
  const mask = [1, 1, 0];
  const feeds: Feeds = { z: feed(z), t: feed(t), y: feed(oneHot(labels)), m: { data: Float64Array.from(mask), dims: [K] } };

  it('BYOL', async () => {
    const v = await value((g) => byolLoss(g, g.input('z', [2 * B, E]), g.input('t', [2 * B, E])), feeds);
    assert.ok(Math.abs(v - byolRef(z, t)) < 1e-12, `${v} vs ${byolRef(z, t)}`);
  });

  for (const negatives of ['target', 'online'] as const) {
    it(`PSL with ${negatives} negatives, masking absent clusters`, async () => {
      const v = await value((g) => pslOnInputs(g, negatives), feeds);
      const ref = pslRef(z, t, labels, mask, 0.5, negatives);
      assert.ok(Math.abs(v - ref) < 1e-12, `${v} vs ${ref}`);
    });
  }

  it('PSL is zero when every cluster is masked (warm-up)', async () => {
    const v = await value((g) => pslOnInputs(g), { ...feeds, m: { data: new Float64Array(K), dims: [K] } });
    assert.equal(v, 0);
  });

  it('MoCo InfoNCE with a queue', async () => {
    const queue = randn(rng, 5, E).map(unit);
    const v = await value(
      (g) =>
        mocoLoss(g, { queries: g.input('z', [2 * B, E]), keys: g.input('t', [2 * B, E]), queue: g.input('q', [5, E]), temperature: 0.2 }),
      { ...feeds, q: feed(queue) },
    );
    assert.ok(Math.abs(v - mocoRef(z, t, queue, 0.2)) < 1e-12);
  });
});

describe('loss gradients match finite differences', () => {
  const rng = new Rng(11);
  const t = randn(rng, 2 * B, E);
  const labels = [0, 1, 1, 0, 2, 1];
  const common: Feeds = { t: feed(t), y: feed(oneHot(labels)), m: { data: Float64Array.of(1, 1, 0), dims: [K] } };

  it('BYOL (online side; the target is a constant)', async () => {
    await checkGrad({ build: (g) => byolLoss(g, g.param('p', [2 * B, E]), g.input('t', [2 * B, E])), feeds: common });
  });

  for (const negatives of ['target', 'online'] as const) {
    it(`PSL (${negatives} negatives)`, async () => {
      await checkGrad({
        build: (g) =>
          pslLoss(g, {
            online: g.param('z', [2 * B, E]),
            target: g.input('t', [2 * B, E]),
            labels: g.input('y', [2 * B, K]),
            mask: g.input('m', [K]),
            temperature: 0.5,
            negatives,
          }),
        feeds: common,
      });
    });
  }

  it('ProPos = PSA (noisy predictor input) + lambda * PSL', async () => {
    await checkGrad({
      build: (g) => {
        const z = g.param('z', [2 * B, E]);
        const w = g.param('w', [E, E]);
        return proposLoss(g, {
          online: z,
          target: g.input('t', [2 * B, E]),
          noise: g.input('eps', [2 * B, E]),
          sigma: 0.1,
          predictor: (x) => g.relu(g.matmul(x, w)),
          labels: g.input('y', [2 * B, K]),
          mask: g.input('m', [K]),
          lambda: 0.3,
          temperature: 0.5,
        }).total;
      },
      feeds: { ...common, eps: feed(randn(rng, 2 * B, E)) },
      seed: 4,
    });
  });

  it('MoCo', async () => {
    await checkGrad({
      build: (g) =>
        mocoLoss(g, {
          queries: g.param('q', [2 * B, E]),
          keys: g.input('t', [2 * B, E]),
          queue: g.input('queue', [4, E]),
          temperature: 0.2,
        }),
      feeds: { ...common, queue: feed(randn(rng, 4, E).map(unit)) },
    });
  });

  for (const method of ['propos', 'byol', 'moco'] as const) {
    it(`full ${method} objective through the adapter and predictor (BatchNorm included)`, async () => {
      const cfg: TrainStepConfig = {
        method,
        adapter: { inputDim: 5, hiddenDim: 6, embedDim: E, predictorHiddenDim: 5, bnEps: 1e-5 },
        batchSize: 4,
        clusters: K,
        temperature: method === 'moco' ? 0.2 : 0.5,
        negatives: 'target',
        queueSize: 4,
        optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
        predictorLrScale: 10,
        bnMomentum: 0.1,
        dtype: 'float64',
      };
      const r = new Rng(21);
      const rows = 2 * cfg.batchSize;
      const feeds: Feeds = {
        x: feed(randn(r, rows, 5)),
        noise: feed(randn(r, rows, E)),
        labels: feed(oneHot([0, 1, 1, 0, 0, 2, 1, 0])),
        mask: { data: Float64Array.of(1, 1, 0), dims: [K] },
        lambda: { data: Float64Array.of(0.5), dims: [] },
        sigma: { data: Float64Array.of(0.05), dims: [] },
        queue: feed(randn(r, 4, E).map(unit)),
      };
      // The target network is an input (random weights, BatchNorm statistics are outputs, not inputs, in training mode).
      const targetShapes = Object.entries({
        w1: [5, 6],
        'bn.gamma': [6],
        'bn.beta': [6],
        'bn.mean': [6],
        'bn.var': [6],
        w2: [6, E],
        b2: [E],
      });
      for (const [part, shape] of targetShapes)
        feeds[`target.${part}`] = { data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()), dims: shape };
      for (const net of ['online', 'predictor']) {
        for (const part of ['bn.mean', 'bn.var'])
          feeds[`${net}.${part}`] = {
            data: new Float64Array(net === 'online' ? 6 : 5).fill(part === 'bn.var' ? 1 : 0),
            dims: [net === 'online' ? 6 : 5],
          };
      }
      await checkGrad(
        {
          build: (g) => {
            const nets = {
              online: declareMlp(g, 'online', adapterDims(cfg.adapter), true),
              predictor: method === 'moco' ? undefined : declareMlp(g, 'predictor', predictorDims(cfg.adapter), true),
              target: declareMlp(g, 'target', adapterDims(cfg.adapter), false),
            };
            const x = g.input('x', [rows, 5]);
            const obj = buildObjective(g, cfg, nets, x);
            return obj.loss;
          },
          feeds,
          seed: 8,
        },
        // BYOL: the predictor's BatchNorm removes any constant shift of its input, so the adapter's output bias has no
        // effect on the loss (ProPos' PSL and MoCo use the adapter output directly).
        method === 'byol' ? ['online.b2'] : [],
      );
    });
  }
});

describe('loss behaviour', () => {
  it('PSL ignores the members of masked clusters', async () => {
    const rng = new Rng(3);
    const z = randn(rng, 2 * B, E);
    const t = randn(rng, 2 * B, E);
    const labels = [0, 1, 2, 0, 1, 2];
    const psl = (zz: Rows): Promise<number> =>
      value((g) => pslOnInputs(g), { z: feed(zz), t: feed(t), y: feed(oneHot(labels)), m: { data: Float64Array.of(1, 1, 0), dims: [K] } });
    const before = await psl(z);
    const moved = z.map((row, i) => (labels[i] === 2 ? row.map((v) => v * -3 + 1) : row));
    assert.equal(await psl(moved), before);
    const movedPresent = z.map((row, i) => (labels[i] === 0 ? row.map((v) => v * -3 + 1) : row));
    assert.notEqual(await psl(movedPresent), before);
  });
});
