/** Trainer: learning on synthetic data, determinism, exact checkpoint resume, cancel, progress, fallback. */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Trainer, type TrainerOptions, type TrainProgress, type TrainResult } from '../../training/train/trainer.js';
import { MLP_PARTS } from '../../training/train/model.js';
import { twoBlobs, twoMeansAccuracy, TINY_ADAPTER } from './synthetic.js';

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-train-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function assertSameResult(a: TrainResult, b: TrainResult): void {
  for (const net of ['online', 'target'] as const) {
    for (const p of MLP_PARTS) assert.deepEqual(a[net].weights[p], b[net].weights[p], `${net}.${p} differs`);
  }
  assert.deepEqual(a.embeddings, b.embeddings);
  assert.deepEqual(a.history, b.history);
}

/** 23 steps in cycles of at most 5, pseudo-labels after one warm-up cycle. */
const CYCLED: TrainerOptions = { steps: 23, batchSize: 16, maxCycleSteps: 5, seed: 2, clusters: 3, warmupCycles: 1, adapter: TINY_ADAPTER };

describe('Trainer', () => {
  it('ProPos training lowers the alignment loss and clusters better than the raw features', async () => {
    const { data, classes } = twoBlobs(256, 32, 1);
    const raw = await twoMeansAccuracy(data.views[0], data.dim, classes);
    const result = await new Trainer(data, { epochs: 60, batchSize: 64, seed: 1, lr: 3, clusters: 4, adapter: TINY_ADAPTER }).run();
    const first = result.history[0].means;
    const last = result.history.at(-1)!.means;
    assert.ok(last.psa < 0.7 * first.psa, `PSA ${first.psa} -> ${last.psa}`);
    assert.ok(last.psl > 0 && result.history[0].means.psl === 0, 'PSL is off in warm-up and on afterwards');
    const trained = await twoMeansAccuracy(result.embeddings, TINY_ADAPTER.embedDim, classes);
    assert.ok(raw < 0.7, `raw features already cluster (${raw}): the test data is too easy`);
    assert.ok(trained > 0.9, `2-means accuracy raw ${raw} -> trained ${trained}`);
    // Embeddings are unit rows.
    for (let i = 0; i < 256; i += 37) {
      const row = result.embeddings.subarray(i * 16, (i + 1) * 16);
      assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-5);
    }
  });

  it('reports progress for every step and is deterministic given the seed', async () => {
    const { data } = twoBlobs(64, 8, 2);
    const progress: TrainProgress[] = [];
    const options: TrainerOptions = { method: 'byol', epochs: 3, batchSize: 16, seed: 3, adapter: TINY_ADAPTER };
    const a = await new Trainer(data, { ...options, onProgress: (p) => progress.push(p) }).run();
    assert.equal(a.steps, 12);
    assert.deepEqual(
      progress.map((p) => p.step),
      [...Array(12).keys()].map((i) => i + 1),
    );
    assert.ok(progress.every((p) => p.steps === 12 && p.samplesPerSec > 0 && p.etaSec >= 0 && Number.isFinite(p.losses.loss)));
    assert.equal(progress.at(-1)!.etaSec, 0);
    const b = await new Trainer(data, options).run();
    assertSameResult(a, b);
    const c = await new Trainer(data, { ...options, seed: 4 }).run();
    assert.notDeepEqual(a.embeddings, c.embeddings);
  });

  it('the CPU thread count changes speed, never results; left open, the trainer picks one and says which', async () => {
    const { data } = twoBlobs(128, 16, 2);
    const options: TrainerOptions = { epochs: 2, batchSize: 32, seed: 3, clusters: 4, warmupCycles: 1, adapter: TINY_ADAPTER };
    const one = await new Trainer(data, { ...options, threads: 1 }).run();
    const two = await new Trainer(data, { ...options, threads: 2 }).run();
    assertSameResult(one, two);
    assert.equal(one.threads, undefined, 'no choice made when the caller fixed the threads');
    const logs: string[] = [];
    const auto = await new Trainer(data, { ...options, onLog: (m) => logs.push(m) }).run();
    assertSameResult(one, auto);
    if (os.availableParallelism() > 1) {
      assert.ok(auto.threads === 1 || auto.threads === os.availableParallelism(), `threads ${auto.threads}`);
      assert.ok(
        logs.some((m) => /train step: \d+ CPU thread/.test(m)),
        logs.join('\n'),
      );
    }
  });

  for (const method of ['propos', 'moco'] as const) {
    it(`${method}: cancel + resume from the checkpoint is bit-identical to an uninterrupted run`, async () => {
      const { data } = twoBlobs(96, 8, 5, 3);
      // Neighbours and pinned albums exercise every random choice of the batch sampler.
      data.neighbors = Int32Array.from({ length: 96 * 2 }, (_, i) => (Math.floor(i / 2) + 1 + (i % 2)) % 96);
      data.pinned = Int32Array.from({ length: 96 }, (_, i) => (i < 12 ? i % 3 : -1));
      const options: TrainerOptions = { method, epochs: 4, batchSize: 16, seed: 9, clusters: 5, warmupCycles: 1, adapter: TINY_ADAPTER };
      const reference = await new Trainer(data, options).run();
      await withTempDir(async (dir) => {
        const file = path.join(dir, 'ckpt.bin');
        const controller = new AbortController();
        const interrupted = new Trainer(data, {
          ...options,
          checkpoint: { path: file, everySteps: 4 },
          signal: controller.signal,
          onProgress: (p) => {
            if (p.step === 10) controller.abort(); // mid-epoch 1 (6 steps per epoch)
          },
        });
        await assert.rejects(interrupted.run(), (err: Error) => err.name === 'AbortError');
        const logs: string[] = [];
        const resumed = await new Trainer(data, { ...options, checkpoint: { path: file }, onLog: (m) => logs.push(m) }).run();
        assert.ok(
          logs.some((m) => m.includes('resumed') && m.includes('step 10')),
          logs.join('\n'),
        );
        assertSameResult(reference, resumed);
        if (method === 'propos') {
          // Pinned photos keep their album's cluster.
          for (let i = 0; i < 12; i++) assert.equal(resumed.pseudoLabels![i], resumed.pseudoLabels![i % 3]);
          assert.equal(new Set([0, 1, 2].map((i) => resumed.pseudoLabels![i])).size, 3);
        }
        // Atomic writes leave no temporary files behind.
        assert.deepEqual(await readdir(dir), ['ckpt.bin']);
        // A checkpoint of other options is refused.
        await assert.rejects(new Trainer(data, { ...options, seed: 10, checkpoint: { path: file } }).run(), /different data or options/);
      });
    });
  }

  it('a step budget: cycles of at most maxCycleSteps refresh the pseudo-labels, and steps need not fill a cycle', async () => {
    const { data } = twoBlobs(256, 8, 7);
    // 256 photos / 16 per batch = 16 steps per pass; cycles capped at 5 steps; 23 steps = cycles of 5,5,5,5,3.
    const r = await new Trainer(data, CYCLED).run();
    assert.equal(r.steps, 23);
    assert.deepEqual(
      r.history.map((h) => h.steps),
      [5, 5, 5, 5, 3],
    );
    assert.equal(r.history[0].clustersUsed, undefined, 'warm-up cycle: no pseudo-labels');
    assert.ok(r.history.slice(1).every((h) => h.clustersUsed !== undefined && h.clustersUsed > 0));
    // `epochs` is shorthand for passes over the photos.
    const e = await new Trainer(data, { epochs: 2, batchSize: 16, seed: 2, method: 'byol', adapter: TINY_ADAPTER }).run();
    assert.equal(e.steps, 32);
  });

  it('several steps per run give what one step per run gives: cycles, their remainders, pseudo-labels; MoCo runs one', async () => {
    const { data } = twoBlobs(256, 8, 7);
    const options = { ...CYCLED, threads: 1 };
    const one = await new Trainer(data, options).run();
    const steps: number[] = [];
    const three = await new Trainer(data, { ...options, stepsPerRun: 3, onProgress: (p) => steps.push(p.step) }).run();
    assert.deepEqual(
      steps,
      Array.from({ length: 23 }, (_, i) => i + 1),
      'progress for every step',
    );
    assert.deepEqual(
      three.history.map((h) => h.steps),
      [5, 5, 5, 5, 3],
    );
    for (const net of ['online', 'target'] as const)
      for (const p of MLP_PARTS) {
        const [a, b] = [one[net].weights[p], three[net].weights[p]];
        const d = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
        assert.ok(d < 1e-5, `${net}.${p} differs by ${d}`);
      }
    one.history.forEach((h, c) => {
      assert.equal(h.clustersUsed, three.history[c].clustersUsed);
      for (const [k, v] of Object.entries(h.means))
        assert.ok(Math.abs(v - three.history[c].means[k]) < 1e-4 * Math.max(1, Math.abs(v)), `cycle ${c} ${k}`);
    });
    const moco = { ...options, method: 'moco' as const, steps: 6 };
    assertSameResult(await new Trainer(data, moco).run(), await new Trainer(data, { ...moco, stepsPerRun: 3 }).run());
  });

  it('a deadline that cannot be met shortens the run (annealing over the shorter run) and says so', async () => {
    // 512 photos at 16 a step: cycles of 32 steps, so the step time is measured at step 16, before any cycle ends.
    const { data } = twoBlobs(512, 8, 8);
    const logs: string[] = [];
    const r = await new Trainer(data, {
      steps: 1_000_000,
      batchSize: 16,
      seed: 2,
      method: 'byol',
      adapter: TINY_ADAPTER,
      deadline: Date.now() + 6000,
      onLog: (m) => logs.push(m),
    }).run();
    assert.equal(r.limitedBy, 'deadline');
    assert.ok(r.steps >= 16 && r.steps < 1_000_000, `ran ${r.steps} steps`);
    assert.ok(
      logs.some((m) => /deadline: 1000000 planned steps do not fit/.test(m)),
      logs.join('\n'),
    );
    const last = r.history.at(-1)!.means;
    assert.ok(last.lr < 0.5 * r.options.lr, `the learning rate was annealed to the end of the shorter run (last cycle mean ${last.lr})`);
  });

  for (const method of ['propos', 'moco'] as const) {
    it(`${method}: a warm start continues from the last run's networks, optimizer state${method === 'moco' ? ' and queue' : ' and centroids'}`, async () => {
      const { data } = twoBlobs(96, 8, 5);
      const base: TrainerOptions = { method, batchSize: 16, seed: 4, clusters: 3, warmupCycles: 1, adapter: TINY_ADAPTER };
      const first = await new Trainer(data, { ...base, steps: 12 }).run();
      assert.ok(Object.keys(first.state.tensors).length > 0);
      // A run of one step at a negligible learning rate starts where the first ended (EMA targets move by
      // (1 - momentum) * difference, which is then tiny too).
      const { warmupCycles: _, ...continuing } = base;
      const next = await new Trainer(data, { ...continuing, steps: 1, lr: 1e-9, warmStart: first.state }).run();
      assert.equal(next.options.warm, true);
      assert.equal(next.options.warmupCycles, 0, 'no BYOL-only warm-up when continuing');
      for (const p of MLP_PARTS) {
        const a = first.online.weights[p];
        const b = next.online.weights[p];
        if (p === 'bn.mean' || p === 'bn.var') continue; // running statistics move with the batch at any learning rate
        let diff = 0;
        for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
        assert.ok(diff < 1e-4, `online.${p} moved by ${diff}`);
      }
      const cold = await new Trainer(data, { ...base, steps: 1, lr: 1e-9 }).run();
      let coldDiff = 0;
      for (let i = 0; i < first.online.weights.w1.length; i++)
        coldDiff = Math.max(coldDiff, Math.abs(first.online.weights.w1[i] - cold.online.weights.w1[i]));
      assert.ok(coldDiff > 1e-3, 'a cold start is somewhere else');
      if (method === 'moco') assert.deepEqual(next.state.queue!.length, first.state.queue!.length);
      // A state of another adapter cannot be continued.
      await assert.rejects(
        new Trainer(data, { ...base, steps: 1, adapter: { ...TINY_ADAPTER, hiddenDim: 24 }, warmStart: first.state }).run(),
        /warm start: the earlier run has no/,
      );
    });
  }

  it('falls back to the CPU provider when the requested one cannot create a session', async () => {
    const { data } = twoBlobs(32, 8, 6);
    const logs: string[] = [];
    const r = await new Trainer(data, {
      method: 'byol',
      epochs: 1,
      batchSize: 16,
      adapter: TINY_ADAPTER,
      executionProviders: ['cuda'],
      onLog: (m) => logs.push(m),
    }).run();
    assert.deepEqual(r.providers, ['cpu']);
    assert.match(r.fallback ?? '', /cuda/);
    assert.ok(logs.some((m) => m.includes('CPU')));
  });

  it('rejects bad data', () => {
    assert.throws(() => new Trainer({ views: [new Float32Array(16)], dim: 8 }), /at least 2 views/);
    assert.throws(() => new Trainer({ views: [new Float32Array(16), new Float32Array(8)], dim: 8 }), /N x dim/);
  });
});
