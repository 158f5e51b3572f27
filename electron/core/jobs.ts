/**
 * Long-running work as jobs: an id, throttled progress events with counts, rate and ETA, cancel, and exactly one
 * finished event. Job rows are persisted so an interrupted job is visible (and resumable) after a crash.
 */
import { randomUUID } from 'node:crypto';
import type { ApiError, JobInfo, JobKind, JobStep, JobUnit, OrganizeStep } from './api/contract.js';
import { getSetting, setSetting, type Db } from './db/database.js';
import { isAbort, toApiError } from './errors.js';

export type JobEvent = { type: 'job-progress'; job: JobInfo } | { type: 'job-finished'; job: JobInfo };

/** Minimum time between two progress events of one job. */
export const PROGRESS_INTERVAL_MS = 200;

/**
 * Seconds per item of each kind of work ("embed:photos"), learned from earlier jobs on this library; a job's overall
 * ETA prices the steps it has not reached with them. Until a library has its own, these (2-core laptop, bench/).
 */
export const DEFAULT_SECONDS_PER: Readonly<Record<string, number>> = {
  'scan:photos': 0.035,
  'places:photos': 0.00002,
  'embed:photos': 0.022,
  'cluster:photos': 0.0005,
  'train:views': 0.04,
  'train:steps': 0.06,
  'objects:photos': 0.036,
  'faces:photos': 0.12,
};
const RATES_SETTING = 'jobSecondsPer';

/** Seconds the steps after the current stage are expected to take, per step (see {@link JobContext.planSteps}). */
export type StepEstimator = (job: Readonly<JobInfo>, secondsPer: (key: string) => number) => Partial<Record<OrganizeStep, number>>;

/** Handle given to the code doing the work. */
export class JobContext {
  private lastEmit = 0;
  private rateWindow: { t: number; done: number }[] = [];
  private pendingTimer: NodeJS.Timeout | null = null;
  private estimator: StepEstimator | null = null;
  private stageStart: { key: string; t: number } | null = null;

  constructor(
    private readonly info: JobInfo,
    private readonly controller: AbortController,
    private readonly emit: (job: JobInfo) => void,
    /** Learned seconds per item, shared by the jobs of one library (updated as stages end). */
    private readonly rates: Record<string, number> = {},
  ) {}

  /** Seconds one item of `key` ("embed:photos") takes here: learned, else the default, else 0. */
  secondsPer(key: string): number {
    return this.rates[key] ?? DEFAULT_SECONDS_PER[key] ?? 0;
  }

  /**
   * Declare the job's steps (organize: scan, embed, albums, refine) and how to estimate what is left after the
   * current stage; from then on every event carries `steps` and `overallEtaSec`.
   */
  planSteps(steps: readonly { id: OrganizeStep; label: string }[], estimator: StepEstimator): void {
    this.info.steps = steps.map((s) => ({ ...s, state: 'pending' }));
    this.estimator = estimator;
  }

  /** Make `id` the current step: the ones before it are done (or skipped if never entered). */
  enterStep(id: OrganizeStep): void {
    const steps = this.info.steps;
    if (!steps) return;
    const at = steps.findIndex((s) => s.id === id);
    if (at < 0) return;
    steps.forEach((s, i) => {
      if (i < at) s.state = s.state === 'active' || s.state === 'done' ? 'done' : 'skipped';
      else if (i === at) s.state = 'active';
    });
    this.updateOverall();
    this.flush();
  }

  /** The job's work is over: the current step is done and steps never entered are skipped. */
  endSteps(): void {
    for (const s of this.info.steps ?? []) s.state = s.state === 'active' || s.state === 'done' ? 'done' : 'skipped';
    this.info.overallEtaSec = 0;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get id(): string {
    return this.info.id;
  }

  /** Organize: the albums are written; what follows refines them in the background. */
  setRefining(refining: boolean): void {
    this.info.refining = refining;
    if (refining && this.info.steps?.find((s) => s.id === 'refine')?.state === 'pending') this.enterStep('refine');
    this.flush();
  }

  /** Start a new stage: counts restart from zero. */
  stage(stage: JobKind, total: number, message = '', unit: JobUnit = 'photos'): void {
    this.learnRate();
    if (this.info.stage !== stage) this.info.losses = undefined;
    this.info.stage = stage;
    this.info.unit = unit;
    this.info.total = total;
    this.info.done = 0;
    this.info.message = message;
    this.info.rate = 0;
    this.info.etaSec = null;
    this.rateWindow = [{ t: Date.now(), done: 0 }];
    this.stageStart = { key: `${stage}:${unit}`, t: Date.now() };
    this.updateOverall();
    this.flush();
  }

  /** Record the finished stage's seconds per item (when it did enough to say), averaged with what was known. */
  learnRate(): void {
    const s = this.stageStart;
    this.stageStart = null;
    if (!s || this.info.done < 16) return;
    const sec = (Date.now() - s.t) / 1000;
    if (sec < 0.5) return;
    const per = sec / this.info.done;
    const old = this.rates[s.key];
    this.rates[s.key] = old === undefined ? per : 0.5 * old + 0.5 * per;
  }

  private updateOverall(): void {
    if (!this.estimator) return;
    const info = this.info;
    const left = Math.max(0, info.total - info.done);
    const current = info.etaSec ?? left * this.secondsPer(`${info.stage ?? ''}:${info.unit ?? 'photos'}`);
    const rest = Object.values(this.estimator(info, (k) => this.secondsPer(k))).reduce((a, b) => a + Math.max(0, b ?? 0), 0);
    info.overallEtaSec = Number.isFinite(current + rest) ? current + rest : null;
  }

  /** Report progress; events are throttled to one per PROGRESS_INTERVAL_MS (the last one always arrives). */
  progress(done: number, total?: number, extra?: { message?: string; losses?: number[] }): void {
    this.signal.throwIfAborted();
    const now = Date.now();
    this.info.done = done;
    if (total !== undefined) this.info.total = total;
    if (extra?.message !== undefined) this.info.message = extra.message;
    // Loss values accumulate (the sparkline draws the recent history), the newest 200 kept.
    if (extra?.losses) this.info.losses = [...(this.info.losses ?? []), ...extra.losses].slice(-200);
    this.rateWindow.push({ t: now, done });
    while (this.rateWindow.length > 2 && now - this.rateWindow[0].t > 10_000) this.rateWindow.shift();
    const first = this.rateWindow[0];
    const dt = (now - first.t) / 1000;
    if (dt > 0.2) {
      this.info.rate = (done - first.done) / dt;
      const left = this.info.total - done;
      this.info.etaSec = this.info.rate > 0 && left >= 0 ? left / this.info.rate : null;
    }
    this.updateOverall();
    if (now - this.lastEmit >= PROGRESS_INTERVAL_MS) {
      this.flush();
    } else if (!this.pendingTimer) {
      this.pendingTimer = setTimeout(() => {
        this.pendingTimer = null;
        if (this.info.state === 'running') this.flush();
      }, PROGRESS_INTERVAL_MS - (now - this.lastEmit));
      this.pendingTimer.unref?.();
    }
  }

  flush(): void {
    this.lastEmit = Date.now();
    this.emit({ ...this.info, losses: this.info.losses ? [...this.info.losses] : undefined, steps: this.info.steps?.map((s): JobStep => ({ ...s })) });
  }

  dispose(): void {
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
  }
}

export class JobManager {
  private readonly running = new Map<string, { info: JobInfo; controller: AbortController; done: Promise<JobInfo> }>();
  private readonly recent: JobInfo[] = [];
  /** Seconds per item learned on this library (persisted as a setting), shared by its jobs. */
  private readonly rates: Record<string, number>;

