/** Optimizer, EMA and schedule graphs against straightforward JS references (float64, CPU provider). */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../training/graph/graph.js';
import { adamw, cosineLr, emaMomentum, emaUpdate, sgd, type OptimizerUpdate, type ParamGroup } from '../../training/optim/index.js';
import { Rng } from '../../training/numeric/rng.js';
import { maxAbsDiff, Runner, type Feeds } from './helpers.js';

const SHAPES: Record<string, number[]> = { w: [3, 4], b: [4], p: [2, 2] };

interface Setup {
  model: Runner;
  update: OptimizerUpdate;
  params: Tensor[];
}

/** A graph whose gradients are inputs `grad:<name>`, so the optimizer alone is under test. */
async function setup(build: (g: Graph, groups: ParamGroup[], grads: Map<Tensor, Tensor>) => OptimizerUpdate): Promise<Setup> {
  const g = new Graph('float64');
  const params = Object.entries(SHAPES).map(([n, s]) => g.param(n, s));
  const grads = new Map(params.map((p) => [p, g.input(`grad:${p.name}`, p.shape)]));
  const groups: ParamGroup[] = [
    { name: 'weights', params: [params[0]] },
    { name: 'biases', params: [params[1]], weightDecay: 0 },
    { name: 'predictor', params: [params[2]], lrScale: 10 },
  ];
  const update = build(g, groups, grads);
  const outputs: Record<string, Tensor> = {};
  for (const [p, next] of update.updated) outputs[`${p.name}.next`] = next;
  for (const s of update.state) outputs[`${s.input.name}.next`] = s.output;
  return { model: await Runner.open(g.toModel(outputs)), update, params };
}

const groupOf = (name: string): { lrScale: number; decays: boolean } =>
  name === 'p' ? { lrScale: 10, decays: true } : name === 'b' ? { lrScale: 1, decays: false } : { lrScale: 1, decays: true };

/** Run `steps` optimizer steps in the graph, feeding outputs back, and in `reference`; compare every value. */
async function compare(
  s: Setup,
  hyper: (t: number) => Feeds,
  reference: (name: string, p: Float64Array, gr: Float64Array, state: Record<string, Float64Array>, t: number) => void,
): Promise<void> {
  const rng = new Rng(7);
  const values: Record<string, Float64Array> = {};
  const refState: Record<string, Record<string, Float64Array>> = {};
  for (const p of s.params) {
    values[p.name] = Float64Array.from({ length: p.size }, () => rng.normal());
    refState[p.name] = {};
  }
  for (const st of s.update.state) values[st.input.name] = new Float64Array(st.input.size).fill(st.init);
  const ref = Object.fromEntries(s.params.map((p) => [p.name, Float64Array.from(values[p.name])]));
  try {
    for (let t = 1; t <= 4; t++) {
      const feeds: Feeds = { ...hyper(t) };
      for (const [k, v] of Object.entries(values)) feeds[k] = { data: v, dims: [v.length] };
      for (const p of s.params) {
        feeds[p.name].dims = p.shape;
        const gr = Float64Array.from({ length: p.size }, () => rng.normal());
        feeds[`grad:${p.name}`] = { data: gr, dims: p.shape };
        reference(p.name, ref[p.name], gr, refState[p.name], t);
      }
      for (const st of s.update.state) feeds[st.input.name].dims = st.input.shape;
      const out = await s.model.run(feeds);
      for (const p of s.params) {
        values[p.name] = out[`${p.name}.next`] as Float64Array;
        assert.ok(maxAbsDiff(values[p.name], ref[p.name]) < 1e-12, `${p.name} differs at step ${t}`);
        assert.ok(maxAbsDiff(values[p.name], feeds[p.name].data as Float64Array) > 1e-6, `${p.name} did not move`);
      }
      for (const st of s.update.state) values[st.input.name] = out[`${st.input.name}.next`] as Float64Array;
    }
  } finally {
    await s.model.release();
  }
}

