/**
 * Long-running work as jobs: an id, throttled progress events with counts, rate and ETA, cancel, and exactly one
 * finished event. Job rows are persisted so an interrupted job is visible (and resumable) after a crash.
 */
import { randomUUID } from 'node:crypto';
import type { ApiError, JobInfo, JobKind } from './api/contract.js';
import type { Db } from './db/database.js';
import { isAbort, toApiError } from './errors.js';

export type JobEvent = { type: 'job-progress'; job: JobInfo } | { type: 'job-finished'; job: JobInfo };

/** Minimum time between two progress events of one job. */
export const PROGRESS_INTERVAL_MS = 200;

/** Handle given to the code doing the work. */
export class JobContext {
  private lastEmit = 0;
  private rateWindow: { t: number; done: number }[] = [];
  private pendingTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly info: JobInfo,
    private readonly controller: AbortController,
    private readonly emit: (job: JobInfo) => void,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get id(): string {
    return this.info.id;
  }

  /** Organize: the albums are written; what follows refines them in the background. */
  setRefining(refining: boolean): void {
    this.info.refining = refining;
    this.flush();
  }

  /** Start a new stage: counts restart from zero. */
  stage(stage: JobKind, total: number, message = ''): void {
    if (this.info.stage !== stage) this.info.losses = undefined;
    this.info.stage = stage;
    this.info.total = total;
    this.info.done = 0;
    this.info.message = message;
    this.info.rate = 0;
    this.info.etaSec = null;
    this.rateWindow = [{ t: Date.now(), done: 0 }];
    this.flush();
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
    this.emit({ ...this.info, losses: this.info.losses ? [...this.info.losses] : undefined });
  }

  dispose(): void {
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
  }
}

export class JobManager {
  private readonly running = new Map<string, { info: JobInfo; controller: AbortController; done: Promise<JobInfo> }>();
  private readonly recent: JobInfo[] = [];

  constructor(
    private readonly db: Db,
    private readonly onEvent: (e: JobEvent) => void,
  ) {
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
    const ctx = new JobContext(info, controller, (job) => this.onEvent({ type: 'job-progress', job }));
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
      info.finishedAt = Date.now();
      info.etaSec = null;
      if (typeof message === 'string') info.message = message;
      if (error) {
        info.error = error;
        info.message = error.message;
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
