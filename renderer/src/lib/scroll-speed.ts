/**
 * Scroll speed over a short sliding window. The photo grid uses it to tell a fling (or a scrollbar drag across
 * thousands of rows) from reading: while flinging it shows placeholders and fetches nothing, because nothing that
 * flies past at several screens per frame can be seen anyway; when the speed drops, the visible pages load.
 */
export class ScrollSpeed {
  private samples: { time: number; top: number }[] = [];

  constructor(private readonly windowMs = 120) {}

  record(time: number, top: number): void {
    this.samples.push({ time, top });
    const cutoff = time - this.windowMs;
    while (this.samples.length > 2 && this.samples[0].time < cutoff) this.samples.shift();
  }

  /** Absolute speed in px/ms over the window ending at `now` (0 with fewer than two recent samples). */
  speed(now: number): number {
    const recent = this.samples.filter((s) => s.time >= now - this.windowMs);
    if (recent.length < 2) return 0;
    const first = recent[0];
    const last = recent[recent.length - 1];
    const dt = last.time - first.time;
    return dt <= 0 ? 0 : Math.abs(last.top - first.top) / dt;
  }

  reset(): void {
    this.samples = [];
  }
}

/** Faster than this many viewport heights per second counts as flinging. */
export const FLING_VIEWPORTS_PER_SECOND = 12;

export function isFling(speedPxPerMs: number, viewportHeight: number): boolean {
  return viewportHeight > 0 && speedPxPerMs * 1000 > FLING_VIEWPORTS_PER_SECOND * viewportHeight;
}
