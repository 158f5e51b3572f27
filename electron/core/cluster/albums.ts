/**
 * From embeddings to albums: k-means (fixed or automatic K, honouring user constraints), per-album outlier
 * rejection into "unsorted", covers, near-duplicate groups, and assignment of new photos to existing albums.
 */

import { chooseK, type AutoKOptions, type AutoKResult } from './autok.js';
import { findNearDuplicates } from './duplicates.js';
import { kmeans, type KMeansConstraints, type KMeansOptions } from '../../../training/numeric/kmeans.js';
import { checkMatrix, dotBlock, unitRows } from '../../../training/numeric/linalg.js';
import { applyAlbumRules, constraintMarks, median, type AlbumRules } from './outliers.js';

/** Options of {@link clusterIntoAlbums}; `outliers` and `minAlbumSize` are the rules of {@link AlbumRules}. */
export interface AlbumOptions extends AlbumRules {
  /** Number of clusters, or 'auto' (default) to choose it with {@link chooseK}. */
  k?: 'auto' | number;
  seed?: number;
  /** User corrections; cluster ids refer to k-means clusters and come back as {@link Album.cluster}. */
  constraints?: KMeansConstraints;
  /** Further k-means options. */
  kmeans?: Omit<KMeansOptions, 'seed' | 'constraints'>;
  /** Further automatic-K options. */
  autoK?: Omit<AutoKOptions, 'seed' | 'constraints'>;
  /** Cosine similarity for near-duplicates (see {@link findNearDuplicates}); null skips the search. Default 0.98. */
  duplicateThreshold?: number | null;
  /**
   * Vectors (same rows) to search for near-duplicates in, when clustering runs on transformed ones (e.g. centred by
   * {@link centerRows}, where a fixed cosine threshold means something else). Default: `vectors`.
   */
  duplicateVectors?: Float32Array;
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

  const marks = constraintMarks(n, k, opts.constraints);
  const { labels, thresholds } = applyAlbumRules(km.assignments, km.similarities, k, marks, opts);

  const membersOf: number[][] = Array.from({ length: k }, () => []);
  const unsorted: number[] = [];
  for (let i = 0; i < n; i++) {
    if (labels[i] >= 0) membersOf[labels[i]].push(i);
    else unsorted.push(i);
  }

  const albums: Album[] = [];
  const albumOf = new Int32Array(n).fill(-1);
  for (let c = 0; c < k; c++) {
    const members = membersOf[c];
    if (members.length === 0 && !marks.constrained[c]) continue;
    let cover = -1;
    for (const i of members) if (cover < 0 || km.similarities[i] > km.similarities[cover]) cover = i;
    for (const i of members) albumOf[i] = albums.length;
    albums.push({
      cluster: c,
      members: Int32Array.from(members),
      cover,
      centroid: km.centroids.slice(c * dim, (c + 1) * dim),
      cohesion: median(members.map((i) => km.similarities[i])),
      threshold: thresholds[c],
    });
  }

  const duplicateThreshold = opts.duplicateThreshold === undefined ? 0.98 : opts.duplicateThreshold;
  const duplicates =
    duplicateThreshold === null
      ? []
      : findNearDuplicates(opts.duplicateVectors ? unitRows(opts.duplicateVectors, n, dim) : x, n, dim, {
          threshold: duplicateThreshold,
          partition: km.assignments,
        });

  return {
    albums,
    unsorted: Int32Array.from(unsorted),
    duplicates,
    albumOf,
    similarity: km.similarities,
    k,
    autoK,
  };
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
