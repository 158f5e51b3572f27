/** Library status, settings and jobs (kept live from job events). */
import type { ApiArgs, ApiEvent, DeviceChoice, EncoderInfo, JobInfo, LibraryStatus, Settings, ShoeboxApi } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';
import { coalesce } from './coalesce.js';
import { jobTitle } from './format.js';

const isActive = (job: JobInfo) => job.state === 'running' || job.state === 'queued';

export class Library {
  status = $state.raw<LibraryStatus | null>(null);
  settings = $state.raw<Settings | null>(null);
  /** Active jobs, plus failed ones until dismissed. */
  jobs = $state.raw<JobInfo[]>([]);
  loaded = $state(false);
  organizing = $derived(this.jobs.some(isActive));
  /** The albums are written and being refined in the background. */
  refining = $derived(this.jobs.some((j) => isActive(j) && j.refining === true));
  hasRoots = $derived((this.status?.roots.length ?? 0) > 0);
  /** Jobs known to be over, so a status snapshot taken before their end cannot bring them back. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping only, never rendered
  private readonly finished = new Set<string>();
  /** When each job's latest event arrived, to tell it from an older status snapshot. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping only, never rendered
  private readonly eventAt = new Map<string, number>();

  readonly refresh = coalesce(async () => {
    const requestedAt = performance.now();
    const result = await this.api.call('getStatus', {});
    const status = this.alerts.unwrap('Could not read the library status', result);
    if (status) {
      this.status = status;
      this.mergeJobs(status.jobs, requestedAt);
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

  /** The encoders the person can choose from (empty when they cannot be listed). */
  async listEncoders(): Promise<EncoderInfo[]> {
    return this.alerts.unwrap('Could not list the image encoders', await this.api.call('listEncoders', {})) ?? [];
  }

  /** The compute devices this machine can offer, and why one cannot run (empty when they cannot be listed). */
  async listDevices(): Promise<DeviceChoice[]> {
    return this.alerts.unwrap('Could not list the compute devices', await this.api.call('listDevices', {})) ?? [];
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

  /** Take a folder out of the library (its files stay); false when refused (the alert says why). */
  async removeRoot(rootId: number): Promise<boolean> {
    const done = this.alerts.unwrap('Could not remove the folder', await this.api.call('removeRoot', { rootId }));
    if (!done) return false;
    await this.refresh();
    return true;
  }

  /** First organize (`{train}`), or Re-organize (`{reorganize: true, retrain}`): the same job as the CLI's. */
  async organize(args: ApiArgs<'organize'>): Promise<void> {
    const started = this.alerts.unwrap('Could not start organizing', await this.api.call('organize', args));
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
        // A progress event may already carry a final state; treat it like the finish event then.
        if (isActive(event.job)) {
          // A new stage (scan done, training done, ...) changes photo counts and status: refresh the header.
          const stageChanged = this.jobs.find((j) => j.id === event.job.id)?.stage !== event.job.stage;
          this.upsert(event.job);
          if (stageChanged) void this.refresh();
          return false;
        }
        return this.jobEnded(event.job);
      case 'job-finished':
        return this.jobEnded(event.job);
      case 'library-changed':
        if (event.what.includes('roots') || event.what.includes('photos')) void this.refresh();
        if (event.what.includes('settings')) void this.loadSettings();
        return event.what.includes('albums') || event.what.includes('photos');
    }
  }

  private jobEnded(job: JobInfo): boolean {
    if (this.finished.has(job.id)) return false;
    this.finished.add(job.id);
    if (job.state === 'failed') {
      this.upsert(job);
      const what = job.kind === 'organize' ? 'Organizing' : jobTitle(job);
      this.alerts.report(`${what} failed`, job.error ?? { code: 'INTERNAL', message: job.message });
    } else {
      this.dismissJob(job.id);
    }
    void this.refresh();
    return true;
  }

  private upsert(job: JobInfo): void {
    if (this.finished.has(job.id) && isActive(job)) return;
    this.eventAt.set(job.id, performance.now());
    const i = this.jobs.findIndex((j) => j.id === job.id);
    this.jobs = i < 0 ? [...this.jobs, job] : this.jobs.with(i, job);
  }

  /**
   * Adopts a status snapshot's running jobs (it may also list finished ones). Jobs whose events arrived after the
   * snapshot was requested are newer than it and kept; failed jobs stay shown until dismissed.
   */
  private mergeJobs(snapshot: JobInfo[], requestedAt: number): void {
    const live = (j: JobInfo) => isActive(j) && !this.finished.has(j.id);
    const newer = this.jobs.filter((j) => live(j) && (this.eventAt.get(j.id) ?? 0) > requestedAt);
    const fromSnapshot = snapshot.filter((j) => live(j) && !newer.some((n) => n.id === j.id));
    const failed = this.jobs.filter((j) => j.state === 'failed');
    this.jobs = [...newer, ...fromSnapshot].sort((a, b) => a.startedAt - b.startedAt).concat(failed);
  }
}
