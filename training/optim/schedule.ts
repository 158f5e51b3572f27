/** Per-step schedules computed in JS and fed to train-step graphs as scalar inputs. */

export interface CosineOptions {
  /** Linear warm-up from 0 over this many steps (default 0). */
  warmupSteps?: number;
  /** Final value (default 0). */
  min?: number;
}

/** Cosine-annealed learning rate at `step` (0-based) of `total`, after an optional linear warm-up. */
export function cosineLr(step: number, total: number, base: number, opts: CosineOptions = {}): number {
  const { warmupSteps = 0, min = 0 } = opts;
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const span = Math.max(1, total - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / span);
  return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** EMA momentum rising from `base` to `max` on a cosine over `total` steps (BYOL): max - (max - base)(cos(pi t/T) + 1)/2. */
export function emaMomentum(step: number, total: number, base = 0.996, max = 1): number {
  const progress = Math.min(1, step / Math.max(1, total));
  return max - ((max - base) * (Math.cos(Math.PI * progress) + 1)) / 2;
}
