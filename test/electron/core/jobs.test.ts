/**
 * Job steps and the overall ETA: steps move forward one at a time, the overall ETA is the current stage's time left
 * plus the estimator's price of what follows, and seconds per item learned by one job price the next job's steps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';
import type { JobInfo } from '../../../electron/core/api/contract.js';
import { getSetting, openDatabase } from '../../../electron/core/db/database.js';
import { DEFAULT_SECONDS_PER, JobContext, JobManager } from '../../../electron/core/jobs.js';
import { tmpDir } from '../../helpers/images.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function context(events: JobInfo[], rates: Record<string, number> = {}): JobContext {
  const info: JobInfo = { id: 'j', kind: 'organize', state: 'running', stage: null, done: 0, total: 0, rate: 0, etaSec: null, message: '', startedAt: Date.now(), finishedAt: null };
  return new JobContext(info, new AbortController(), (j) => events.push(j), rates);
}

const STEPS = [
  { id: 'scan', label: 'Find photos' },
  { id: 'embed', label: 'Look at photos' },
  { id: 'albums', label: 'Make albums' },
  { id: 'refine', label: 'Refine' },
] as const;

test('steps: one active at a time, earlier ones done or skipped, and the events carry copies', () => {
  const events: JobInfo[] = [];
  const ctx = context(events);
  ctx.planSteps(STEPS, () => ({}));
  ctx.enterStep('scan');
  ctx.enterStep('albums'); // embed had nothing to do
  const states = (j: JobInfo) => j.steps!.map((s) => s.state);
  assert.deepEqual(states(events.at(-1)!), ['done', 'skipped', 'active', 'pending']);
  const snapshot = events.at(-1)!;
  ctx.setRefining(true); // refining is the refine step
  assert.deepEqual(states(snapshot), ['done', 'skipped', 'active', 'pending'], 'an emitted event is not changed afterwards');
  assert.deepEqual(states(events.at(-1)!), ['done', 'skipped', 'done', 'active']);
  ctx.endSteps();
  ctx.flush();
  assert.deepEqual(states(events.at(-1)!), ['done', 'skipped', 'done', 'done']);
  assert.equal(events.at(-1)!.overallEtaSec, 0);
});

test('a step that never ran ends as skipped; a job without steps has no overall ETA', () => {
  const events: JobInfo[] = [];
  const ctx = context(events);
  ctx.planSteps(STEPS, () => ({}));
  ctx.enterStep('scan');
  ctx.enterStep('embed');
  ctx.enterStep('albums');
  ctx.endSteps();
  ctx.flush();
  assert.deepEqual(events.at(-1)!.steps!.map((s) => s.state), ['done', 'done', 'done', 'skipped']);
  const plain: JobInfo[] = [];
  const other = context(plain);
  other.stage('export', 10, 'Exporting');
  other.progress(3);
  other.flush();
  assert.equal(plain.at(-1)!.overallEtaSec, undefined);
  assert.equal(plain.at(-1)!.unit, 'photos');
});

test("the overall ETA is the stage's time left plus what the estimator says follows, and uses the measured rate once there is one", (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const events: JobInfo[] = [];
  const ctx = context(events, { 'embed:photos': 0.1 });
  const seen: { stage: string | null; unit: string | undefined }[] = [];
  ctx.planSteps(STEPS, (job, per) => {
    seen.push({ stage: job.stage, unit: job.unit });
    return { albums: 5, refine: 100 * per('objects:photos') };
  });
  ctx.enterStep('embed');
  ctx.stage('embed', 200, 'Embedding 200 photos');
  // No rate measured yet: 200 photos at the learned 0.1 s, plus 5 s, plus 100 photos at the default objects rate.
  const expected0 = 200 * 0.1 + 5 + 100 * DEFAULT_SECONDS_PER['objects:photos'];
  assert.ok(Math.abs(events.at(-1)!.overallEtaSec! - expected0) < 1e-9, `${events.at(-1)!.overallEtaSec} vs ${expected0}`);
  // 50 photos in 10 s: 5/s, so 150 left take 30 s.
  t.mock.timers.tick(10_000);
  ctx.progress(50);
  ctx.flush();
  const last = events.at(-1)!;
  assert.ok(Math.abs(last.etaSec! - 30) < 1e-6, `stage ETA ${last.etaSec}`);
  assert.ok(Math.abs(last.overallEtaSec! - (30 + 5 + 100 * DEFAULT_SECONDS_PER['objects:photos'])) < 1e-6);
  assert.deepEqual(seen.at(-1), { stage: 'embed', unit: 'photos' });
  // A stage in other units prices itself by its own key.
  ctx.stage('train', 1000, 'Training', 'steps');
  assert.equal(events.at(-1)!.unit, 'steps');
  assert.ok(Math.abs(events.at(-1)!.overallEtaSec! - (1000 * DEFAULT_SECONDS_PER['train:steps'] + 5 + 100 * DEFAULT_SECONDS_PER['objects:photos'])) < 1e-6);
});

test('seconds per item learned by a job are kept in the library and price the next job', async (t) => {
  const dir = tmpDir('shoebox-jobs-');
  dirs.push(dir);
  const db = openDatabase(dir);
  try {
    t.mock.timers.enable({ apis: ['Date'], now: 5_000_000 });
    const jobs = new JobManager(db, () => {});
    const { done } = jobs.start('organize', {}, async (ctx) => {
      ctx.stage('embed', 100, 'Embedding');
      t.mock.timers.tick(4_000);
      ctx.progress(100); // 100 photos in 4 s: 0.04 s each
      ctx.stage('cluster', 10, 'Grouping'); // too few items to learn from
      t.mock.timers.tick(4_000);
      ctx.progress(10);
      await Promise.resolve();
    });
    const info = await done;
    assert.equal(info.state, 'done');
    const rates = getSetting<Record<string, number>>(db, 'jobSecondsPer', {});
    assert.ok(Math.abs(rates['embed:photos'] - 0.04) < 1e-9, JSON.stringify(rates));
    assert.equal(rates['cluster:photos'], undefined);
    // A new manager on the same library starts from them, and a further measurement is averaged in.
    const again = new JobManager(db, () => {});
    let per = 0;
    await again.start('organize', {}, async (ctx) => {
      per = ctx.secondsPer('embed:photos');
      ctx.stage('embed', 20, 'Embedding');
      t.mock.timers.tick(2_000);
      ctx.progress(20); // 0.1 s each
      await Promise.resolve();
    }).done;
    assert.ok(Math.abs(per - 0.04) < 1e-9);
    assert.ok(Math.abs(getSetting<Record<string, number>>(db, 'jobSecondsPer', {})['embed:photos'] - 0.07) < 1e-9);
  } finally {
    db.close();
  }
});
