/**
 * Cluster stage: turns embeddings into albums while keeping every user edit.
 *
 * - Photos the person placed (pinned memberships) never move. Albums holding pinned photos become clusters seeded
 *   from their current members, the placed photos weighted {@link PINNED_WEIGHT} times, so similar photos join them.
 * - A photo the person took out of an album is never put back in it (cannot-link).
 * - Full mode re-clusters every unpinned photo; new clusters take over the ids (and automatic names) of the old
 *   automatic albums they overlap most, so albums stay recognisable across re-organizes.
 * - Incremental mode (the default once a library is organized) only files photos that have no album yet into the
 *   nearest existing album, or Unsorted when none is close enough: nothing is reshuffled.
 */
import type { Db } from '../db/database.js';
import { assignToNearest, clusterIntoAlbums, outlierThreshold, nameAlbums, type AlbumPrototype } from '../cluster/index.js';
import { centerRows, dot, gatherRows, unitRows } from '../cluster/linalg.js';
import type { JobContext } from '../jobs.js';
import { unsortedAlbumId } from '../albums/store.js';
import { loadVectors } from './embed.js';

/**
 * Weight of a photo the person placed in its album's prototype. On intel-scenes (simulated corrections: 2% of each
 * class moved into its album, centred centernet features) re-forming the albums with weight 5 raised ACC on the
 * photos nobody touched by 1.5 to 2.9 points over 5 seeds (weight 1: 0 to 0.9; frozen prototypes: 0).
 */
export const PINNED_WEIGHT = 5;

export interface ClusterStageOptions {
  k: 'auto' | number;
  mode: 'full' | 'incremental';
  seed: number;
}

export interface ClusterStageResult {
  albums: number;
  unsorted: number;
  chosenK: number | null;
  assigned: number;
}

interface MemberRow {
  photo_id: number;
  album_id: number;
  pinned: number;
  kind: 'auto' | 'user' | 'unsorted';
}

function liveMembers(db: Db): MemberRow[] {
  return db
    .prepare(
      `SELECT m.photo_id, m.album_id, m.pinned, a.kind FROM album_members m JOIN albums a ON a.id = m.album_id
         JOIN photos p ON p.id = m.photo_id WHERE p.status = 'ok' AND a.deleted_at IS NULL`,
    )
    .all() as MemberRow[];
}

