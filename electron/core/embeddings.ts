/**
 * The embeddings store: per photo and vector key, one float16 vector computed from the photo's current content
 * (the row's hash). Every stage reads and writes vectors through here.
 *
 * A key is a typed value: a model's embedding, or the training features of one view of a photo for a backbone
 * whose manifest names `trainFeatures` (view 0 = the clean photo, 1.. = augmented). In the table they are the
 * strings `<model>` and `<model>#tf<view>`.
 */
import type { Db } from './db/database.js';
import { fromFloat16, toFloat16 } from './ml/float16.js';

export type VectorKey = { kind: 'embedding'; model: string } | { kind: 'trainFeatures'; model: string; view: number };

export const embeddingKey = (model: string): VectorKey => ({ kind: 'embedding', model });
export const trainFeaturesKey = (model: string, view: number): VectorKey => ({ kind: 'trainFeatures', model, view });

/** The key's column value. */
export function keyString(k: VectorKey): string {
  if (k.kind === 'embedding') {
    if (k.model.includes('#')) throw new RangeError(`model key ${k.model} contains '#'`);
    return k.model;
  }
  if (!Number.isInteger(k.view) || k.view < 0) throw new RangeError(`view must be a non-negative integer, got ${k.view}`);
  return `${k.model}#tf${k.view}`;
}

export interface Vectors {
  ids: number[];
  dim: number;
  /** Row-major `ids.length x dim`. */
  data: Float32Array;
}

export interface VectorRow {
  id: number;
  hash: string;
  vector: Float32Array;
}

/** Ok photos lacking a current vector of `key` (none, or one computed from older content), by id. */
export function pending(db: Db, key: VectorKey): { id: number; hash: string }[] {
  return db
    .prepare(
      `SELECT p.id, p.hash FROM photos p
         LEFT JOIN embeddings e ON e.photo_id = p.id AND e.model_key = ? AND e.hash = p.hash
        WHERE p.status = 'ok' AND p.hash IS NOT NULL AND e.photo_id IS NULL ORDER BY p.id`,
    )
    .all(keyString(key)) as { id: number; hash: string }[];
}

/** How many ok photos have a current vector of `key`. */
export function count(db: Db, key: VectorKey): number {
  return (
    db
      .prepare(`SELECT COUNT(*) AS n FROM embeddings e JOIN photos p ON p.id = e.photo_id WHERE e.model_key = ? AND p.status = 'ok' AND e.hash = p.hash`)
      .get(keyString(key)) as { n: number }
  ).n;
}

/** Write vectors (float16) in one transaction; a photo's earlier vector of this key is replaced. */
export function store(db: Db, key: VectorKey, device: string | null, rows: readonly VectorRow[]): void {
  if (rows.length === 0) return;
  const put = db.prepare(
    `INSERT INTO embeddings(photo_id, model_key, hash, dtype, dim, vector, device, created_at) VALUES (?, ?, ?, 'float16', ?, ?, ?, ?)
     ON CONFLICT(photo_id, model_key) DO UPDATE SET hash = excluded.hash, dtype = excluded.dtype, dim = excluded.dim,
       vector = excluded.vector, device = excluded.device, created_at = excluded.created_at`,
  );
  const k = keyString(key);
  const now = Date.now();
  db.transaction(() => {
    for (const r of rows) {
      const h = toFloat16(r.vector);
      put.run(r.id, k, r.hash, r.vector.length, Buffer.from(h.buffer, h.byteOffset, h.byteLength), device, now);
    }
  })();
}

interface Raw {
  photo_id: number;
  dim: number;
  dtype: string;
  vector: Buffer;
}

function decode(r: Raw): Float32Array {
  const bytes = r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength);
  return r.dtype === 'float16' ? fromFloat16(new Uint16Array(bytes)) : new Float32Array(bytes);
}

function pack(rows: Raw[]): Vectors {
  const dim = rows[0]?.dim ?? 0;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(decode(r), i * dim));
  return { ids: rows.map((r) => r.photo_id), dim, data };
}

/** Photo ids per chunk of an `IN (...)` query (SQLite's default limit on host parameters is 32,766). */
const CHUNK = 500;

/**
 * Current vectors of `key`: of every ok photo (by id), or of `photoIds` in that order (photos without one are
 * skipped). Only vectors computed from the photo's current content count.
 */
export function load(db: Db, key: VectorKey, photoIds?: readonly number[]): Vectors {
  const k = keyString(key);
  if (!photoIds) {
    return pack(
      db
        .prepare(
          `SELECT e.photo_id, e.dim, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
            WHERE e.model_key = ? AND p.status = 'ok' AND e.hash = p.hash ORDER BY e.photo_id`,
        )
        .all(k) as Raw[],
    );
  }
  const byId = new Map<number, Raw>();
  for (let i = 0; i < photoIds.length; i += CHUNK) {
    const chunk = photoIds.slice(i, i + CHUNK);
    const rows = db
      .prepare(
        `SELECT e.photo_id, e.dim, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
          WHERE e.model_key = ? AND e.hash = p.hash AND e.photo_id IN (${chunk.map(() => '?').join(',')})`,
      )
      .all(k, ...chunk) as Raw[];
    for (const r of rows) byId.set(r.photo_id, r);
  }
  return pack(photoIds.flatMap((id) => byId.get(id) ?? []));
}

/** Most training views a backbone caches per photo (the clean one included); see stages/train.ts. */
export const MAX_STORED_VIEWS = 8;

/** Delete every vector of a model: its embedding and its training features of every view. */
export function deleteModel(db: Db, model: string): number {
  const keys = [embeddingKey(model), ...Array.from({ length: MAX_STORED_VIEWS }, (_, v) => trainFeaturesKey(model, v))].map(keyString);
  return db.prepare(`DELETE FROM embeddings WHERE model_key IN (${keys.map(() => '?').join(',')})`).run(...keys).changes;
}
