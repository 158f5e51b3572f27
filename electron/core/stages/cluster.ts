/**
 * Cluster stage: turns embeddings into albums while keeping every user edit.
 *
 * - Photos the person placed (pinned memberships) never move. Albums the person shaped (holding pinned photos,
 *   created, merged into or renamed by the person) become clusters seeded from their current members, the placed
 *   photos weighted {@link PINNED_WEIGHT} times, so similar photos join them; they are never deleted.
 * - A photo the person took out of an album is never put back in it (cannot-link).
 * - Full mode re-clusters every unpinned photo; new clusters take over the ids, names and covers of the automatic
 *   albums they overlap most, so albums (and the one the person has open) stay the same albums across re-organizes.
 * - Incremental mode (the default once a library is organized) only files photos that have no album yet into the
 *   nearest existing album, or Unsorted when none is close enough: nothing is reshuffled.
 *
 * The clustering itself runs in a worker thread (compute/), so the API stays responsive meanwhile. Everything is
 * written in one transaction that re-reads the memberships first: a membership the person changed after the stage
 * read its snapshot is left as the person left it.
 */
import type { Db } from '../db/database.js';
import { tx } from '../db/database.js';
import { assignToNearest, outlierThreshold, type AlbumOptions, type AlbumPrototype, type AlbumsResult } from '../cluster/index.js';
import { centerRows, dot, gatherRows, unitRows } from '../../../training/numeric/linalg.js';
import { compute } from '../compute/client.js';
import * as embeddings from '../embeddings.js';
import type { JobContext } from '../jobs.js';
import type { Library } from '../library.js';
import { unsortedAlbumId } from '../albums/store.js';
import { refreshAlbumNames } from '../albums/names.js';

/**
 * Weight of a photo the person placed in its album's prototype. On intel-scenes (simulated corrections: 2% of each
 * class moved into its album, centred centernet features) weight 5 did best; docs/results.md, "Corrections".
 */
export const PINNED_WEIGHT = 5;

export interface ClusterStageOptions {
  k: 'auto' | number;
  mode: 'full' | 'incremental';
  seed: number;
  /** Runs after the albums are computed and before they are written (tests edit the library here). */
  beforeWrite?: () => void | Promise<void>;
}

export interface ClusterStageResult {
  albums: number;
  unsorted: number;
  chosenK: number | null;
  /** Photos given a place by this run. */
  assigned: number;
  /** Memberships the person changed while the stage ran, left as they were. */
  keptEdits: number;
}

interface MemberRow {
  photo_id: number;
  album_id: number;
  pinned: number;
  kind: 'auto' | 'user' | 'unsorted';
  name_source: 'auto' | 'user';
  updated_at: number;
}

function liveMembers(db: Db): MemberRow[] {
  return db
    .prepare(
      `SELECT m.photo_id, m.album_id, m.pinned, m.updated_at, a.kind, a.name_source FROM album_members m JOIN albums a ON a.id = m.album_id
         JOIN photos p ON p.id = m.photo_id WHERE p.status = 'ok' AND a.deleted_at IS NULL`,
    )
    .all() as MemberRow[];
}

/** Ok photos with a vector of `modelKey` and no album yet: what an incremental run has to place. */
function unplacedCount(db: Db, modelKey: string): number {
  return (
    db
      .prepare(
        `SELECT COUNT(*) AS n FROM embeddings e JOIN photos p ON p.id = e.photo_id AND e.hash = p.hash
           LEFT JOIN album_members m ON m.photo_id = p.id
          WHERE e.model_key = ? AND p.status = 'ok' AND m.photo_id IS NULL`,
      )
      .get(modelKey) as { n: number }
  ).n;
}

