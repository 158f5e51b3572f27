/**
 * Clustering core: pure functions over `Float32Array` embeddings (row-major `n x dim`), no I/O.
 * See README.md in this folder for the algorithms and their costs.
 */

export { clusterIntoAlbums, assignToNearest } from './albums.js';
export type { Album, AlbumOptions, AlbumsResult, AlbumPrototype, NearestAssignment } from './albums.js';
export { chooseK } from './autok.js';
export type { AutoKOptions, AutoKResult, AutoKScore } from './autok.js';
export { findNearDuplicates } from './duplicates.js';
export type { DuplicateOptions } from './duplicates.js';
export { kmeansOnGram } from './gram-kmeans.js';
export type { GramKMeansOptions, GramKMeansResult } from './gram-kmeans.js';
export { kmeans } from '../../../training/numeric/kmeans.js';
export type { FixedCluster, KMeansConstraints, KMeansOptions, KMeansResult } from '../../../training/numeric/kmeans.js';
export { knnApprox, knnQuery, knnRecall, knnSelf } from './knn.js';
export type { ApproxKnnOptions, KnnGraph } from './knn.js';
export { centerRows, normalizeRows, unitRows } from '../../../training/numeric/linalg.js';
export {
  adjustedRandIndex,
  clusteringAccuracy,
  cosineGram,
  evaluateClustering,
  hungarian,
  knnAccuracy,
  normalizedMutualInfo,
  silhouetteFromGram,
  silhouetteScore,
} from './metrics.js';
export type { ClusteringScores } from './metrics.js';
export { applyAlbumRules, outlierThreshold } from './outliers.js';
export type { AlbumRules, OutlierOptions } from './outliers.js';
export { distinctiveObjects, nameAlbum, placeLabel, pluralLabel, timeLabel, uniqueNames } from './naming.js';
export type { AlbumNameInput, AlbumNaming, LibraryContext, NamedPlace } from './naming.js';
export { Rng } from '../../../training/numeric/rng.js';
