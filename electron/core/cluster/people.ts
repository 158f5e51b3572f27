/**
 * Grouping faces into people, with no number of people given. Faces already with a person stay there (so people
 * are stable across organizes, and a face the person placed is never moved). A new face joins the nearest person
 * when close enough; the rest are grouped by average linkage on cosine distance, cut at a threshold, where two faces
 * of one photo can never end up together. Groups of at least `minFaces` become new people; low-quality faces
 * (tiny, unsure, profile) only ever join, never found a person. What matches no one stays unknown.
 */

/** A face without a person yet. */
export interface PeopleFace {
  id: number;
  photoId: number;
  /** Unit vector. */
  embedding: Float32Array;
  lowQuality: boolean;
  /** People this face must never join ("Not this person"). */
  notPeople?: readonly number[];
}

/** A person who has faces already: the sum of their faces' vectors, how many were summed, and their photos. */
export interface KnownPerson {
  id: number;
  centre: Float32Array;
  count: number;
  photos: Set<number>;
}

export interface PeopleOptions {
  /** Average cosine distance up to which two groups merge (bench/faces-embed: 0.46-0.53 keeps 12 people apart). */
  linkThreshold?: number;
  /**
   * Average cosine distance to a person's faces up to which a new face joins them (1 - the dot with their mean
   * vector, not normalised: the mean of many faces of non-negative features points at "a face", near everyone).
   */
  joinThreshold?: number;
  /** Faces a new person needs. */
  minFaces?: number;
  /** At most this many unassigned faces are grouped in one run (memory grows with its square); the rest wait. */
  maxGroup?: number;
}

export interface PeopleResult {
  /** Faces that join an existing person: face id -> person id. */
  joins: Map<number, number>;
  /** New people, each as the ids of its faces. */
  newPeople: number[][];
  /** Faces left for a later run (past `maxGroup`): neither joined nor grouped, nor found to match no one. */
  deferred: number[];
}

export const PEOPLE_DEFAULTS: Required<PeopleOptions> = { linkThreshold: 0.5, joinThreshold: 0.45, minFaces: 2, maxGroup: 4000 };

const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * Average-linkage clusters of unit vectors, merged while their average cosine distance is at most `threshold`;
 * items with the same `group` (faces of one photo) never share a cluster. Nearest-neighbour chain, O(n^2).
 * Returns a cluster index per item.
 */
export function averageLinkage(vectors: readonly Float32Array[], group: readonly number[], threshold: number): number[] {
  const n = vectors.length;
  const d = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = group[i] === group[j] ? Infinity : 1 - dot(vectors[i], vectors[j]);
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  const size = new Int32Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const root = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (root[i] !== i) i = root[i] = root[root[i]];
    return i;
  };
  const chain: number[] = [];
  let next = 0;
  for (;;) {
    if (chain.length === 0) {
      while (next < n && !active[next]) next++;
      if (next >= n) break;
      chain.push(next);
    }
    const a = chain[chain.length - 1];
    const prev = chain.length >= 2 ? chain[chain.length - 2] : -1;
    let b = -1;
    let best = Infinity;
    for (let k = 0; k < n; k++) {
      if (k === a || !active[k]) continue;
      const v = d[a * n + k];
      if (v < best || (v === best && k === prev)) {
        best = v;
        b = k;
      }
    }
    if (b < 0 || !(best <= threshold)) {
      // Nothing is close enough to `a`, and merges elsewhere only move clusters further from it: it is final.
      active[a] = 0;
      chain.pop();
      continue;
    }
    if (b === prev) {
      chain.pop();
      chain.pop();
      const sa = size[a];
      const sb = size[b];
      for (let k = 0; k < n; k++) {
        if (!active[k] || k === a || k === b) continue;
        const v = (sa * d[a * n + k] + sb * d[b * n + k]) / (sa + sb);
        d[a * n + k] = v;
        d[k * n + a] = v;
      }
      active[b] = 0;
      size[a] = sa + sb;
      root[b] = a;
    } else chain.push(b);
  }
  return Array.from({ length: n }, (_, i) => find(i));
}

/**
 * Where each face without a person goes: one of the `known` people, a new person, or nowhere (see the file
 * comment). Only the open faces and one vector per person are needed, so memory does not grow with the library.
 */
export function groupPeople(open: readonly PeopleFace[], known: readonly KnownPerson[] = [], options: PeopleOptions = {}): PeopleResult {
  const opts = { ...PEOPLE_DEFAULTS, ...options };
  const dim = open[0]?.embedding.length ?? 0;
  const centre = new Map<number, Float32Array>();
  const photosOf = new Map<number, Set<number>>();
  for (const p of known) {
    const n = Math.max(1, p.count);
    centre.set(
      p.id,
      p.centre.map((v) => v / n),
    );
    photosOf.set(p.id, new Set(p.photos));
  }
  const joins = new Map<number, number>();
  const join = (f: PeopleFace, centres: Map<number, Float32Array>, threshold: number): boolean => {
    let best = -1;
    let bestD = Infinity;
    for (const [p, c] of centres) {
      if (photosOf.get(p)?.has(f.photoId) || f.notPeople?.includes(p)) continue;
      const dd = 1 - dot(f.embedding, c);
      if (dd < bestD) {
        bestD = dd;
        best = p;
      }
    }
    if (best < 0 || !(bestD <= threshold)) return false;
    joins.set(f.id, best);
    photosOf.get(best)!.add(f.photoId);
    return true;
  };
  const good = open.filter((f) => !f.lowQuality && !join(f, centre, opts.joinThreshold));
  const low = open.filter((f) => f.lowQuality);

  const grouped = good.slice(0, opts.maxGroup);
  const deferred = good.slice(opts.maxGroup).map((f) => f.id);
  const labels = averageLinkage(
    grouped.map((f) => f.embedding),
    grouped.map((f) => f.photoId),
    opts.linkThreshold,
  );
  const clusters = new Map<number, PeopleFace[]>();
  grouped.forEach((f, i) => clusters.set(labels[i], [...(clusters.get(labels[i]) ?? []), f]));
  const newPeople: number[][] = [];
  const newCentres = new Map<number, Float32Array>();
  for (const members of clusters.values()) {
    if (members.length < opts.minFaces) continue;
    const key = -(newPeople.length + 1); // placeholder ids for the low-quality pass below
    const c = new Float32Array(dim);
    for (const f of members) for (let i = 0; i < dim; i++) c[i] += f.embedding[i] / members.length;
    newCentres.set(key, c);
    photosOf.set(key, new Set(members.map((f) => f.photoId)));
    newPeople.push(members.map((f) => f.id));
  }
  // Low-quality faces join existing or new people only when clearly close; they never found one.
  const strict = opts.joinThreshold - 0.05;
  for (const f of low) {
    if (join(f, centre, strict)) continue;
    if (join(f, newCentres, strict)) {
      const key = joins.get(f.id)!;
      joins.delete(f.id);
      newPeople[-key - 1].push(f.id);
    }
  }
  return { joins, newPeople, deferred };
}
