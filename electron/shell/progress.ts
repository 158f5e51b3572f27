/**
 * Mirrors job progress onto the taskbar/dock (BrowserWindow.setProgressBar): a fraction while a job with a known
 * total runs, indeterminate while one runs without a total, removed when none runs.
 */
import type { ApiEvent, JobInfo } from '../core/api/contract.js';

/** setProgressBar values: < 0 removes the bar, > 1 shows it indeterminate. */
export const NO_PROGRESS = -1;
export const INDETERMINATE = 2;

export class TaskbarProgress {
  private readonly running = new Map<string, JobInfo>();

  /** Applies an event; returns the new bar value, or null when it did not change. */
  apply(event: ApiEvent): number | null {
    if (event.type === 'library-changed') return null;
    const before = this.value();
    const { job } = event;
    if (event.type === 'job-progress' && (job.state === 'running' || job.state === 'queued')) this.running.set(job.id, job);
    else this.running.delete(job.id);
    const after = this.value();
    return after === before ? null : after;
  }

  value(): number {
    if (this.running.size === 0) return NO_PROGRESS;
    let done = 0;
    let total = 0;
    for (const job of this.running.values()) {
      if (job.total <= 0) return INDETERMINATE;
      done += Math.min(job.done, job.total);
      total += job.total;
    }
    // Two decimals: enough for a progress bar, and it keeps redundant updates away.
    return Math.round((done / total) * 100) / 100;
  }
}
