/**
 * What a grid shows (PhotoView): an album, the timeline, "more like this" or a search result. A view is an ordered
 * list of photo ids, computed once and kept until anything is written on the connection (total_changes()); a page
 * is a slice of it, so a page deep in a 100,000-photo timeline costs what the first one does.
 */
import type { PhotoPage, PhotoView, SearchResults, TimelineMonth } from '../api/contract.js';
import type { Db } from '../db/database.js';
import { ShoeboxError } from '../errors.js';
import * as embeddings from '../embeddings.js';

export type SortOrder = 'oldest' | 'newest';

/** Most photos "more like this" returns. */
export const SIMILAR_LIMIT = 500;

const caches = new WeakMap<Db, { changes: number; views: Map<string, number[]> }>();

function cached(db: Db, key: string, compute: () => number[]): number[] {
  const changes = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  let cache = caches.get(db);
  if (cache?.changes !== changes) {
    cache = { changes, views: new Map() };
    caches.set(db, cache);
  }
  let ids = cache.views.get(key);
  if (ids === undefined) {
    ids = compute();
    if (cache.views.size > 32) cache.views.clear();
    cache.views.set(key, ids);
  }
  return ids;
}

interface Facets {
  changes: number;
  places: { city: string | null; region: string | null; country: string; n: number }[];
  cameras: { camera: string; n: number }[];
  objects: { label: string; n: number }[];
}
const facetCaches = new WeakMap<Db, Facets>();

/** The library's places, cameras and objects with their photo counts, most photos first; one scan per write. */
function facets(db: Db): Facets {
  const changes = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const hit = facetCaches.get(db);
  if (hit?.changes === changes) return hit;
  const f: Facets = {
    changes,
    places: db
      .prepare(
        `SELECT city, region, country, COUNT(*) AS n FROM photos WHERE status = 'ok' AND country IS NOT NULL GROUP BY country, region, city ORDER BY n DESC`,
      )
      .all() as Facets['places'],
    cameras: db
      .prepare(
        `SELECT camera, COUNT(*) AS n FROM photos WHERE status = 'ok' AND camera IS NOT NULL GROUP BY camera ORDER BY n DESC, camera`,
      )
      .all() as Facets['cameras'],
    objects: db
      .prepare(
        `SELECT o.label, COUNT(*) AS n FROM photo_objects o WHERE EXISTS (SELECT 1 FROM photos p WHERE p.id = o.photo_id AND p.status = 'ok')
          GROUP BY o.label ORDER BY n DESC, o.label`,
      )
      .all() as Facets['objects'],
  };
  facetCaches.set(db, f);
  return f;
}