function liveAlbumCount(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM albums WHERE kind != 'unsorted' AND deleted_at IS NULL`).get() as { n: number }).n;
}

/** Put the photos into albums. `modelKey` names the embeddings to use. */
export async function clusterStage(lib: Library, modelKey: string, opts: ClusterStageOptions, ctx: JobContext): Promise<ClusterStageResult> {
  const db = lib.db;
  const unsorted = unsortedAlbumId(db);
  const key = embeddings.embeddingKey(modelKey);
  const organizedBefore = db.prepare(`SELECT 1 FROM album_members m JOIN albums a ON a.id = m.album_id WHERE a.kind != 'unsorted' OR m.pinned = 1 LIMIT 1`).get();
  if (opts.mode === 'incremental' && organizedBefore && unplacedCount(db, modelKey) === 0) {
    // Nothing new to file: no vectors are read at all (a restart with an unchanged library stays cheap).
    ctx.stage('cluster', 0, 'Every photo already has its place');
    return { albums: liveAlbumCount(db), unsorted: 0, chosenK: null, assigned: 0, keptEdits: 0 };
  }
  const snapshotAt = Date.now();
  const { ids, dim, data } = embeddings.load(db, key);
  const n = ids.length;
  ctx.stage('cluster', n, `Grouping ${n} photos into albums`);
  if (n === 0) return { albums: 0, unsorted: 0, chosenK: null, assigned: 0, keptEdits: 0 };
  // Clustering works on centred vectors (see centerRows); near-duplicates are found on the plain unit vectors.
  const raw = unitRows(data, n, dim);
  const x = centerRows(raw, n, dim).x;
  const members = liveMembers(db);
  const cannot = db.prepare('SELECT photo_id, album_id FROM cannot_link').all() as { photo_id: number; album_id: number }[];
  const input: Snapshot = { ids, dim, x, raw, members, cannot, unsorted, snapshotAt };
  if (opts.mode === 'incremental' && organizedBefore) return incremental(db, input, opts, ctx);
  return full(db, input, opts, ctx);
}

interface Snapshot {
  ids: number[];
  dim: number;
  /** Centred unit rows. */
  x: Float32Array;
  /** Plain unit rows (near-duplicates). */
  raw: Float32Array;
  members: MemberRow[];
  cannot: { photo_id: number; album_id: number }[];
  unsorted: number;
  /** Memberships updated after this (ms) are the person's, made while the stage ran. */
  snapshotAt: number;
}

/** Albums the person shaped: they seed their own cluster and are never retired. */
function isShaped(m: Pick<MemberRow, 'kind' | 'name_source'>, pinned: boolean): boolean {
  return m.kind !== 'unsorted' && (pinned || m.kind === 'user' || m.name_source === 'user');
}

/** What the person's edits say to the clustering: shaped albums as fixed clusters 0..P-1, pins, cannot-links. */
interface Plan {
  /** Rows of the snapshot that are clustered (photos pinned to Unsorted are left out: "no album"). */
  keep: number[];
  /** Shaped albums in cluster order. */
  protectedAlbums: number[];
  shaped: Set<number>;
  k: number | 'auto';
  constraints: ClusterConstraints;
}

type ClusterConstraints = NonNullable<AlbumOptions['constraints']>;

function plan(s: Snapshot, opts: ClusterStageOptions): Plan {
  const { ids, dim, x, members } = s;
  const index = new Map(ids.map((id, i) => [id, i]));
  const memberOf = new Map(members.map((m) => [m.photo_id, m]));
  const shaped = new Set<number>();
  for (const m of members) if (isShaped(m, m.pinned === 1) && index.has(m.photo_id)) shaped.add(m.album_id);
  const protectedAlbums = [...shaped].sort((a, b) => a - b);
  const clusterOfAlbum = new Map(protectedAlbums.map((a, c) => [a, c]));
  const pinned: [number, number][] = [];
  const excluded = new Set<number>(); // pinned to Unsorted: the person said "no album"
  for (const m of members) {
    const i = index.get(m.photo_id);
    if (i === undefined || !m.pinned) continue;
    if (m.kind === 'unsorted') excluded.add(i);
    else pinned.push([i, clusterOfAlbum.get(m.album_id)!]);
  }
  const keep = ids.map((_, i) => i).filter((i) => !excluded.has(i));
  const subIndex = new Map(keep.map((i, r) => [i, r]));
  const cannotLink: [number, number][] = [];
  for (const c of s.cannot) {
    const i = index.get(c.photo_id);
    const cl = clusterOfAlbum.get(c.album_id);
    if (i !== undefined && cl !== undefined && subIndex.has(i)) cannotLink.push([subIndex.get(i)!, cl]);
  }
  const P = protectedAlbums.length;
  const k = opts.k === 'auto' ? 'auto' : Math.min(Math.max(opts.k, P, 1), Math.max(1, keep.length));
  const rowsOf = new Map<number, number[]>();
  for (const m of members) {
    const i = index.get(m.photo_id);
    if (i !== undefined && clusterOfAlbum.has(m.album_id)) rowsOf.set(m.album_id, [...(rowsOf.get(m.album_id) ?? []), i]);
  }
  return {
    keep,
    protectedAlbums,
    shaped,
    k,
    constraints: {
      pinned: pinned.filter(([i]) => subIndex.has(i)).map(([i, c]) => [subIndex.get(i)!, c] as [number, number]),
      cannotLink,
      // A shaped album starts from the mean of everything in it now, the photos the person placed counting
      // PINNED_WEIGHT times; it then re-forms like any cluster, so photos like the ones the person moved
      // follow them, while one moved photo does not redefine what a big album is about.
      seeded: protectedAlbums.map((a, c) => ({
        cluster: c,
        centroid: meanOf(x, dim, rowsOf.get(a) ?? [], (r) => (memberOf.get(ids[r])?.pinned ? PINNED_WEIGHT : 1)),
      })),
      pinnedWeight: PINNED_WEIGHT,
    },
  };
}

async function full(db: Db, s: Snapshot, opts: ClusterStageOptions, ctx: JobContext): Promise<ClusterStageResult> {
  const { dim, x, raw } = s;
  const p = plan(s, opts);
  const result: AlbumsResult | null = p.keep.length
    ? await compute(
        'clusterIntoAlbums',
        [gatherRows(x, dim, p.keep), p.keep.length, dim, { k: p.k, seed: opts.seed, duplicateVectors: gatherRows(raw, dim, p.keep), constraints: p.constraints }],
        ctx.signal,
      )
    : null;
  ctx.progress(Math.floor(s.ids.length / 2));
  await opts.beforeWrite?.();
  ctx.signal.throwIfAborted();
  const out = tx(db, () => write(db, s, p, result));
  ctx.progress(s.ids.length);
  return out;
}

/** Clusters -> album ids: shaped clusters keep theirs; the others take over the automatic album they overlap most. */
function matchAlbums(s: Snapshot, p: Plan, result: AlbumsResult | null, current: Map<number, MemberRow>): Map<number, number> {
  const P = p.protectedAlbums.length;
  const albumIdOfCluster = new Map<number, number>();
  p.protectedAlbums.forEach((a, c) => albumIdOfCluster.set(c, a));
  const overlap = new Map<string, number>();
  for (const al of result?.albums ?? []) {
    if (al.cluster < P) continue;
    for (const r of al.members) {
      const m = current.get(s.ids[p.keep[r]]);
      if (m && m.kind === 'auto' && m.name_source === 'auto') overlap.set(`${al.cluster}:${m.album_id}`, (overlap.get(`${al.cluster}:${m.album_id}`) ?? 0) + 1);
    }
  }
  const pairs = [...overlap.entries()].map(([key, v]) => [...key.split(':').map(Number), v] as [number, number, number]).sort((a, b) => b[2] - a[2]);
  const usedAlbums = new Set<number>(p.protectedAlbums);
  for (const [cluster, album] of pairs) {
    if (albumIdOfCluster.has(cluster) || usedAlbums.has(album)) continue;
    albumIdOfCluster.set(cluster, album);
    usedAlbums.add(album);
  }
  return albumIdOfCluster;
}

/** Write the clusters, against the memberships as they are now (an edit made meanwhile is left as it is). */
function write(db: Db, s: Snapshot, p: Plan, result: AlbumsResult | null): ClusterStageResult {
  const { ids } = s;
  const { keep, shaped } = p;
  const albumRow = db.prepare('SELECT id, kind, name_source, deleted_at, cover_photo_id FROM albums WHERE id = ?');
  const now = Date.now();
  const current = new Map(liveMembers(db).map((m) => [m.photo_id, m]));
  const writer = new MembershipWriter(db, current, s.snapshotAt, now);
  const albumIdOfCluster = matchAlbums(s, p, result, current);
  // A new album starts as a placeholder; refreshAlbumNames names every automatic album once the members are written.
  const usedNames = new Set((db.prepare(`SELECT name FROM albums WHERE deleted_at IS NULL`).pluck().all() as string[]));
  const freshName = (): string => {
    let k = 1;
    while (usedNames.has(`Album ${k}`)) k++;
    usedNames.add(`Album ${k}`);
    return `Album ${k}`;
  };
  const finalAlbumIds = new Set<number>();
  (result?.albums ?? []).forEach((al) => {
    let albumId = albumIdOfCluster.get(al.cluster);
    const row = albumId === undefined ? undefined : (albumRow.get(albumId) as { deleted_at: number | null; cover_photo_id: number | null } | undefined);
    const memberIds = [...al.members].map((r) => ids[keep[r]]);
    if (row && row.deleted_at !== null) {
      // The person deleted this album while the stage ran: its photos do not go back into it, nor into a copy.
      for (const id of memberIds) writer.set(id, s.unsorted, NaN);
      return;
    }
    if (albumId === undefined) {
      albumId = Number(
        db
          .prepare(`INSERT INTO albums(name, name_source, kind, created_at, updated_at) VALUES (?, 'auto', 'auto', ?, ?)`)
          .run(freshName(), now, now).lastInsertRowid,
      );
    } else {
      db.prepare('UPDATE albums SET updated_at = ? WHERE id = ?').run(now, albumId);
    }
    finalAlbumIds.add(albumId);
    // An album keeps its cover while the cover photo stays in it.
    const members = new Set(memberIds);
    if (!(row?.cover_photo_id && members.has(row.cover_photo_id))) {
      db.prepare('UPDATE albums SET cover_photo_id = ? WHERE id = ?').run(al.cover >= 0 ? ids[keep[al.cover]] : null, albumId);
    }
    al.members.forEach((r) => writer.set(ids[keep[r]], albumId, result!.similarity[r]));
  });
  for (const r of result?.unsorted ?? []) writer.set(ids[keep[r]], s.unsorted, NaN);
  // Automatic albums that no cluster took over are retired (hidden; undo of older edits can bring them back).
  // Albums the person created, renamed or merged into are never retired.
  for (const a of db.prepare(`SELECT id FROM albums WHERE kind = 'auto' AND name_source = 'auto' AND deleted_at IS NULL`).all() as { id: number }[]) {
    if (!finalAlbumIds.has(a.id) && !shaped.has(a.id)) db.prepare('UPDATE albums SET deleted_at = ? WHERE id = ?').run(now, a.id);
  }
  // Near-duplicate groups: every member points at the group's first photo.
  db.prepare('UPDATE photos SET near_dup_of = NULL WHERE near_dup_of IS NOT NULL').run();
  const dup = db.prepare('UPDATE photos SET near_dup_of = ? WHERE id = ?');
  for (const g of result?.duplicates ?? []) {
    const ms = [...g].map((r) => ids[keep[r]]).sort((a, b) => a - b);
    for (const id of ms.slice(1)) dup.run(ms[0], id);
  }
  refreshAlbumNames(db);
  return { albums: finalAlbumIds.size, unsorted: result?.unsorted.length ?? 0, chosenK: result?.k ?? null, assigned: writer.written, keptEdits: writer.kept };
}

/**
 * Writes automatic memberships, except over the person's: a pinned membership, or one changed after the stage's
 * snapshot (a move, an undo or a redo made while the stage ran), is left alone.
 */
class MembershipWriter {
  written = 0;
  kept = 0;
  private readonly put;

  constructor(
    db: Db,
    private readonly current: Map<number, MemberRow>,
    private readonly snapshotAt: number,
    private readonly now: number,
  ) {
    this.put = db.prepare(
      `INSERT INTO album_members(photo_id, album_id, source, pinned, sim, updated_at) VALUES (?, ?, 'auto', 0, ?, ?)
       ON CONFLICT(photo_id) DO UPDATE SET album_id = excluded.album_id, source = 'auto', pinned = 0, sim = excluded.sim,
         updated_at = excluded.updated_at`,
    );
  }

  set(photoId: number, albumId: number, sim: number): void {
    const m = this.current.get(photoId);
    if (m && (m.pinned || m.updated_at > this.snapshotAt)) {
      if (m.album_id !== albumId) this.kept++;
      return;
    }
    this.put.run(photoId, albumId, Number.isFinite(sim) ? sim : null, this.now);
    this.written++;
  }
}

/** Unit (weighted) mean of some rows of `x`. */
function meanOf(x: Float32Array, dim: number, rows: number[], weight: (row: number) => number = () => 1): Float32Array {
  const c = new Float32Array(dim);
  for (const i of rows) {
    const w = weight(i);
    for (let d = 0; d < dim; d++) c[d] += w * x[i * dim + d];
  }
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += c[d] * c[d];
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < dim; d++) c[d] /= norm;
  return c;
}

function incremental(db: Db, s: Snapshot, opts: ClusterStageOptions, ctx: JobContext): Promise<ClusterStageResult> {
  const { ids, x, dim, members } = s;
  const memberOf = new Map(members.map((m) => [m.photo_id, m]));
  const index = new Map(ids.map((id, i) => [id, i]));
  const fresh = ids.map((id, i) => [id, i] as const).filter(([id]) => !memberOf.has(id));
  // Album prototypes from current members.
  const byAlbum = new Map<number, number[]>();
  for (const m of members) {
    if (m.kind === 'unsorted') continue;
    const i = index.get(m.photo_id);
    if (i === undefined) continue;
    byAlbum.set(m.album_id, [...(byAlbum.get(m.album_id) ?? []), i]);
  }
  const albumIds = [...byAlbum.keys()];
  const protos: AlbumPrototype[] = albumIds.map((a) => {
    const rows = byAlbum.get(a)!;
    const c = meanOf(x, dim, rows);
    const sims = rows.map((i) => dot(x, i * dim, c, 0, dim));
    return { centroid: c, threshold: outlierThreshold(sims) };
  });
  const sub = gatherRows(x, dim, fresh.map(([, i]) => i));
  const albumIndex = new Map(albumIds.map((a, j) => [a, j]));
  const freshRow = new Map(fresh.map(([id], r) => [id, r]));
  const cl: [number, number][] = [];
  for (const c of s.cannot) {
    const r = freshRow.get(c.photo_id);
    const j = albumIndex.get(c.album_id);
    if (r !== undefined && j !== undefined) cl.push([r, j]);
  }
  const res = fresh.length ? assignToNearest(sub, fresh.length, dim, protos, cl) : null;
  const run = async (): Promise<ClusterStageResult> => {
    await opts.beforeWrite?.();
    ctx.signal.throwIfAborted();
    let toUnsorted = 0;
    const out = tx(db, () => {
      const now = Date.now();
      const current = new Map(liveMembers(db).map((m) => [m.photo_id, m]));
      const live = new Set((db.prepare(`SELECT id FROM albums WHERE deleted_at IS NULL`).all() as { id: number }[]).map((r) => r.id));
      const writer = new MembershipWriter(db, current, s.snapshotAt, now);
      fresh.forEach(([id], r) => {
        const j = res!.albumOf[r];
        const album = j >= 0 && live.has(albumIds[j]) ? albumIds[j] : s.unsorted;
        if (album === s.unsorted) toUnsorted++;
        writer.set(id, album, res!.similarity[r]);
      });
      if (writer.written > 0) refreshAlbumNames(db);
      return { albums: albumIds.length, unsorted: toUnsorted, chosenK: null, assigned: writer.written, keptEdits: writer.kept };
    });
    ctx.progress(ids.length);
    return out;
  };
  return run();
}