  constructor(
    private readonly db: Db,
    private readonly onEvent: (e: JobEvent) => void,
  ) {
    this.rates = { ...getSetting<Record<string, number>>(db, RATES_SETTING, {}) };
    // Jobs still 'running' in the database were interrupted by a crash or quit.
    db.prepare(
      `UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE state IN ('running', 'queued')`,
    ).run(JSON.stringify({ code: 'CANCELLED', message: 'Interrupted (the app quit or crashed); it resumes on the next run' }), Date.now());
  }

  /** Jobs currently running plus the most recently finished ones. */
  list(): JobInfo[] {
    return [...[...this.running.values()].map((r) => ({ ...r.info })), ...this.recent];
  }

  get(id: string): JobInfo | undefined {
    return this.running.get(id)?.info ?? this.recent.find((j) => j.id === id);
  }

  isRunning(kind?: JobKind): boolean {
    return [...this.running.values()].some((r) => kind === undefined || r.info.kind === kind);
  }

  /** Start `work` as a job; resolves (never rejects) with the final JobInfo. */
  start(kind: JobKind, params: unknown, work: (ctx: JobContext) => Promise<string | void>): { id: string; done: Promise<JobInfo> } {
    const id = randomUUID();
    const info: JobInfo = {
      id,
      kind,
      state: 'running',
      stage: null,
      done: 0,
      total: 0,
      rate: 0,
      etaSec: null,
      message: '',
      startedAt: Date.now(),
      finishedAt: null,
    };
    const controller = new AbortController();
    this.db
      .prepare('INSERT INTO jobs(id, kind, state, params, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, kind, 'running', JSON.stringify(params ?? {}), info.startedAt);
    const ctx = new JobContext(info, controller, (job) => this.onEvent({ type: 'job-progress', job }), this.rates);
    const done = (async (): Promise<JobInfo> => {
      let error: ApiError | undefined;
      let message: string | void = undefined;
      try {
        await Promise.resolve();
        message = await work(ctx);
        info.state = 'done';
      } catch (e) {
        if (isAbort(e) || controller.signal.aborted) {
          info.state = 'cancelled';
          error = { code: 'CANCELLED', message: 'Cancelled' };
        } else {
          info.state = 'failed';
          error = toApiError(e);
        }
      }
      ctx.dispose();
      if (info.state === 'done') ctx.learnRate();
      info.finishedAt = Date.now();
      info.etaSec = null;
      if (info.overallEtaSec !== undefined) info.overallEtaSec = null;
      if (typeof message === 'string') info.message = message;
      if (error) {
        info.error = error;
        info.message = error.message;
      }
      try {
        setSetting(this.db, RATES_SETTING, this.rates);
      } catch {
        // a closed or read-only database keeps the old rates; they are estimates only
      }
      this.db
        .prepare('UPDATE jobs SET state = ?, done = ?, total = ?, message = ?, error = ?, finished_at = ? WHERE id = ?')
        .run(info.state, info.done, info.total, info.message, error ? JSON.stringify(error) : null, info.finishedAt, id);
      this.running.delete(id);
      this.recent.unshift({ ...info });
      this.recent.length = Math.min(this.recent.length, 20);
      this.onEvent({ type: 'job-finished', job: { ...info } });
      return { ...info };
    })();
    this.running.set(id, { info, controller, done });
    return { id, done };
  }

  /** The final JobInfo of a running job (undefined when it is not running). */
  whenDone(id: string): Promise<JobInfo> | undefined {
    return this.running.get(id)?.done;
  }

  cancel(id: string): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.controller.abort();
    return true;
  }

  async cancelAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort();
    await Promise.all(all.map((r) => r.done));
  }
}
