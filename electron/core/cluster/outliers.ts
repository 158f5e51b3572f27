/**
 * Which members of a k-means cluster stay in its album: the robust outlier rule, and dissolving clusters that are
 * left too small.
 */

import type { KMeansConstraints } from '../../../training/numeric/kmeans.js';

/** How outliers are told apart from an album's ordinary members. */
export interface OutlierOptions {
  /**
   * A member is an outlier when its cosine similarity to the album centroid is below
   * `median - max(minMargin, mads * 1.4826 * MAD)` of the album's similarities (1.4826 * MAD estimates the standard
   * deviation for normal data, so the default 3 is a robust "three sigma"). Default 3.
   */
  mads?: number;
  /** Smallest gap below the median that can make an outlier, for very tight albums. Default 0.05. */
  minMargin?: number;
  /** Members below this similarity are always outliers, whatever the album statistics. Default -1 (off). */
  floor?: number;
  /**
   * Albums with fewer movable members use `floor` (their median and MAD are not reliable) or, in
   * `applyAlbumRules`, the median threshold of the albums that have enough members, whichever is higher.
   * Default 5.
   */
  minSizeForStats?: number;
}

/** 1.4826 * MAD is a consistent estimate of the standard deviation for normally distributed data. */
const MAD_TO_SIGMA = 1.4826;

/**
 * The similarity below which a member is an outlier, from the similarities of an album's movable members: the
 * robust rule of {@link OutlierOptions}, never below `floor`.
 */
export function outlierThreshold(similarities: readonly number[], opts: OutlierOptions = {}): number {
  const floor = opts.floor ?? -1;
  if (similarities.length < (opts.minSizeForStats ?? 5)) return floor;
  const med = median(similarities);
  const mad = median(similarities.map((s) => Math.abs(s - med)));
  const margin = Math.max(opts.minMargin ?? 0.05, (opts.mads ?? 3) * MAD_TO_SIGMA * mad);
  return Math.max(floor, med - margin);
}

/** Median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}


/** Who is pinned and which clusters the user constrained (those never dissolve). */
export interface ConstraintMarks {
  /** 1 for pinned points (never outliers). */
  pinned: Uint8Array;
  /** 1 for clusters with pinned members or a fixed prototype. */
  constrained: Uint8Array;
}

/** Rules that decide who stays in an album. */
export interface AlbumRules {
  outliers?: OutlierOptions;
  /**
   * A cluster with fewer remaining members becomes unsorted, unless the user constrained it (pinned members or a
   * fixed prototype), in which case it is always an album, even an empty one. Default 2.
   */
  minAlbumSize?: number;
  /**
   * Dissolve loose clusters: an unconstrained cluster whose tightness (mean pairwise cosine of its members) is an
   * outlier among the clusters' tightness values, by the same robust rule as for members (needs at least 5
   * clusters of 2+ members) and that is no bigger than the median cluster. Such a cluster is typically a handful of
   * unrelated photos that k-means grouped because they fit nowhere else. Default true.
   */
  dissolveLoose?: boolean;
}

/**
 * Applies the album rules to a k-means labelling: per cluster the outlier threshold (from its unpinned members'
 * similarities; small clusters borrow the typical threshold), then `labels[i]` = the cluster of every point that
 * stays, or -1 for outliers, unassigned points, and the members of unconstrained clusters that are loose (see
 * {@link AlbumRules.dissolveLoose}) or left smaller than `minAlbumSize`.
 */
export function applyAlbumRules(
  assignments: Int32Array,
  similarities: Float32Array,
  k: number,
  marks: ConstraintMarks,
  rules: AlbumRules = {},
): { labels: Int32Array; thresholds: Float64Array } {
  const n = assignments.length;
  const movableSims: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    if (c >= 0 && !marks.pinned[i]) movableSims[c].push(similarities[i]);
  }
  const thresholds = Float64Array.from(movableSims, (sims) => outlierThreshold(sims, rules.outliers));
  // Clusters too small for statistics borrow the typical threshold of the others, so that a two-photo album does
  // not accept every new photo that happens to be nearest to it.
  const minStats = rules.outliers?.minSizeForStats ?? 5;
  const measured = movableSims.flatMap((sims, c) => (sims.length >= minStats ? [thresholds[c]] : []));
  if (measured.length > 0) {
    const typical = median(measured);
    movableSims.forEach((sims, c) => {
      if (sims.length < minStats) thresholds[c] = Math.max(thresholds[c], typical);
    });
  }

  const dissolved = new Uint8Array(k);
  if (rules.dissolveLoose ?? true) {
    // Tightness = mean pairwise cosine among members. With unit rows and c the normalised member sum S,
    // sum_i <x_i, c> = |S|, and the mean over ordered pairs i != j of <x_i, x_j> is (|S|^2 - m) / (m (m - 1)).
    // Unlike the members' similarity to their own mean it is not inflated for small clusters.
    const sum = new Float64Array(k);
    const size = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const c = assignments[i];
      if (c < 0) continue;
      sum[c] += similarities[i];
      size[c]++;
    }
    // Constrained clusters never dissolve, and a fixed prototype is not the member mean: leave them out.
    const clusters: number[] = [];
    for (let c = 0; c < k; c++) if (size[c] >= 2 && !marks.constrained[c]) clusters.push(c);
    const tightness = clusters.map((c) => (sum[c] * sum[c] - size[c]) / (size[c] * (size[c] - 1)));
    const cut = outlierThreshold(tightness, { ...rules.outliers, floor: -Infinity });
    // Only a cluster no bigger than the typical one: a large loose cluster is a broad group of photos (seen after
    // training: one of five clusters holding half of a scene library), not strays, and keeping it an album loses less.
    const typicalSize = median(clusters.map((c) => size[c]));
    clusters.forEach((c, j) => {
      if (tightness[j] < cut && size[c] <= typicalSize) dissolved[c] = 1;
    });
  }

  const labels = new Int32Array(n);
  const kept = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    const stays = c >= 0 && !dissolved[c] && (marks.pinned[i] || similarities[i] >= thresholds[c]);
    labels[i] = stays ? c : -1;
    if (stays) kept[c]++;
  }
  const minSize = rules.minAlbumSize ?? 2;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (c >= 0 && !marks.constrained[c] && kept[c] < minSize) labels[i] = -1;
  }
  return { labels, thresholds };
}

/** {@link ConstraintMarks} of a constraint set for `n` points and `k` clusters (ids assumed validated). */
export function constraintMarks(
  n: number,
  k: number,
  constraints: Pick<KMeansConstraints, 'pinned' | 'fixed' | 'seeded'> = {},
): ConstraintMarks {
  const pinned = new Uint8Array(n);
  const constrained = new Uint8Array(k);
  for (const [i, c] of constraints.pinned ?? []) {
    pinned[i] = 1;
    constrained[c] = 1;
  }
  for (const f of constraints.fixed ?? []) constrained[f.cluster] = 1;
  for (const f of constraints.seeded ?? []) constrained[f.cluster] = 1;
  return { pinned, constrained };
}