/** Put the photos into albums. `modelKey` names the embeddings to use. */
export function clusterStage(db: Db, modelKey: string, opts: ClusterStageOptions, ctx: JobContext): ClusterStageResult {
  const { ids, dim, data } = loadVectors(db, modelKey);
  const n = ids.length;
  ctx.stage('cluster', n, `Grouping ${n} photos into albums`);
  const unsorted = unsortedAlbumId(db);
  if (n === 0) return { albums: 0, unsorted: 0, chosenK: null, assigned: 0 };
  // Clustering works on centred vectors (see centerRows); near-duplicates are found on the plain unit vectors.
  const raw = unitRows(data, n, dim);
  const x = centerRows(raw, n, dim).x;
  const index = new Map(ids.map((id, i) => [id, i]));
  const members = liveMembers(db);
  const memberOf = new Map(members.map((m) => [m.photo_id, m]));
  const cannot = db.prepare('SELECT photo_id, album_id FROM cannot_link').all() as { photo_id: number; album_id: number }[];

  if (opts.mode === 'incremental' && members.some((m) => m.kind !== 'unsorted' || m.pinned)) {
    return incremental(db, ids, x, dim, members, memberOf, cannot, unsorted, ctx);
  }

  // --- Full clustering -------------------------------------------------------------------------------------------
  // Albums with pinned photos are fixed clusters 0..P-1.
  const protectedAlbums = [...new Set(members.filter((m) => m.pinned && m.kind !== 'unsorted').map((m) => m.album_id))].sort((a, b) => a - b);
  const clusterOfAlbum = new Map(protectedAlbums.map((a, c) => [a, c]));
  const pinned: [number, number][] = [];
  const excluded = new Set<number>(); // pinned to Unsorted: the person said "no album"
  for (const m of members) {
    const i = index.get(m.photo_id);
    if (i === undefined || !m.pinned) continue;
    if (m.kind === 'unsorted') excluded.add(i);
    else pinned.push([i, clusterOfAlbum.get(m.album_id)!]);
  }
  // Cluster only the photos not pinned to Unsorted.
  const keep = ids.map((_, i) => i).filter((i) => !excluded.has(i));
  const sub = gatherRows(x, dim, keep);
  const subRaw = gatherRows(raw, dim, keep);
  const subIndex = new Map(keep.map((i, r) => [i, r]));
  const cannotLink: [number, number][] = [];
  for (const c of cannot) {
    const i = index.get(c.photo_id);
    const cl = clusterOfAlbum.get(c.album_id);
    if (i !== undefined && cl !== undefined && subIndex.has(i)) cannotLink.push([subIndex.get(i)!, cl]);
  }
  const P = protectedAlbums.length;
  const k = opts.k === 'auto' ? 'auto' : Math.max(opts.k, P, 1);
  const result = keep.length
    ? clusterIntoAlbums(sub, keep.length, dim, {
        k: typeof k === 'number' ? Math.min(k, keep.length) : k,
        seed: opts.seed,
        duplicateVectors: subRaw,
        constraints: {
          pinned: pinned.filter(([i]) => subIndex.has(i)).map(([i, c]) => [subIndex.get(i)!, c] as [number, number]),
          cannotLink,
          // An album the person shaped starts from the mean of everything in it now, with the photos the person
          // placed counting PINNED_WEIGHT times; it then re-forms like any cluster, so photos like the ones the
          // person moved follow them, while one moved photo does not redefine what a big album is about.
          seeded: protectedAlbums.map((a, c) => ({
            cluster: c,
            centroid: meanOf(x, dim, members.filter((m) => m.album_id === a).map((m) => index.get(m.photo_id)).filter((i): i is number => i !== undefined), (r) => (memberOf.get(ids[r])?.pinned ? PINNED_WEIGHT : 1)),
          })),
          pinnedWeight: PINNED_WEIGHT,
        },
      })
    : null;
  ctx.progress(Math.floor(n / 2));

  // Map clusters to album ids: protected clusters keep theirs; others take over the auto album they overlap most.
  const albumIdOfCluster = new Map<number, number>();
  protectedAlbums.forEach((a, c) => albumIdOfCluster.set(c, a));
  const overlap = new Map<string, number>();
  for (const al of result?.albums ?? []) {
    if (al.cluster < P) continue;
    for (const r of al.members) {
      const m = memberOf.get(ids[keep[r]]);
      if (m && m.kind === 'auto') overlap.set(`${al.cluster}:${m.album_id}`, (overlap.get(`${al.cluster}:${m.album_id}`) ?? 0) + 1);
    }
  }
  const pairs = [...overlap.entries()].map(([key, v]) => [...key.split(':').map(Number), v] as [number, number, number]).sort((a, b) => b[2] - a[2]);
  const usedAlbums = new Set<number>(protectedAlbums);
  for (const [cluster, album, count] of pairs) {
    if (count <= 0 || albumIdOfCluster.has(cluster) || usedAlbums.has(album)) continue;
    albumIdOfCluster.set(cluster, album);
    usedAlbums.add(album);
  }

  const taken = db.prepare('SELECT taken_at FROM photos WHERE id = ?');
  const now = Date.now();
  const write = db.transaction(() => {
    const autoNames = nameAlbums(
      (result?.albums ?? []).map((al) => ({ takenAt: [...al.members].map((r) => (taken.get(ids[keep[r]]) as { taken_at: number | null }).taken_at) })),
    );
    const existingNames = new Set(
      (db.prepare(`SELECT name FROM albums WHERE deleted_at IS NULL AND name_source = 'user'`).all() as { name: string }[]).map((r) => r.name),
    );
    const finalAlbumIds = new Set<number>();
    (result?.albums ?? []).forEach((al, j) => {
      let albumId = albumIdOfCluster.get(al.cluster);
      let name = autoNames[j];
      for (let s = 2; existingNames.has(name); s++) name = `${autoNames[j]} (${s})`;
      if (albumId === undefined) {
        albumId = Number(
          db.prepare(`INSERT INTO albums(name, name_source, kind, created_at, updated_at) VALUES (?, 'auto', 'auto', ?, ?)`).run(name, now, now)
            .lastInsertRowid,
        );
      } else {
        db.prepare(`UPDATE albums SET name = CASE WHEN name_source = 'auto' THEN ? ELSE name END, updated_at = ? WHERE id = ?`).run(name, now, albumId);
      }
      finalAlbumIds.add(albumId);
      const cover = al.cover >= 0 ? ids[keep[al.cover]] : null;
      db.prepare('UPDATE albums SET cover_photo_id = ? WHERE id = ?').run(cover, albumId);
      for (const r of al.members) setAuto(db, ids[keep[r]], albumId, result!.similarity[r], memberOf, now);
    });
    for (const r of result?.unsorted ?? []) setAuto(db, ids[keep[r]], unsorted, NaN, memberOf, now);
    // Old automatic albums that no cluster took over are retired (hidden; undo of older edits can bring them back).
    for (const a of db.prepare(`SELECT id FROM albums WHERE kind = 'auto' AND deleted_at IS NULL`).all() as { id: number }[]) {
      if (!finalAlbumIds.has(a.id)) db.prepare('UPDATE albums SET deleted_at = ? WHERE id = ?').run(now, a.id);
    }
    // Near-duplicate groups: every member points at the group's first photo.
    db.prepare('UPDATE photos SET near_dup_of = NULL WHERE near_dup_of IS NOT NULL').run();
    const dup = db.prepare('UPDATE photos SET near_dup_of = ? WHERE id = ?');
    for (const g of result?.duplicates ?? []) {
      const members = [...g].map((r) => ids[keep[r]]).sort((a, b) => a - b);
      for (const id of members.slice(1)) dup.run(members[0], id);
    }
    return finalAlbumIds.size;
  });
  const albums = write();
  ctx.progress(n);
  return { albums, unsorted: result?.unsorted.length ?? 0, chosenK: result?.k ?? null, assigned: keep.length };
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

/** Write an automatic membership unless the photo is pinned (a user edit always wins). */
function setAuto(db: Db, photoId: number, albumId: number, sim: number, memberOf: Map<number, MemberRow>, now: number): void {
  const m = memberOf.get(photoId);
  if (m?.pinned) return;
  db.prepare(
    `INSERT INTO album_members(photo_id, album_id, source, pinned, sim, updated_at) VALUES (?, ?, 'auto', 0, ?, ?)
     ON CONFLICT(photo_id) DO UPDATE SET album_id = excluded.album_id, source = 'auto', pinned = 0, sim = excluded.sim,
       updated_at = excluded.updated_at`,
  ).run(photoId, albumId, Number.isFinite(sim) ? sim : null, now);
}

function incremental(
  db: Db,
  ids: number[],
  x: Float32Array,
  dim: number,
  members: MemberRow[],
  memberOf: Map<number, MemberRow>,
  cannot: { photo_id: number; album_id: number }[],
  unsorted: number,
  ctx: JobContext,
): ClusterStageResult {
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
  for (const c of cannot) {
    const r = freshRow.get(c.photo_id);
    const j = albumIndex.get(c.album_id);
    if (r !== undefined && j !== undefined) cl.push([r, j]);
  }
  const res = fresh.length ? assignToNearest(sub, fresh.length, dim, protos, cl) : null;
  const now = Date.now();
  let toUnsorted = 0;
  db.transaction(() => {
    fresh.forEach(([id], r) => {
      const j = res!.albumOf[r];
      if (j < 0) toUnsorted++;
      setAuto(db, id, j >= 0 ? albumIds[j] : unsorted, res!.similarity[r], memberOf, now);
    });
  })();
  ctx.progress(ids.length);
  return { albums: albumIds.length, unsorted: toUnsorted, chosenK: null, assigned: fresh.length };
}
