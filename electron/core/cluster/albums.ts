/**
 * From embeddings to albums: k-means (fixed or automatic K, honouring user constraints), per-album outlier
 * rejection into "unsorted", covers, near-duplicate groups, and assignment of new photos to existing albums.
 */

import { chooseK, type AutoKOptions, type AutoKResult } from './autok.js';
import { findNearDuplicates } from './duplicates.js';
import { kmeans, type KMeansConstraints, type KMeansOptions } from './kmeans.js';
import { checkMatrix, dotBlock, unitRows } from './linalg.js';

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
  /** Albums smaller than this use only `floor` (their median and MAD are not reliable). Default 5. */
  minSizeForStats?: number;
}

export interface AlbumOptions {
  /** Number of clusters, or 'auto' (default) to choose it with {@link chooseK}. */
  k?: 'auto' | number;
  seed?: number;
  /** User corrections; cluster ids refer to k-means clusters and come back as {@link Album.cluster}. */
  constraints?: KMeansConstraints;
  /** Further k-means options. */
  kmeans?: Omit<KMeansOptions, 'seed' | 'constraints'>;
  /** Further automatic-K options. */
  autoK?: Omit<AutoKOptions, 'seed' | 'constraints'>;
  outliers?: OutlierOptions;
  /** Cosine similarity for near-duplicates (see {@link findNearDuplicates}); null skips the search. Default 0.98. */
  duplicateThreshold?: number | null;
  /**
   * A cluster with fewer remaining members becomes unsorted, unless the user constrained it (pinned members or a
   * fixed prototype), in which case it is always an album, even an empty one. Default 2.
   */
  minAlbumSize?: number;
}

export interface Album {
  /** The k-means cluster id (the id user constraints use). */
  cluster: number;
  /** Point indices, increasing. */
  members: Int32Array;
  /** The most central member (highest cosine to the centroid), or -1 for an empty album. */
  cover: number;
  /** Unit centroid (`dim` values). */
  centroid: Float32Array;
  /** Median cosine similarity of the members to the centroid (NaN when empty). */
  cohesion: number;
  /** Cosine similarity below which a point is an outlier for this album; new photos use it too. */
  threshold: number;
}

export interface AlbumsResult {
  albums: Album[];
  /** Points in no album (outliers, members of tiny clusters, points constraints exclude everywhere), increasing. */
  unsorted: Int32Array;
  /** Near-duplicate groups (see {@link findNearDuplicates}). */
  duplicates: Int32Array[];
  /** Index into `albums` of each point's album, -1 for unsorted points. */
  albumOf: Int32Array;
  /** Cosine similarity of each point to its k-means centroid (NaN where it has none). */
  similarity: Float32Array;
  /** Number of k-means clusters used. */
  k: number;
  /** The automatic-K scores, when `k` was 'auto'. */
  autoK?: AutoKResult;
}

/** 1.4826 * MAD is a consistent estimate of the standard deviation for normally distributed data. */
const MAD_TO_SIGMA = 1.4826;

/**
 * Clusters `n x dim` embeddings into albums. Rows need not be normalised. Deterministic for a given `seed`.
 * Pinned points are never outliers. See {@link AlbumOptions} for the knobs.
 */
