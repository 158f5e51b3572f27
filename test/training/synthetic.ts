/** Tiny synthetic "photo features" for trainer tests: two class blobs plus a per-view nuisance that dominates. */

import { sphericalKMeans } from '../../training/train/kmeans.js';
import { Rng } from '../../training/numeric/rng.js';
import type { TrainData } from '../../training/train/trainer.js';

export interface Synthetic {
  data: TrainData;
  /** Class of each photo (0 or 1). */
  classes: Int32Array;
}

/**
 * N photos in D dims: a class signal of +-1.5 on 4 dimensions and per-photo noise (std 0.5) on all, identical across
 * views; each view adds small jitter and a nuisance of +-`nuisance` on 4 other dimensions with a random sign per view
 * (like an augmentation). The nuisance dominates raw k-means; an embedding invariant across views ignores it.
 */
export function twoBlobs(n: number, dim: number, seed: number, views = 2, nuisance = 4): Synthetic {
  const rng = new Rng(seed);
  const classes = Int32Array.from({ length: n }, (_, i) => i % 2);
  const base = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) base[i * dim + d] = 0.5 * rng.normal() + (d < 4 ? (classes[i] ? 1.5 : -1.5) : 0);
  }
  const out: Float32Array[] = [];
  for (let v = 0; v < views; v++) {
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      for (let d = 0; d < dim; d++) x[i * dim + d] = base[i * dim + d] + 0.2 * rng.normal() + (d >= dim - 4 ? nuisance * sign : 0);
    }
    out.push(x);
  }
  return { data: { views: out, dim }, classes };
}

/** Accuracy of 2-means (spherical, on L2-normalized rows) against the classes, up to label swap. */
export async function twoMeansAccuracy(x: Float32Array, dim: number, classes: Int32Array): Promise<number> {
  const n = classes.length;
  const xn = Float32Array.from(x);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += xn[i * dim + j] ** 2;
    for (let j = 0; j < dim; j++) xn[i * dim + j] /= Math.sqrt(s);
  }
  const { labels } = await sphericalKMeans(xn, n, dim, { k: 2, seed: 1 });
  let agree = 0;
  for (let i = 0; i < n; i++) if (labels[i] === classes[i]) agree++;
  return Math.max(agree, n - agree) / n;
}

/** A small adapter so tests run in seconds. */
export const TINY_ADAPTER = { hiddenDim: 32, embedDim: 16, predictorHiddenDim: 32 };
