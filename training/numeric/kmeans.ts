/**
 * Spherical k-means (cosine similarity) with k-means++ seeding, restarts, optional mini-batch training for large
 * inputs, and the constraints that user corrections need:
 *
 * - `pinned`: point i must be in cluster c. Pinned points are never moved; a cluster with pinned points is seeded
 *   from their mean.
 * - `cannotLink`: point i must never be in cluster c.
 * - `fixed`: cluster c has a frozen prototype (a user album): either a given vector or the mean of its pinned
 *   members. It attracts free points but is never moved by them.
 * - `seeded`: cluster c starts from a given prototype (an existing album) and then moves like any other cluster.
 * - `pinnedWeight`: pinned points count this many times in their cluster's mean, so a few photos the person placed
 *   pull the album's prototype towards them (and with it the photos like them).
 *
 * Rows are compared by cosine similarity: a normalised copy of the input is made when rows are not unit length.
 * Centroids are unit vectors (normalised member means), which maximise the summed cosine similarity of their
 * members; that sum is the objective (higher is better). Everything is deterministic for a given `seed`.
 *
 * Speed: greedy k-means++ seeding on a sample, Lloyd iterations accelerated with Hamerly's distance bounds, and
 * (for n > 20,000 by default) mini-batch training followed by a few bounded Lloyd passes. See README.md.
 */

import { checkMatrix, dot, dotBlock, gatherRows, normalizeRow, unitRows } from './linalg.js';
import { Rng } from './rng.js';
import { DEFAULT_SEED_POWER, greedySeeds, seedTrials } from './seeding.js';

/** A cluster whose prototype never moves. */
export interface FixedCluster {
  cluster: number;
  /** The prototype (normalised internally). Default: the normalised mean of the cluster's pinned members. */
  centroid?: Float32Array;
}

/** Constraints from user corrections. Point and cluster ids are 0-based; cluster ids must be below k. */
export interface KMeansConstraints {
  /** `[point, cluster]` pairs or a `Map<point, cluster>`: the point is always in that cluster. */
  pinned?: ReadonlyMap<number, number> | ReadonlyArray<readonly [number, number]>;
  /** `[point, cluster]`: the point is never in that cluster. Conflicts with `pinned` throw. */
  cannotLink?: ReadonlyArray<readonly [number, number]>;
  /** Clusters with frozen prototypes. */
  fixed?: ReadonlyArray<FixedCluster>;
  /** Clusters with a given starting prototype that then moves (ignored for fixed clusters). */
  seeded?: ReadonlyArray<{ cluster: number; centroid: Float32Array }>;
  /** Weight of a pinned point in its cluster's mean (default 1). */
  pinnedWeight?: number;
}

export interface KMeansOptions {
  /** PRNG seed; equal seeds give identical results. Default 0. */
  seed?: number;
  /**
   * Independent seedings; the one with the best objective wins. Default 3. With mini-batch training the seedings
   * compete before training (on a validation sample) and only the best one is trained.
   */
  restarts?: number;
  /** Maximum full (Lloyd) iterations per run. Default 100. */
  maxIter?: number;
  /** Stop when at most this fraction of points changed cluster in an iteration. Default 1e-4. */
  tol?: number;
  /** 'auto' (default) uses mini-batch training when n exceeds `miniBatchThreshold`. */
  algorithm?: 'auto' | 'lloyd' | 'minibatch';
  /** Default 20,000. */
  miniBatchThreshold?: number;
  /** Points per mini-batch. Default 2048. */
  batchSize?: number;
  /**
   * Maximum mini-batch steps (training stops earlier once the smoothed batch objective plateaus). Default 100:
   * on 100,000 synthetic points, 50, 100 and 300 steps reached the same objective after the Lloyd polish.
   */
  miniBatchSteps?: number;
  /**
   * Full Lloyd iterations that polish the mini-batch solution on all points. Default 10. The first costs
   * n * k * dim multiply-adds, later ones far less (distance bounds); the mini-batch result is usually close to
   * converged already.
   */
  refineIter?: number;
  /**
   * Exponent on the k-means++ sampling weight (1 = classic k-means++). Default 16, which on synthetic blobs in
   * 256 dimensions (with or without 3-10% uniform outliers) gave clearly better seeds than 1-4; see seeding.ts.
   */
  seedPower?: number;
  constraints?: KMeansConstraints;
}