export function clusterIntoAlbums(
  vectors: Float32Array,
  n: number,
  dim: number,
  opts: AlbumOptions = {},
): AlbumsResult {
  checkMatrix(vectors, n, dim);
  const seed = opts.seed ?? 0;
  const x = unitRows(vectors, n, dim);

  let autoK: AutoKResult | undefined;
  let k: number;
  if (opts.k === undefined || opts.k === 'auto') {
    autoK = chooseK(x, n, dim, { ...opts.autoK, seed, constraints: opts.constraints });
    k = autoK.k;
  } else {
    k = opts.k;
  }
  const km = kmeans(x, n, dim, k, { ...opts.kmeans, seed, constraints: opts.constraints });

  const protectedCluster = new Uint8Array(k);
  for (const f of opts.constraints?.fixed ?? []) protectedCluster[f.cluster] = 1;
  for (const [, c] of opts.constraints?.pinned ?? []) protectedCluster[c] = 1;
  const pinned = new Uint8Array(n);
  for (const [i] of opts.constraints?.pinned ?? []) pinned[i] = 1;

  const membersOf: number[][] = Array.from({ length: k }, () => []);
  const unsorted: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = km.assignments[i];
    if (c >= 0) membersOf[c].push(i);
    else unsorted.push(i);
  }

  const minAlbumSize = opts.minAlbumSize ?? 2;
  const albums: Album[] = [];
  const albumOf = new Int32Array(n).fill(-1);
  for (let c = 0; c < k; c++) {
    const all = membersOf[c];
    const threshold = outlierThreshold(
      all.filter((i) => !pinned[i]).map((i) => km.similarities[i]),
      opts.outliers,
    );
    const members = all.filter((i) => pinned[i] || km.similarities[i] >= threshold);
    if (!protectedCluster[c] && members.length < minAlbumSize) {
      for (const i of all) unsorted.push(i);
      continue;
    }
    for (const i of all) if (!pinned[i] && km.similarities[i] < threshold) unsorted.push(i);
    let cover = -1;
    for (const i of members) if (cover < 0 || km.similarities[i] > km.similarities[cover]) cover = i;
    for (const i of members) albumOf[i] = albums.length;
    albums.push({
      cluster: c,
      members: Int32Array.from(members),
      cover,
      centroid: km.centroids.slice(c * dim, (c + 1) * dim),
      cohesion: median(members.map((i) => km.similarities[i])),
      threshold,
    });
  }

  const duplicateThreshold = opts.duplicateThreshold === undefined ? 0.98 : opts.duplicateThreshold;
  const duplicates =
    duplicateThreshold === null
      ? []
      : findNearDuplicates(x, n, dim, { threshold: duplicateThreshold, partition: km.assignments });

  return {
    albums,
    unsorted: Int32Array.from(unsorted).sort(),
    duplicates,
    albumOf,
    similarity: km.similarities,
    k,
    autoK,
  };
}

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

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** An existing album as {@link assignToNearest} needs it. */
export type AlbumPrototype = Pick<Album, 'centroid' | 'threshold'>;

export interface NearestAssignment {
  /** Index into the given albums, or -1 when the best allowed album is still too far (below its threshold). */
  albumOf: Int32Array;
  /** The most similar allowed album even when too far (-1 only if none is allowed): a suggestion for the UI. */
  nearest: Int32Array;
  /** Cosine similarity to `nearest` (NaN when there is none). */
  similarity: Float32Array;
}

/**
 * Files new photos into existing albums without re-clustering: each row of `vectors` (`n x dim`) goes to the album
 * with the most similar centroid if that similarity reaches the album's threshold, otherwise to unsorted.
 * `cannotLink` lists `[point, albumIndex]` pairs that must not be chosen. Cost: n * albums * dim multiply-adds.
 */
export function assignToNearest(
  vectors: Float32Array,
  n: number,
  dim: number,
  albums: readonly AlbumPrototype[],
  cannotLink: ReadonlyArray<readonly [number, number]> = [],
): NearestAssignment {
  checkMatrix(vectors, n, dim);
  const m = albums.length;
  const x = unitRows(vectors, n, dim);
  const centroids = new Float32Array(m * dim);
  albums.forEach((a, j) => {
    if (a.centroid.length !== dim) throw new RangeError(`album ${j}: centroid has ${a.centroid.length} values`);
    centroids.set(a.centroid, j * dim);
  });
  const normalised = unitRows(centroids, m, dim);
  const banned = new Map<number, Set<number>>();
  for (const [i, j] of cannotLink) {
    let set = banned.get(i);
    if (!set) banned.set(i, (set = new Set()));
    set.add(j);
  }

  const albumOf = new Int32Array(n).fill(-1);
  const nearest = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n).fill(NaN);
  const rows = 128;
  const tile = new Float32Array(rows * Math.max(1, m));
  for (let i0 = 0; i0 < n && m > 0; i0 += rows) {
    const ni = Math.min(rows, n - i0);
    dotBlock(x, i0, ni, normalised, 0, m, dim, tile, m);
    for (let a = 0; a < ni; a++) {
      const i = i0 + a;
      const ban = banned.get(i);
      let best = -1;
      for (let j = 0; j < m; j++) {
        if (ban?.has(j)) continue;
        if (best < 0 || tile[a * m + j] > tile[a * m + best]) best = j;
      }
      if (best < 0) continue;
      nearest[i] = best;
      similarity[i] = tile[a * m + best];
      if (similarity[i] >= albums[best].threshold) albumOf[i] = best;
    }
  }
  return { albumOf, nearest, similarity };
}
