/** Text for counts, rates, durations and places, shared by the views. */
import type { JobInfo, JobKind } from '../../../electron/core/api/contract.js';

const integer = new Intl.NumberFormat('en-US');

export function formatCount(n: number, singular = 'photo', plural = `${singular}s`): string {
  return `${integer.format(n)} ${n === 1 ? singular : plural}`;
}

/** "12 s", "3 min", "1 h 5 min"; null/unknown as "—". */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return rest === 0 ? `${h} h` : `${h} h ${rest} min`;
}

export function formatRate(perSecond: number, unit = 'photos'): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '—';
  const value = perSecond >= 10 ? Math.round(perSecond).toString() : perSecond.toFixed(1);
  return `${value} ${unit}/s`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatPlace(gps: { lat: number; lon: number } | null): string | null {
  if (gps === null) return null;
  const lat = `${Math.abs(gps.lat).toFixed(4)}° ${gps.lat >= 0 ? 'N' : 'S'}`;
  const lon = `${Math.abs(gps.lon).toFixed(4)}° ${gps.lon >= 0 ? 'E' : 'W'}`;
  return `${lat}, ${lon}`;
}

const JOB_NAMES: Record<JobKind, string> = {
  organize: 'Organizing',
  scan: 'Scanning',
  embed: 'Computing embeddings',
  train: 'Training',
  cluster: 'Grouping into albums',
  places: 'Finding places',
  objects: 'Recognizing what is in the photos',
  faces: 'Finding faces and people',
  export: 'Exporting',
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "June 2024"; "Unknown date" for undated photos. */
export function monthLabel(year: number | null, month: number | null): string {
  if (year === null || month === null) return 'Unknown date';
  return `${MONTHS[month - 1]} ${year}`;
}

/** A capture time (wall clock read as UTC) as "3 June 2024, 10:11"; fixed English, like the album names. */
export function formatTaken(takenAt: number | null): string | null {
  if (takenAt === null) return null;
  const d = new Date(takenAt);
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${hh}:${mm}`;
}

export function jobTitle(job: Pick<JobInfo, 'kind' | 'stage'>): string {
  const name = JOB_NAMES[job.kind];
  return job.stage !== null && job.stage !== job.kind ? `${name}: ${JOB_NAMES[job.stage].toLowerCase()}` : name;
}

/** Whole percent, clamped; null when the total is unknown. */
export function percent(done: number, total: number): number | null {
  if (total <= 0) return null;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}