describe('optimizers match JS references over several steps', () => {
  const lrAt = (t: number): number => 0.1 / t;

  it('SGD with momentum, weight decay and per-group LR scale', async () => {
    const mu = 0.9;
    const wd = 0.01;
    const s = await setup((g, groups, grads) => sgd(g, groups, grads, { lr: g.input('lr', []), momentum: mu, weightDecay: wd }));
    assert.deepEqual(s.update.state.map((st) => st.input.name).sort(), ['b.momentum', 'p.momentum', 'w.momentum']);
    await compare(
      s,
      (t) => ({ lr: { data: Float64Array.of(lrAt(t)), dims: [] } }),
      (name, p, gr, state, t) => {
        const { lrScale, decays } = groupOf(name);
        const buf = (state.buf ??= new Float64Array(p.length));
        for (let i = 0; i < p.length; i++) {
          const d = gr[i] + (decays ? wd * p[i] : 0);
          buf[i] = mu * buf[i] + d;
          p[i] -= lrAt(t) * lrScale * buf[i];
        }
      },
    );
  });

  it('SGD with Nesterov momentum', async () => {
    const mu = 0.8;
    const s = await setup((g, groups, grads) => sgd(g, groups, grads, { lr: g.input('lr', []), momentum: mu, nesterov: true }));
    await compare(
      s,
      (t) => ({ lr: { data: Float64Array.of(lrAt(t)), dims: [] } }),
      (name, p, gr, state, t) => {
        const { lrScale } = groupOf(name);
        const buf = (state.buf ??= new Float64Array(p.length));
        for (let i = 0; i < p.length; i++) {
          buf[i] = mu * buf[i] + gr[i];
          p[i] -= lrAt(t) * lrScale * (gr[i] + mu * buf[i]);
        }
      },
    );
  });

  it('AdamW with bias correction from the step input', async () => {
    const [b1, b2, eps, wd] = [0.9, 0.99, 1e-8, 0.05];
    const s = await setup((g, groups, grads) =>
      adamw(g, groups, grads, { lr: g.input('lr', []), step: g.input('step', []), beta1: b1, beta2: b2, eps, weightDecay: wd }),
    );
    await compare(
      s,
      (t) => ({ lr: { data: Float64Array.of(lrAt(t)), dims: [] }, step: { data: Float64Array.of(t), dims: [] } }),
      (name, p, gr, state, t) => {
        const { lrScale, decays } = groupOf(name);
        const lr = lrAt(t) * lrScale;
        const m = (state.m ??= new Float64Array(p.length));
        const v = (state.v ??= new Float64Array(p.length));
        for (let i = 0; i < p.length; i++) {
          m[i] = b1 * m[i] + (1 - b1) * gr[i];
          v[i] = b2 * v[i] + (1 - b2) * gr[i] * gr[i];
          const mHat = m[i] / (1 - b1 ** t);
          const vHat = v[i] / (1 - b2 ** t);
          p[i] = p[i] * (1 - (decays ? lr * wd : 0)) - (lr * mHat) / (Math.sqrt(vHat) + eps);
        }
      },
    );
  });
});

describe('EMA target update', () => {
  it('target = m * target + (1 - m) * online', async () => {
    const g = new Graph('float64');
    const target = g.input('t', [5]);
    const online = g.input('o', [5]);
    const [next] = emaUpdate(g, [{ target, online }], g.input('m', []));
    const runner = await Runner.open(g.toModel({ next }));
    try {
      const t = Float64Array.of(1, -2, 3, 0.5, 0);
      const o = Float64Array.of(0, 4, 3, -0.5, 2);
      for (const m of [0, 0.996, 1]) {
        const out = (await runner.run({ t: { data: t, dims: [5] }, o: { data: o, dims: [5] }, m: { data: Float64Array.of(m), dims: [] } }))
          .next as Float64Array;
        assert.ok(
          maxAbsDiff(
            out,
            Array.from(t, (v, i) => m * v + (1 - m) * o[i]),
          ) < 1e-15,
        );
      }
    } finally {
      await runner.release();
    }
  });
});

describe('schedules', () => {
  it('cosine learning rate: warm-up, start, middle, end', () => {
    assert.equal(cosineLr(0, 100, 1, { warmupSteps: 10 }), 0.1);
    assert.equal(cosineLr(9, 100, 1, { warmupSteps: 10 }), 1);
    assert.equal(cosineLr(10, 100, 1, { warmupSteps: 10 }), 1);
    assert.ok(Math.abs(cosineLr(55, 100, 1, { warmupSteps: 10 }) - 0.5) < 1e-12);
    assert.ok(Math.abs(cosineLr(100, 100, 1, { min: 0.01 }) - 0.01) < 1e-12);
    for (let t = 11; t < 100; t++) assert.ok(cosineLr(t, 100, 1, { warmupSteps: 10 }) < cosineLr(t - 1, 100, 1, { warmupSteps: 10 }));
  });
  it('EMA momentum rises from base to 1 on a cosine', () => {
    assert.equal(emaMomentum(0, 50), 0.996);
    assert.equal(emaMomentum(50, 50), 1);
    assert.ok(Math.abs(emaMomentum(25, 50) - 0.998) < 1e-12);
  });
});
