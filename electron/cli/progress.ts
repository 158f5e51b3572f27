/** Progress bar for the CLI: a redrawn line on a TTY, one line per stage otherwise. */
import type { JobInfo } from '../core/api/contract.js';

export function formatEta(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '--';
  if (sec < 60) return `${Math.ceil(sec)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.ceil(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressLine(job: JobInfo, width = 24): string {
  const frac = job.total > 0 ? Math.min(1, job.done / job.total) : 0;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const steps = job.steps;
  const at = steps ? steps.findIndex((s) => s.state === 'active') : -1;
  const step = steps && at >= 0 ? `[${at + 1}/${steps.length} ${steps[at].label}] ` : '';
  const stage = (job.stage ?? job.kind).padEnd(7);
  const counts = (job.total > 0 ? `${job.done}/${job.total}` : `${job.done}`) + (job.unit && job.unit !== 'photos' ? ` ${job.unit}` : '');
  const rate = job.rate > 0 ? ` ${job.rate.toFixed(job.rate < 10 ? 1 : 0)}/s` : '';
  const loss = job.losses?.length ? ` loss ${job.losses[job.losses.length - 1].toFixed(4)}` : '';
  const overall = job.overallEtaSec !== undefined ? `, all ${formatEta(job.overallEtaSec)}` : '';
  return `${step}${stage} ${bar} ${counts}${rate} ETA ${formatEta(job.etaSec)}${overall}${loss}`;
}

export class ProgressPrinter {
  private lastStage: string | null = null;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(job: JobInfo): void {
    const line = progressLine(job);
    if (this.out.isTTY) {
      const cols = this.out.columns || 100;
      this.out.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 4))}`);
      this.drawn = true;
    } else if (job.stage !== this.lastStage) {
      this.out.write(`${job.stage ?? job.kind}: ${job.message || 'started'}\n`);
    }
    this.lastStage = job.stage;
  }

  /** A line of its own (e.g. "Albums ready …"), above the bar on a TTY. */
  note(text: string): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
    this.drawn = false;
  }

  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