export interface KMeansResult {
  k: number;
  /** Cluster of each point; -1 only for a point that cannot-link forbids from every usable cluster. */
  assignments: Int32Array;
  /** `k x dim` unit centroids (a zero row for a cluster that never got a member or prototype). */
  centroids: Float32Array;
  /** Cosine similarity of each point to its centroid (NaN when unassigned). */
  similarities: Float32Array;
  /** Sum of `similarities` over assigned points (maximised). */
  objective: number;
  /** Members per cluster. */
  sizes: Int32Array;
  /** Lloyd iterations run by the winning restart. */
  iterations: number;
}

/** Rows per block in the assignment step. */
const ROW_BLOCK = 128;
/** Centroids per block in the assignment step (64 x 256 dims x 4 bytes = 64 KiB). */
const CENTROID_BLOCK = 64;
/** At most this many (random) free points are seeding candidates; enough to seed even small clusters. */
const SEED_SAMPLE = 8192;
/** Points on which mini-batch restarts are compared. */
const VALIDATION_SAMPLE = 8192;
/** Rows re-examined per batch in the bounded Lloyd step. */
const PENDING_BLOCK = 4096;
/** Mini-batch training stops after this many steps without a better smoothed batch objective. */
const PATIENCE = 10;

/** Validated input and constraints in array form. */
class Problem {
  /** Unit rows. */
  readonly x: Float32Array;
  /** Cluster each point is pinned to, or -1. */
  readonly pinOf: Int32Array;
  /** Forbidden clusters per point (only points that have any). */
  readonly banned = new Map<number, Set<number>>();
  /** 1 where the cluster's prototype is frozen. */
  readonly fixed: Uint8Array;
  /** Fixed prototypes (rows of fixed clusters) and pinned-member means (rows of clusters with pins). */
  readonly fixedCentroids: Float32Array;
  readonly pinnedMeans: Float32Array;
  readonly pinnedCount: Int32Array;
  /** 1 where the cluster starts from a given prototype; those prototypes. */
  readonly seeded: Uint8Array;
  readonly seededCentroids: Float32Array;
  readonly pinnedWeight: number;
  /** Points that are not pinned. */
  readonly free: Int32Array;