/** Date order: undated photos last, then by the file's path. */
const byDate = (order: SortOrder) => `p.taken_local IS NULL, p.taken_local ${order === 'newest' ? 'DESC' : 'ASC'}, p.rel_path, p.id`;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The photo ids of a view, in display order. */
export function viewOrder(db: Db, view: PhotoView, order: SortOrder): number[] {
  const key = `${order}:${JSON.stringify(view)}`;
  return cached(db, key, () => {
    const all = (sql: string, ...params: unknown[]) =>
      db
        .prepare(sql)
        .pluck()
        .all(...params) as number[];
    switch (view.kind) {
      case 'album':
        if (!db.prepare('SELECT 1 FROM albums WHERE id = ? AND deleted_at IS NULL').get(view.albumId)) {
          throw new ShoeboxError('NOT_FOUND', `Album ${view.albumId} does not exist`);
        }
        return all(
          `SELECT p.id FROM album_members m JOIN photos p ON p.id = m.photo_id WHERE m.album_id = ? AND +p.status = 'ok' ORDER BY ${byDate(order)}`,
          view.albumId,
        );
      case 'timeline':
        return all(`SELECT p.id FROM photos p WHERE +p.status = 'ok' ORDER BY ${byDate(order)}`);
      case 'similar':
        return similarTo(db, view.photoIds, SIMILAR_LIMIT);
      case 'place':
        return all(
          `SELECT p.id FROM photos p WHERE +p.status = 'ok' AND p.country = ? AND (? IS NULL OR p.region = ?) AND (? IS NULL OR p.city = ?)
            ORDER BY ${byDate(order)}`,
          view.country,
          view.region ?? null,
          view.region ?? null,
          view.city ?? null,
          view.city ?? null,
        );
      case 'date':
        return all(
          `SELECT p.id FROM photos p WHERE +p.status = 'ok' AND p.taken_local IS NOT NULL
              AND (? IS NULL OR CAST(strftime('%Y', p.taken_local / 1000, 'unixepoch') AS INTEGER) = ?)
              AND (? IS NULL OR CAST(strftime('%m', p.taken_local / 1000, 'unixepoch') AS INTEGER) = ?)
            ORDER BY ${byDate(order)}`,
          view.year ?? null,
          view.year ?? null,
          view.month ?? null,
          view.month ?? null,
        );
      case 'camera':
        return all(`SELECT p.id FROM photos p WHERE +p.status = 'ok' AND p.camera = ? ORDER BY ${byDate(order)}`, view.camera);
      case 'object':
        return all(
          `SELECT p.id FROM photo_objects o JOIN photos p ON p.id = o.photo_id WHERE o.label = ? AND +p.status = 'ok' ORDER BY ${byDate(order)}`,
          view.label,
        );
      case 'person':
        return all(
          `SELECT p.id FROM photos p WHERE +p.status = 'ok' AND p.id IN (SELECT photo_id FROM faces WHERE person_id = ?) ORDER BY ${byDate(order)}`,
          view.personId,
        );
      case 'file':
        return all(
          `SELECT p.id FROM photos p WHERE +p.status = 'ok' AND p.rel_path LIKE ? ESCAPE '\\' ORDER BY ${byDate(order)}`,
          `%${escapeLike(view.text)}%`,
        );
    }
  });
}

/** One page of a view, columnar. */
export function viewPage(db: Db, view: PhotoView, order: SortOrder, offset: number, limit: number): PhotoPage {
  const ids = viewOrder(db, view, order);
  const row = db.prepare(
    `SELECT p.id, p.rel_path, p.width, p.height, p.taken_local, COALESCE(m.pinned, 0) AS pinned,
            COALESCE(p.near_dup_of,
              (SELECT MIN(q.id) FROM photos q WHERE q.hash = p.hash AND +q.status = 'ok' AND q.id < p.id)) AS dup
       FROM photos p LEFT JOIN album_members m ON m.photo_id = p.id
      WHERE p.id = ?`,
  );
  type Row = {
    id: number;
    rel_path: string;
    width: number | null;
    height: number | null;
    taken_local: number | null;
    pinned: number;
    dup: number | null;
  };
  const rows = ids.slice(offset, offset + limit).map((id) => row.get(id) as Row);
  return {
    albumId: view.kind === 'album' ? view.albumId : null,
    offset,
    total: ids.length,
    ids: rows.map((r) => r.id),
    names: rows.map((r) => r.rel_path.slice(r.rel_path.lastIndexOf('/') + 1)),
    widths: rows.map((r) => r.width ?? 0),
    heights: rows.map((r) => r.height ?? 0),
    takenAt: rows.map((r) => r.taken_local),
    pinned: rows.map((r) => r.pinned === 1),
    duplicateOf: rows.map((r) => r.dup),
  };
}

