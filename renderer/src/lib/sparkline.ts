/** Geometry for the tiny loss chart in the jobs panel. */

export interface SparklineGeometry {
  /** SVG polyline `points`, empty with fewer than two values. */
  points: string;
  min: number;
  max: number;
  last: number | null;
}

export function sparkline(values: readonly number[], width: number, height: number, pad = 1): SparklineGeometry {
  const finite = values.filter(Number.isFinite);
  const last = finite.at(-1) ?? null;
  if (finite.length < 2) return { points: '', min: last ?? 0, max: last ?? 0, last };
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const span = max - min || 1;
  const stepX = (width - 2 * pad) / (finite.length - 1);
  const points = finite
    .map((v, i) => {
      const x = pad + i * stepX;
      // Higher loss is drawn higher up (smaller y).
      const y = pad + (1 - (v - min) / span) * (height - 2 * pad);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return { points, min, max, last };
}