  constructor(
    data: Float32Array,
    readonly n: number,
    readonly dim: number,
    readonly k: number,
    constraints: KMeansConstraints = {},
  ) {
    checkMatrix(data, n, dim);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    this.x = unitRows(data, n, dim);
    const checkPoint = (i: number, what: string) => {
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${what}: point ${i} out of range [0, ${n})`);
    };
    const checkCluster = (c: number, what: string) => {
      if (!Number.isInteger(c) || c < 0 || c >= k) throw new RangeError(`${what}: cluster ${c} out of range [0, ${k})`);
    };

    this.pinOf = new Int32Array(n).fill(-1);
    this.pinnedMeans = new Float32Array(k * dim);
    this.pinnedCount = new Int32Array(k);
    for (const [i, c] of constraints.pinned ?? []) {
      checkPoint(i, 'pinned');
      checkCluster(c, 'pinned');
      if (this.pinOf[i] !== -1 && this.pinOf[i] !== c) {
        throw new RangeError(`pinned: point ${i} pinned to both ${this.pinOf[i]} and ${c}`);
      }
      if (this.pinOf[i] === c) continue;
      this.pinOf[i] = c;
      this.pinnedCount[c]++;
      for (let d = 0; d < dim; d++) this.pinnedMeans[c * dim + d] += this.x[i * dim + d];
    }
    for (let c = 0; c < k; c++) if (this.pinnedCount[c] > 0) normalizeRow(this.pinnedMeans, c * dim, dim);

    for (const [i, c] of constraints.cannotLink ?? []) {
      checkPoint(i, 'cannotLink');
      checkCluster(c, 'cannotLink');
      if (this.pinOf[i] === c) throw new RangeError(`point ${i} is both pinned to and cannot-linked from cluster ${c}`);
      let set = this.banned.get(i);
      if (!set) this.banned.set(i, (set = new Set()));
      set.add(c);
    }

    this.fixed = new Uint8Array(k);
    this.fixedCentroids = new Float32Array(k * dim);
    for (const f of constraints.fixed ?? []) {
      checkCluster(f.cluster, 'fixed');
      const row = f.cluster * dim;
      if (f.centroid) {
        if (f.centroid.length !== dim) {
          const got = f.centroid.length;
          throw new RangeError(`fixed: centroid of cluster ${f.cluster} has ${got} values, expected ${dim}`);
        }
        this.fixedCentroids.set(f.centroid, row);
        if (normalizeRow(this.fixedCentroids, row, dim) === 0) {
          throw new RangeError(`fixed: centroid of cluster ${f.cluster} is zero`);
        }
      } else if (this.pinnedCount[f.cluster] > 0) {
        this.fixedCentroids.set(this.pinnedMeans.subarray(row, row + dim), row);
      } else {
        throw new RangeError(`fixed: cluster ${f.cluster} has neither a centroid nor pinned members`);
      }
      this.fixed[f.cluster] = 1;
    }

    this.seeded = new Uint8Array(k);
    this.seededCentroids = new Float32Array(k * dim);
    for (const sd of constraints.seeded ?? []) {
      checkCluster(sd.cluster, 'seeded');
      if (sd.centroid.length !== dim) throw new RangeError(`seeded: centroid of cluster ${sd.cluster} has ${sd.centroid.length} values, expected ${dim}`);
      const row = sd.cluster * dim;
      this.seededCentroids.set(sd.centroid, row);
      if (normalizeRow(this.seededCentroids, row, dim) === 0) throw new RangeError(`seeded: centroid of cluster ${sd.cluster} is zero`);
      this.seeded[sd.cluster] = 1;
    }
    const w = constraints.pinnedWeight ?? 1;
    if (!(w >= 1 && Number.isFinite(w))) throw new RangeError(`pinnedWeight must be a finite number >= 1, got ${w}`);
    this.pinnedWeight = w;

    const free: number[] = [];
    for (let i = 0; i < n; i++) if (this.pinOf[i] === -1) free.push(i);
    this.free = Int32Array.from(free);
  }
}

/** Mutable state of one k-means run. */
interface State {
  centroids: Float32Array;
  /** 1 for clusters that have a usable (non-zero) centroid. */
  alive: Uint8Array;
  assignments: Int32Array;
  similarities: Float32Array;
  iterations: number;
}

/** Centroids plus which of them are usable. */
interface Seeds {
  centroids: Float32Array;
  alive: Uint8Array;
}

/**
 * Spherical k-means of `n x dim` row vectors into `k` clusters. See the module comment for the constraints.
 *
 * Cost: seeding about `k * (2 + ln k) * min(n, 8192) * dim` multiply-adds per restart; the first Lloyd
 * iteration `n * k * dim`; later iterations skip most points thanks to Hamerly's distance bounds (see `lloyd`).
 * Mini-batch steps cost `batchSize * k * dim` each.
 */
export function kmeans(data: Float32Array, n: number, dim: number, k: number, opts: KMeansOptions = {}): KMeansResult {
  const p = new Problem(data, n, dim, k, opts.constraints);
  const rng = new Rng(opts.seed ?? 0);
  if (n === 0) {
    const empty = { assignments: new Int32Array(0), similarities: new Float32Array(0), iterations: 0 };
    return finish(p, { ...initialCentroids(p), ...empty });
  }
  const algorithm = opts.algorithm ?? 'auto';
  const miniBatch = algorithm === 'minibatch' || (algorithm === 'auto' && n > (opts.miniBatchThreshold ?? 20_000));
  return finish(p, miniBatch ? miniBatchKMeans(p, opts, rng) : restartedLloyd(p, opts, rng));
}

/** Points changing cluster in an iteration at or below which Lloyd stops. */
function tolCount(p: Problem, opts: KMeansOptions): number {
  return Math.floor(Math.max(0, opts.tol ?? 1e-4) * p.n);
}

/** `restarts` x (seeding + Lloyd to convergence); the run with the best objective wins. */
function restartedLloyd(p: Problem, opts: KMeansOptions, rng: Rng): State {
  const restarts = Math.max(1, opts.restarts ?? 3);
  const maxIter = Math.max(1, opts.maxIter ?? 100);
  let best: State | undefined;
  let bestScore = -Infinity;
  for (let r = 0; r < restarts; r++) {
    const run = rng.fork();
    const seeds = seedCentroids(p, seedCandidates(p, run), opts.seedPower ?? DEFAULT_SEED_POWER, run);
    const state = lloyd(p, seeds, maxIter, tolCount(p, opts));
    const score = objective(state.similarities);
    if (score > bestScore) {
      bestScore = score;
      best = state;
    }
  }
  return best!;
}

/**
 * As in scikit-learn's MiniBatchKMeans, restarts only compete on their seeding (scored on a common validation
 * sample); the winner is trained with mini-batches and then polished by bounded Lloyd passes on all points.
 */
function miniBatchKMeans(p: Problem, opts: KMeansOptions, rng: Rng): State {
  const restarts = Math.max(1, opts.restarts ?? 3);
  const validation = rng.sample(p.n, Math.min(p.n, VALIDATION_SAMPLE));
  const valX = gatherRows(p.x, p.dim, validation);
  let best: Seeds | undefined;
  let bestScore = -Infinity;
  for (let r = 0; r < restarts; r++) {
    const seeds = seedCentroids(p, seedCandidates(p, rng), opts.seedPower ?? DEFAULT_SEED_POWER, rng);
    const score = scoreCentroids(p, seeds, valX, validation);
    if (score > bestScore) {
      bestScore = score;
      best = seeds;
    }
  }
  const batchSize = Math.max(1, Math.min(p.n, opts.batchSize ?? 2048));
  miniBatchTrain(p, best!, batchSize, opts.miniBatchSteps ?? 100, rng);
  return lloyd(p, best!, opts.refineIter ?? 10, tolCount(p, opts));
}

/** Per-row output of {@link assignRows}. */
interface Assignment {
  labels: Int32Array;
  /** Similarity to the chosen cluster (NaN when none is allowed). */
  sims: Float32Array;
  /** Similarity to the best other allowed, usable cluster (-Infinity when there is none); optional. */
  second?: Float32Array;
}

/**
 * Nearest allowed cluster for each row of `xs` (`count x dim`, unit rows). `origin[r]` is the point id of row r,
 * used for pins and bans, or null when row r is point r. Pinned rows get their pin. Writes `out`; returns how many
 * labels differ from what `out.labels` held before.
 */
function assignRows(
  p: Problem,
  xs: Float32Array,
  count: number,
  origin: Int32Array | null,
  seeds: Seeds,
  out: Assignment,
): number {
  const { k, dim } = p;
  const { centroids, alive } = seeds;
  const { labels, sims, second } = out;
  const tile = new Float32Array(ROW_BLOCK * k);
  let changed = 0;
  for (let r0 = 0; r0 < count; r0 += ROW_BLOCK) {
    const nr = Math.min(ROW_BLOCK, count - r0);
    for (let c0 = 0; c0 < k; c0 += CENTROID_BLOCK) {
      const nc = Math.min(CENTROID_BLOCK, k - c0);
      dotBlock(xs, r0, nr, centroids, c0, nc, dim, tile.subarray(c0), k);
    }
    for (let a = 0; a < nr; a++) {
      const r = r0 + a;
      const i = origin ? origin[r] : r;
      const row = a * k;
      const pin = p.pinOf[i];
      const ban = p.banned.get(i);
      let best = -1;
      let bestSim = -Infinity;
      let secondSim = -Infinity;
      for (let c = 0; c < k; c++) {
        if (!alive[c] || c === pin || ban?.has(c)) continue;
        const s = tile[row + c];
        if (s > bestSim) {
          secondSim = bestSim;
          best = c;
          bestSim = s;
        } else if (s > secondSim) {
          secondSim = s;
        }
      }
      if (pin >= 0) {
        // A pinned point stays put; its best alternative is only informative.
        secondSim = Math.max(secondSim, bestSim);
        best = pin;
        bestSim = tile[row + pin];
      }
      if (labels[r] !== best) changed++;
      labels[r] = best;
      sims[r] = best >= 0 ? bestSim : NaN;
      if (second) second[r] = secondSim;
    }
  }
  return changed;
}

/** Centroids that constraints determine (fixed or seeded prototypes, pinned means); the rest zero and not alive. */
function initialCentroids(p: Problem): Seeds {
  const { k, dim } = p;
  const centroids = new Float32Array(k * dim);
  const alive = new Uint8Array(k);
  for (let c = 0; c < k; c++) {
    const row = c * dim;
    if (p.fixed[c]) {
      centroids.set(p.fixedCentroids.subarray(row, row + dim), row);
      alive[c] = 1;
    } else if (p.seeded[c]) {
      centroids.set(p.seededCentroids.subarray(row, row + dim), row);
      alive[c] = 1;
    } else if (p.pinnedCount[c] > 0) {
      centroids.set(p.pinnedMeans.subarray(row, row + dim), row);
      alive[c] = 1;
    }
  }
  return { centroids, alive };
}

/** The free points, or a random {@link SEED_SAMPLE} of them. */
function seedCandidates(p: Problem, rng: Rng): Int32Array {
  const m = p.free.length;
  return m <= SEED_SAMPLE ? p.free : rng.sample(m, SEED_SAMPLE).map((r) => p.free[r]);
}

/**
 * Seeds: constraint-determined centroids first, then greedy k-means++ (see seeding.ts) over `candidates` for the
 * remaining clusters. Cost: about `k * seedTrials(k) * candidates * dim` multiply-adds.
 */
function seedCentroids(p: Problem, candidates: Int32Array, power: number, rng: Rng): Seeds {
  const { k, dim } = p;
  const { centroids, alive } = initialCentroids(p);
  const m = candidates.length;
  if (m === 0) return { centroids, alive };
  const xc = m === p.n ? p.x : gatherRows(p.x, dim, candidates);
  // Distance weight of each candidate to the nearest centroid the constraints already determine.
  const weight = new Float64Array(m).fill(1);
  const column = new Float32Array(m);
  let constrained = 0;
  for (let c = 0; c < k; c++) {
    if (!alive[c]) continue;
    dotBlock(xc, 0, m, centroids, c, 1, dim, column, 1);
    for (let r = 0; r < m; r++) weight[r] = Math.min(weight[r], Math.max(0, 1 - column[r]));
    constrained++;
  }
  const trials = seedTrials(k);
  const trialRows = new Float32Array(trials * dim);
  const similarities = (picks: Int32Array, t: number, tile: Float32Array) => {
    for (let j = 0; j < t; j++) trialRows.set(xc.subarray(picks[j] * dim, (picks[j] + 1) * dim), j * dim);
    dotBlock(xc, 0, m, trialRows, 0, t, dim, tile, t);
  };
  const free: number[] = [];
  for (let c = 0; c < k; c++) if (!alive[c]) free.push(c);
  const picks = greedySeeds(free.length, weight, constrained > 0, similarities, power, rng, trials);
  free.forEach((c, s) => {
    centroids.set(xc.subarray(picks[s] * dim, (picks[s] + 1) * dim), c * dim);
    alive[c] = 1;
  });
  return { centroids, alive };
}

/** Euclidean distance between unit vectors with cosine similarity `s`. */
function chord(s: number): number {
  return Math.sqrt(Math.max(0, 2 - 2 * s));
}

/**
 * Full-batch Lloyd iterations from `seeds` until at most `tolCount` points change cluster, accelerated with
 * Hamerly's bounds (G. Hamerly, "Making k-means even faster", SDM 2010) on the chord distance
 * |x - c| = sqrt(2 - 2 cos) between unit vectors, which is a metric, so the triangle inequality applies.
 *
 * Per free point the run keeps an upper bound u on the distance to its centroid and a lower bound l on the
 * distance to every other centroid. When centroids move by delta, u grows by its centroid's delta and l shrinks by
 * the largest other delta. A point provably keeps its cluster when u <= max(l, s/2), where s is the distance from
 * its centroid to the nearest other centroid; only the remaining points (few, once the clustering settles) are
 * compared against all k centroids. Points with cannot-link constraints are always compared in full, pinned
 * points never. The result is identical to plain Lloyd up to floating-point ties.
 */
function lloyd(p: Problem, seeds: Seeds, maxIter: number, tolCount: number): State {
  const { n, k, dim, x } = p;
  const state: State = {
    centroids: seeds.centroids.slice(),
    alive: seeds.alive.slice(),
    assignments: new Int32Array(n).fill(-2),
    similarities: new Float32Array(n),
    iterations: 0,
  };
  const { centroids, alive, assignments, similarities } = state;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const second = new Float32Array(n);
  assignRows(p, x, n, null, state, { labels: assignments, sims: similarities, second });
  for (let i = 0; i < n; i++) {
    upper[i] = chord(similarities[i]);
    lower[i] = chord(second[i]);
  }

  const previous = new Float32Array(k * dim);
  const moved = new Float64Array(k);
  const halfGap = new Float64Array(k);
  const gram = new Float32Array(k * k);
  const pending = new Int32Array(Math.min(n, PENDING_BLOCK));
  const pendingX = new Float32Array(pending.length * dim);
  const out: Assignment = {
    labels: new Int32Array(pending.length),
    sims: new Float32Array(pending.length),
    second: new Float32Array(pending.length),
  };

  while (state.iterations < maxIter) {
    state.iterations++;
    previous.set(centroids);
    const relocated = updateCentroids(p, state);

    // How far each centroid moved, and the two largest moves (a point's own centroid is excluded from l's shift).
    let max1 = 0;
    let max2 = 0;
    let argMax1 = -1;
    for (let c = 0; c < k; c++) {
      let ss = 0;
      for (let d = 0; d < dim; d++) {
        const diff = centroids[c * dim + d] - previous[c * dim + d];
        ss += diff * diff;
      }
      moved[c] = Math.sqrt(ss);
      if (moved[c] > max1) {
        max2 = max1;
        max1 = moved[c];
        argMax1 = c;
      } else if (moved[c] > max2) {
        max2 = moved[c];
      }
    }
    // Half the distance from each centroid to its nearest usable neighbour.
    dotBlock(centroids, 0, k, centroids, 0, k, dim, gram, k);
    for (let c = 0; c < k; c++) {
      let nearest = -Infinity;
      for (let c2 = 0; c2 < k; c2++) {
        if (c2 !== c && alive[c2] && gram[c * k + c2] > nearest) nearest = gram[c * k + c2];
      }
      halfGap[c] = chord(nearest) / 2;
    }

    let changed = relocated;
    let queued = 0;
    const flush = () => {
      for (let q = 0; q < queued; q++) out.labels[q] = assignments[pending[q]];
      for (let q = 0; q < queued; q++) {
        pendingX.set(x.subarray(pending[q] * dim, (pending[q] + 1) * dim), q * dim);
      }
      changed += assignRows(p, pendingX, queued, pending, state, out);
      for (let q = 0; q < queued; q++) {
        const i = pending[q];
        assignments[i] = out.labels[q];
        similarities[i] = out.sims[q];
        upper[i] = chord(out.sims[q]);
        lower[i] = chord(out.second![q]);
      }
      queued = 0;
    };
    for (let i = 0; i < n; i++) {
      if (p.pinOf[i] >= 0) continue;
      const a = assignments[i];
      if (relocated > 0 || a < 0 || p.banned.has(i)) {
        // Bounds are void after an empty-cluster relocation; constrained points are always re-examined.
        pending[queued++] = i;
      } else {
        upper[i] += moved[a];
        lower[i] -= a === argMax1 ? max2 : max1;
        const bound = Math.max(lower[i], halfGap[a]);
        if (upper[i] <= bound) continue;
        const s = dot(x, i * dim, centroids, a * dim, dim);
        similarities[i] = s;
        upper[i] = chord(s);
        if (upper[i] <= bound) continue;
        pending[queued++] = i;
      }
      if (queued === pending.length) flush();
    }
    flush();
    if (changed <= tolCount) break;
  }
  // Skipped points kept similarities from earlier centroids: refresh them so the objective is exact.
  for (let i = 0; i < n; i++) {
    const a = assignments[i];
    similarities[i] = a >= 0 ? dot(x, i * dim, centroids, a * dim, dim) : NaN;
  }
  return state;
}

/**
 * Recomputes free clusters' centroids as normalised member means. A free cluster left empty takes over the
 * worst-fitting movable point (lowest similarity, not pinned, allowed there, from a cluster with other members),
 * the standard fix for empty clusters. Returns how many points were moved that way.
 */
function updateCentroids(p: Problem, state: State): number {
  const { n, k, dim, x } = p;
  const { centroids, alive, assignments, similarities } = state;
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    if (c < 0) continue;
    counts[c]++;
    const so = c * dim;
    const xo = i * dim;
    if (p.pinOf[i] >= 0 && p.pinnedWeight !== 1) {
      const w = p.pinnedWeight;
      for (let d = 0; d < dim; d++) sums[so + d] += w * x[xo + d];
    } else {
      for (let d = 0; d < dim; d++) sums[so + d] += x[xo + d];
    }
  }

  let relocated = 0;
  const empty: number[] = [];
  for (let c = 0; c < k; c++) if (!p.fixed[c] && counts[c] === 0) empty.push(c);
  if (empty.length > 0) {
    const movable = Array.from(p.free).filter((i) => assignments[i] >= 0);
    movable.sort((a, b) => similarities[a] - similarities[b] || a - b);
    let next = 0;
    for (const c of empty) {
      while (next < movable.length) {
        const i = movable[next++];
        const from = assignments[i];
        if (counts[from] <= 1 || p.banned.get(i)?.has(c)) continue;
        counts[from]--;
        counts[c]++;
        const xo = i * dim;
        for (let d = 0; d < dim; d++) {
          sums[from * dim + d] -= x[xo + d];
          sums[c * dim + d] = x[xo + d];
        }
        assignments[i] = c;
        similarities[i] = 1;
        relocated++;
        break;
      }
    }
  }

  for (let c = 0; c < k; c++) {
    if (p.fixed[c] || counts[c] === 0) continue; // fixed prototypes never move; empty clusters keep their centroid
    const so = c * dim;
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += sums[so + d] * sums[so + d];
    if (ss === 0) continue; // members cancel out exactly: keep the previous direction
    const inv = 1 / Math.sqrt(ss);
    for (let d = 0; d < dim; d++) centroids[so + d] = sums[so + d] * inv;
    alive[c] = 1;
  }
  return relocated;
}

/**
 * Mini-batch spherical k-means (Sculley 2010), updating `seeds` in place: per batch every centroid moves towards
 * the mean of its batch members with step count_batch / count_so_far, and is renormalised. Stops after `maxSteps`
 * or when the smoothed batch objective has not improved for {@link PATIENCE} steps.
 */
function miniBatchTrain(p: Problem, seeds: Seeds, batchSize: number, maxSteps: number, rng: Rng): void {
  const { n, k, dim, x } = p;
  const { centroids, alive } = seeds;
  const totals = new Float64Array(k);
  const batch = new Int32Array(batchSize);
  const out: Assignment = { labels: new Int32Array(batchSize), sims: new Float32Array(batchSize) };
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  let smoothed = NaN;
  let bestSmoothed = -Infinity;
  let sinceBest = 0;
  for (let step = 0; step < maxSteps; step++) {
    for (let b = 0; b < batchSize; b++) batch[b] = rng.int(n);
    const xs = gatherRows(x, dim, batch);
    assignRows(p, xs, batchSize, batch, seeds, out);

    sums.fill(0);
    counts.fill(0);
    let batchObjective = 0;
    for (let b = 0; b < batchSize; b++) {
      const c = out.labels[b];
      if (c < 0) continue;
      batchObjective += out.sims[b];
      counts[c]++;
      const so = c * dim;
      const xo = b * dim;
      for (let d = 0; d < dim; d++) sums[so + d] += xs[xo + d];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0 || p.fixed[c]) continue;
      totals[c] += counts[c];
      const eta = counts[c] / totals[c];
      const so = c * dim;
      const inv = 1 / counts[c];
      for (let d = 0; d < dim; d++) {
        centroids[so + d] = (1 - eta) * centroids[so + d] + eta * sums[so + d] * inv;
      }
      normalizeRow(centroids, so, dim);
      alive[c] = 1;
    }

    const mean = batchObjective / batchSize;
    smoothed = Number.isNaN(smoothed) ? mean : 0.9 * smoothed + 0.1 * mean;
    if (smoothed > bestSmoothed + 1e-6) {
      bestSmoothed = smoothed;
      sinceBest = 0;
    } else if (++sinceBest >= PATIENCE) {
      break;
    }
  }
}

/** Summed similarity of the rows `valX` (point ids `ids`) to their nearest allowed centroid. */
function scoreCentroids(p: Problem, seeds: Seeds, valX: Float32Array, ids: Int32Array): number {
  const out: Assignment = { labels: new Int32Array(ids.length), sims: new Float32Array(ids.length) };
  assignRows(p, valX, ids.length, ids, seeds, out);
  return objective(out.sims);
}

function objective(similarities: Float32Array): number {
  let sum = 0;
  for (const s of similarities) if (!Number.isNaN(s)) sum += s;
  return sum;
}

/** Makes centroids the normalised means of the final assignment and measures similarities against them. */
function finish(p: Problem, state: State): KMeansResult {
  const { n, k, dim, x } = p;
  if (n > 0) updateCentroids(p, state);
  const { centroids, alive, assignments, similarities } = state;
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    if (c < 0) {
      similarities[i] = NaN;
      continue;
    }
    sizes[c]++;
    similarities[i] = dot(x, i * dim, centroids, c * dim, dim);
  }
  for (let c = 0; c < k; c++) if (!alive[c]) centroids.fill(0, c * dim, (c + 1) * dim);
  return {
    k,
    assignments,
    centroids,
    similarities,
    objective: objective(similarities),
    sizes,
    iterations: state.iterations,
  };
}