/** The timeline's months in display order, with the position of each month's first photo. */
export function timelineMonths(db: Db, order: SortOrder): TimelineMonth[] {
  const rows = db
    .prepare(
      `SELECT CAST(strftime('%Y', taken_local / 1000, 'unixepoch') AS INTEGER) AS year,
              CAST(strftime('%m', taken_local / 1000, 'unixepoch') AS INTEGER) AS month, COUNT(*) AS count
         FROM photos WHERE status = 'ok' GROUP BY year, month
         ORDER BY year IS NULL, year ${order === 'newest' ? 'DESC' : 'ASC'}, month ${order === 'newest' ? 'DESC' : 'ASC'}`,
    )
    .all() as { year: number | null; month: number | null; count: number }[];
  let offset = 0;
  return rows.map((r) => {
    const m = { year: r.year, month: r.month, count: r.count, offset };
    offset += r.count;
    return m;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// More like this

const vectorCaches = new WeakMap<Db, { key: string; ids: number[]; dim: number; x: Float32Array; index: Map<number, number> }>();

/** The active encoder's vectors, centred on the library's mean and unit length (reloaded when they change). */
function libraryVectors(db: Db): { ids: number[]; dim: number; x: Float32Array; index: Map<number, number> } | null {
  const model = db.prepare(`SELECT key FROM models WHERE active = 1 LIMIT 1`).pluck().get() as string | undefined;
  if (!model) return null;
  const stamp = db
    .prepare(`SELECT COUNT(*) || ':' || COALESCE(MAX(created_at), 0) FROM embeddings WHERE model_key = ?`)
    .pluck()
    .get(model) as string;
  const key = `${model}:${stamp}`;
  const hit = vectorCaches.get(db);
  if (hit?.key === key) return hit;
  const v = embeddings.load(db, embeddings.embeddingKey(model));
  const { dim, data: x } = v;
  const n = v.ids.length;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += x[i * dim + d] / n;
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      x[i * dim + d] -= mean[d];
      norm += x[i * dim + d] ** 2;
    }
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) x[i * dim + d] /= norm;
  }
  const entry = { key, ids: v.ids, dim, x, index: new Map(v.ids.map((id, i) => [id, i])) };
  vectorCaches.set(db, entry);
  return entry;
}

/** The photos nearest (by cosine) to the seeds' mean embedding, the seeds left out, nearest first. */
export function similarTo(db: Db, seeds: readonly number[], limit: number): number[] {
  const lib = libraryVectors(db);
  if (!lib) throw new ShoeboxError('UNAVAILABLE', 'Photos are not embedded yet: organize the library first');
  const { ids, dim, x, index } = lib;
  const rows = seeds.map((s) => index.get(s)).filter((r): r is number => r !== undefined);
  if (rows.length === 0) throw new ShoeboxError('NOT_FOUND', 'None of these photos has an embedding yet');
  const q = new Float32Array(dim);
  for (const r of rows) for (let d = 0; d < dim; d++) q[d] += x[r * dim + d];
  const seedSet = new Set(seeds);
  // Keep the best `limit` in a small sorted array (limit << n).
  const best: { id: number; s: number }[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (seedSet.has(ids[i])) continue;
    let s = 0;
    for (let d = 0; d < dim; d++) s += q[d] * x[i * dim + d];
    if (best.length === limit && s <= best[best.length - 1].s) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (best[mid].s >= s) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, { id: ids[i], s });
    if (best.length > limit) best.pop();
  }
  return best.map((b) => b.id);
}

// ---------------------------------------------------------------------------------------------------------------
// Search

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const MONTH_NAMES = MONTHS.map((m) => m[0].toUpperCase() + m.slice(1));

/** "2023", "June 2024", "jun 2024", "2024-06", "June": the year and/or month a query names, else null. */
export function parseDateQuery(q: string): { year?: number; month?: number } | null {
  const s = q.trim().toLowerCase();
  let m = /^(\d{4})$/.exec(s);
  if (m) return { year: Number(m[1]) };
  m = /^(\d{4})[-/.](\d{1,2})$/.exec(s);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 12) return { year: Number(m[1]), month: Number(m[2]) };
  m = /^([a-z]{3,})\.?(?:,?\s+(\d{4}))?$/.exec(s);
  if (m) {
    const word = m[1];
    const month = MONTHS.findIndex((name) => name.startsWith(word));
    if (month >= 0) return { month: month + 1, ...(m[2] ? { year: Number(m[2]) } : {}) };
  }
  return null;
}

const FILE_RESULTS = 20;
const GROUP_RESULTS = 8;

