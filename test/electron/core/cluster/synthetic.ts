/** Synthetic inputs for the clustering tests: Gaussian blobs projected onto the unit sphere. */

import { normalizeRows } from '../../../../training/numeric/linalg.js';
import { Rng } from '../../../../training/numeric/rng.js';

export interface Blobs {
  data: Float32Array;
  n: number;
  dim: number;
  labels: Int32Array;
  /** `sizes.length x dim` unit blob centres. */
  centers: Float32Array;
}

/**
 * Blobs of the given sizes: each centre is a random unit vector, each point its centre plus isotropic Gaussian
 * noise of expected norm `noise`, then normalised. With noise 0.5 a point's cosine to its centre is about 0.9,
 * while random centres in 32+ dimensions are nearly orthogonal, so the blobs are well separated.
 * Points are shuffled so that blob order carries no information.
 */
export function makeBlobs(sizes: readonly number[], dim: number, noise: number, seed: number): Blobs {
  const rng = new Rng(seed);
  const k = sizes.length;
  const centers = new Float32Array(k * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = rng.normal();
  normalizeRows(centers, k, dim);
  const n = sizes.reduce((a, b) => a + b, 0);
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const sigma = noise / Math.sqrt(dim);
  let next = 0;
  for (let c = 0; c < k; c++) {
    for (let m = 0; m < sizes[c]; m++) {
      const i = order[next++];
      labels[i] = c;
      for (let d = 0; d < dim; d++) data[i * dim + d] = centers[c * dim + d] + sigma * rng.normal();
    }
  }
  normalizeRows(data, n, dim);
  return { data, n, dim, labels, centers };
}

/** `n` uniformly random unit vectors. */
export function randomUnitVectors(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return normalizeRows(data, n, dim);
}
