/** Library status, settings and jobs (kept live from job events). */
import type { ApiEvent, JobInfo, LibraryStatus, Settings, ShoeboxApi } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';
import { coalesce } from './coalesce.js';

const isActive = (job: JobInfo) => job.state === 'running' || job.state === 'queued';

export class Library {
  status = $state.raw<LibraryStatus | null>(null);
  settings = $state.raw<Settings | null>(null);
  /** Active jobs, plus failed ones until dismissed. */
  jobs = $state.raw<JobInfo[]>([]);
  loaded = $state(false);
  organizing = $derived(this.jobs.some(isActive));
  hasRoots = $derived((this.status?.roots.length ?? 0) > 0);
  /** Jobs known to be over, so a status snapshot taken before their end cannot bring them back. */
  private readonly finished = new Set<string>();

  readonly refresh = coalesce(async () => {
    const result = await this.api.call('getStatus', {});
    const status = this.alerts.unwrap('Could not read the library status', result);
    if (status) {
      this.status = status;
      this.mergeJobs(status.jobs);
    }
    this.loaded = true;
  });

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
  ) {}

  async loadSettings(): Promise<void> {
    const settings = this.alerts.unwrap('Could not read settings', await this.api.call('getSettings', {}));
    if (settings) this.settings = settings;
  }

  async saveSettings(change: Partial<Settings>): Promise<boolean> {
    const settings = this.alerts.unwrap('Could not save settings', await this.api.call('setSettings', change));
    if (settings) this.settings = settings;
    return settings !== undefined;
  }

  async addRoot(path: string): Promise<boolean> {
    const root = this.alerts.unwrap('Could not add the folder', await this.api.call('addRoot', { path }));
    if (!root) return false;
    await this.refresh();
    return true;
  }

  async organize(train: boolean): Promise<void> {
    const started = this.alerts.unwrap('Could not start organizing', await this.api.call('organize', { train }));
    if (started) await this.refresh();
  }

  async cancel(jobId: string): Promise<void> {
    this.alerts.unwrap('Could not cancel the job', await this.api.call('cancelJob', { jobId }));
  }

  dismissJob(jobId: string): void {
    this.jobs = this.jobs.filter((j) => j.id !== jobId);
  }

  /** Applies a core event; returns true when album contents may have changed. */
  onEvent(event: ApiEvent): boolean {
    switch (event.type) {
      case 'job-progress':
        this.upsert(event.job);
        return false;
      case 'job-finished':
        this.finished.add(event.job.id);
        if (event.job.state === 'failed') {
          this.upsert(event.job);
          this.alerts.report(`${event.job.kind === 'organize' ? 'Organizing' : 'A job'} failed`, event.job.error ?? { code: 'INTERNAL', message: event.job.message });
        } else {
          this.dismissJob(event.job.id);
        }
        void this.refresh();
        return true;
      case 'library-changed':
        if (event.what.includes('roots') || event.what.includes('photos')) void this.refresh();
        if (event.what.includes('settings')) void this.loadSettings();
        return event.what.includes('albums') || event.what.includes('photos');
    }
  }

  private upsert(job: JobInfo): void {
    if (this.finished.has(job.id) && isActive(job)) return;
    const i = this.jobs.findIndex((j) => j.id === job.id);
    this.jobs = i < 0 ? [...this.jobs, job] : this.jobs.with(i, job);
  }

  private mergeJobs(active: JobInfo[]): void {
    const failed = this.jobs.filter((j) => j.state === 'failed' && !active.some((a) => a.id === j.id));
    this.jobs = [...active.filter((j) => !this.finished.has(j.id)), ...failed];
  }
}