/** Album names, places, dates, cameras, objects and file names matching a query, grouped by kind. */
export function search(db: Db, query: string): SearchResults {
  const q = query.trim();
  const empty: SearchResults = {
    query,
    albums: [],
    places: [],
    dates: [],
    cameras: [],
    objects: [],
    files: [],
    fileCount: 0,
    fileView: null,
  };
  if (q.length === 0) return empty;
  const like = `%${escapeLike(q)}%`;
  const albums = (
    db
      .prepare(
        `SELECT a.id, a.name, (SELECT COUNT(*) FROM album_members m JOIN photos p ON p.id = m.photo_id WHERE m.album_id = a.id AND +p.status = 'ok') AS count
           FROM albums a WHERE a.deleted_at IS NULL AND a.name LIKE ? ESCAPE '\\' ORDER BY a.name LIMIT ?`,
      )
      .all(like, GROUP_RESULTS) as { id: number; name: string; count: number }[]
  ).filter((a) => a.count > 0);

  const lower = q.toLowerCase();
  const facet = facets(db);
  const places: SearchResults['places'] = [];
  const placeRows = facet.places.filter((r) => [r.city, r.region, r.country].some((v) => v?.toLowerCase().includes(lower)));
  const byCountry = new Map<string, number>();
  const byRegion = new Map<string, { region: string; country: string; n: number }>();
  for (const r of placeRows) {
    if (r.city?.toLowerCase().includes(lower)) {
      places.push({
        label: [r.city, r.region, r.country].filter(Boolean).join(', '),
        count: r.n,
        view: { kind: 'place', country: r.country, ...(r.region ? { region: r.region } : {}), city: r.city },
      });
    }
    if (r.region?.toLowerCase().includes(lower)) {
      const k = `${r.region}\u0000${r.country}`;
      byRegion.set(k, { region: r.region, country: r.country, n: (byRegion.get(k)?.n ?? 0) + r.n });
    }
    if (r.country.toLowerCase().includes(lower)) byCountry.set(r.country, (byCountry.get(r.country) ?? 0) + r.n);
  }
  for (const r of byRegion.values())
    places.push({ label: `${r.region}, ${r.country}`, count: r.n, view: { kind: 'place', country: r.country, region: r.region } });
  for (const [country, n] of byCountry) places.push({ label: country, count: n, view: { kind: 'place', country } });
  places.sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));

  const dates: SearchResults['dates'] = [];
  const d = parseDateQuery(q);
  if (d) {
    const view: PhotoView = { kind: 'date', ...d };
    const n = viewOrder(db, view, 'oldest').length;
    const label =
      d.month && d.year ? `${MONTH_NAMES[d.month - 1]} ${d.year}` : d.month ? `${MONTH_NAMES[d.month - 1]}, every year` : String(d.year);
    if (n > 0) dates.push({ label, count: n, view });
  }

  const cameras = facet.cameras
    .filter((r) => r.camera.toLowerCase().includes(lower))
    .slice(0, GROUP_RESULTS)
    .map((r) => ({ label: r.camera, count: r.n, view: { kind: 'camera', camera: r.camera } as PhotoView }));

  // "dogs" finds "dog", "people" finds "person".
  const singular = lower === 'people' ? 'person' : lower.replace(/(?<=[^s])s$/, '').replace(/ie$/, 'y');
  const objects = facet.objects
    .filter((r) => r.label.includes(lower) || r.label === singular)
    .slice(0, GROUP_RESULTS)
    .map((r) => ({ label: r.label, count: r.n, view: { kind: 'object', label: r.label } as PhotoView }));

  const fileView: PhotoView = { kind: 'file', text: q };
  const fileIds = viewOrder(db, fileView, 'oldest');
  const fileRow = db.prepare(
    `SELECT p.id, p.rel_path, m.album_id FROM photos p LEFT JOIN album_members m ON m.photo_id = p.id WHERE p.id = ?`,
  );
  const files = fileIds.slice(0, FILE_RESULTS).map((id) => {
    const r = fileRow.get(id) as { id: number; rel_path: string; album_id: number | null };
    return { photoId: r.id, name: r.rel_path, albumId: r.album_id };
  });
  return {
    query,
    albums,
    places: places.slice(0, GROUP_RESULTS),
    dates,
    cameras,
    objects,
    files,
    fileCount: fileIds.length,
    fileView: fileIds.length > 0 ? fileView : null,
  };
}
