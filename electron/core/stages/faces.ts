/**
 * Faces stage: the faces in each photo and the people they belong to. Each photo is decoded once, upright, at
 * DETECT_SIDE on its long side (the thumbnail is too small for faces in a group photo); the detector looks at it
 * whole and at twice that size (ml/face-detect.ts), each face is aligned on its eyes, nose and mouth and embedded. A photo is looked at once per content hash
 * and model pair (`faces_done`); cancelled work resumes where it stopped. When a photo's content changes, a face the
 * person placed, or said is not someone, passes that on to the new face in its place. Then new faces are grouped into people
 * (cluster/people.ts): faces already with a person, and every face the person placed, stay where they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobContext } from '../jobs.js';
import { getSetting, setSetting } from '../db/database.js';
import { FaceJournal } from '../albums/store.js';
import type { Library } from '../library.js';
import { uprightRgb } from '../library/thumbs.js';
import { groupPeople, PEOPLE_DEFAULTS, type KnownPerson, type PeopleFace } from '../cluster/people.js';
import { alignFace } from '../ml/face-align.js';
import { DEFAULT_FACE_DETECTOR_ID, FaceDetector } from '../ml/face-detect.js';
import { DEFAULT_FACE_EMBEDDER_ID, FaceEmbedder } from '../ml/face-embed.js';
import type { FaceBox } from '../ml/face-geometry.js';
import type { Device } from '../ml/providers.js';
import { bundledModelsDir } from '../paths.js';

/** Setting: the newest face id the people grouping has seen. */
const GROUPED_SETTING = 'peopleGroupedFaceId';
/** Setting: the highest face id ever given. Ids are never reused: an undo entry or the grouping's mark never meets another face under an old id. */
const LAST_FACE_ID = 'lastFaceId';

/** Long side of the image the detector looks at. */
export const DETECT_SIDE = 1024;
/** A face is low quality below this side (px of the DETECT_SIDE image), below this score, or turned past a three-quarter view. */
const MIN_GOOD_SIDE = 24;
const MIN_GOOD_SCORE = 0.6;
const MAX_GOOD_TURN = 0.6;

export interface FacesStageOptions {
  modelsDir?: string;
  /** Looks the detector takes (face-geometry.ts faceScales); default 2. */
  levels?: number;
  /** Group every face the person did not place again (Re-organize), not only the new ones. */
  regroup?: boolean;
}

export interface FacesStageResult {
  looked: number;
  faces: number;
  failed: number;
  newPeople: number;
  joined: number;
}

/** How far the nose sits off the middle of the eyes, as a share of the eyes' distance (0 frontal, ~0.5 profile). */
export function faceTurn(f: FaceBox): number {
  const [r, l, nose] = f.landmarks;
  const eyes = Math.hypot(l[0] - r[0], l[1] - r[1]);
  if (!(eyes > 0)) return 1;
  // Distance of the nose from the perpendicular bisector of the eyes.
  const mx = (r[0] + l[0]) / 2;
  const my = (r[1] + l[1]) / 2;
  return Math.abs(((nose[0] - mx) * (l[0] - r[0]) + (nose[1] - my) * (l[1] - r[1])) / eyes) / eyes;
}

/** A 0..1 quality (size, score, frontal) and whether the face is too poor to found a person. */
export function faceQuality(f: FaceBox): { quality: number; low: boolean } {
  const side = Math.min(f.w, f.h);
  const turn = faceTurn(f);
  const quality = Math.min(1, side / 120) * f.score * Math.max(0, 1 - turn);
  return { quality, low: side < MIN_GOOD_SIDE || f.score < MIN_GOOD_SCORE || turn > MAX_GOOD_TURN };
}

export function facesKey(detector: { id: string; version: string }, embedder: { id: string; version: string }): string {
  return `${detector.id}@${detector.version}+${embedder.id}@${embedder.version}`;
}

export function pendingFaces(lib: Library, key: string): { id: number; hash: string; file: string }[] {
  return (
    lib.db
      .prepare(
        `SELECT p.id, p.hash, r.path AS root, p.rel_path FROM photos p JOIN roots r ON r.id = p.root_id
          LEFT JOIN faces_done d ON d.photo_id = p.id AND d.hash = p.hash AND d.model_key = ?
          WHERE p.status = 'ok' AND p.hash IS NOT NULL AND d.photo_id IS NULL ORDER BY p.id`,
      )
      .all(key) as { id: number; hash: string; root: string; rel_path: string }[]
  ).map((r) => ({ id: r.id, hash: r.hash, file: path.join(r.root, r.rel_path) }));
}

export async function facesStage(lib: Library, device: Device, ctx: JobContext, opts: FacesStageOptions = {}): Promise<FacesStageResult> {
  const result: FacesStageResult = { looked: 0, faces: 0, failed: 0, newPeople: 0, joined: 0 };
  const dir = opts.modelsDir ?? bundledModelsDir();
  const detectorPath = path.join(dir, `${DEFAULT_FACE_DETECTOR_ID}.json`);
  const embedderPath = path.join(dir, `${DEFAULT_FACE_EMBEDDER_ID}.json`);
  if (!fs.existsSync(detectorPath) || !fs.existsSync(embedderPath)) return result;
  const read = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8')) as { id: string; version: string };
  const key = facesKey(read(detectorPath), read(embedderPath));
  const todo = pendingFaces(lib, key);
  if (todo.length > 0) {
    ctx.setRefining(true);
    ctx.stage('faces', todo.length, `Finding faces in ${todo.length} photos`);
    const detector = await FaceDetector.open(detectorPath, { device });
    const embedder = await FaceEmbedder.open(embedderPath, { device });
    const db = lib.db;
    // Nothing is written for a photo removed, or re-read with new content, while it was looked at.
    const markDone = db.prepare(
      `INSERT OR REPLACE INTO faces_done (photo_id, hash, model_key) SELECT @id, @hash, @key WHERE EXISTS (SELECT 1 FROM photos WHERE id = @id AND hash = @hash)`,
    );
    const clear = db.prepare('DELETE FROM faces WHERE photo_id = ?');
    // What the person said about a photo's faces, carried to the faces found again in its new content.
    const placed = db.prepare(
      `SELECT f.id, f.x, f.y, f.w, f.h, f.person_id, f.source, (SELECT json_group_array(n.person_id) FROM face_not_person n WHERE n.face_id = f.id) AS nots
         FROM faces f WHERE f.photo_id = ? AND (f.source = 'user' OR EXISTS (SELECT 1 FROM face_not_person n WHERE n.face_id = f.id))`,
    );
    const keepPlaced = db.prepare(`UPDATE faces SET person_id = ?, source = 'user' WHERE id = ?`);
    const keepNot = db.prepare('INSERT OR IGNORE INTO face_not_person (face_id, person_id) SELECT ?, id FROM people WHERE id = ?');
    const put = db.prepare(
      `INSERT INTO faces (id, photo_id, x, y, w, h, landmarks, score, quality, low_quality, embedding, updated_at)
       VALUES (@id, @photo, @x, @y, @w, @h, @landmarks, @score, @quality, @low, @embedding, @now)`,
    );
    const allOf = db.prepare('SELECT id, x, y, w, h FROM faces WHERE photo_id = ?');
    const maxId = db.prepare('SELECT MAX(id) FROM faces').pluck();
    const journal = new FaceJournal(db);
    const decode = (i: number) =>
      i < todo.length
        ? uprightRgb(todo[i].file, DETECT_SIDE).then(
            (img) => img,
            () => null,
          )
        : Promise.resolve(null);
    try {
      let next = decode(0);
      for (let i = 0; i < todo.length; i++) {
        ctx.signal.throwIfAborted();
        const img = await next;
        next = decode(i + 1);
        const photo = todo[i];
        if (!img) {
          result.failed++;
          ctx.progress(i + 1);
          continue;
        }
        const found = await detector.detect(img, { levels: opts.levels ?? 2 });
        const vectors = await embedder.embed(found.map((f) => alignFace(img, f, embedder.size)));
        const now = Date.now();
        db.transaction(() => {
          if (markDone.run({ id: photo.id, hash: photo.hash, key }).changes === 0) return;
          const before = placed.all(photo.id) as PlacedFace[];
          const replaced = allOf.all(photo.id) as (Box & { id: number })[];
          clear.run(photo.id);
          let nextId = Math.max(getSetting(db, LAST_FACE_ID, 0), (maxId.get() as number | null) ?? 0, ...replaced.map((f) => f.id)) + 1;
          const boxes: Box[] = [];
          const ids: number[] = [];
          found.forEach((f, j) => {
            const q = faceQuality(f);
            boxes.push({ x: f.x / img.width, y: f.y / img.height, w: f.w / img.width, h: f.h / img.height });
            const row = put.run({
              id: nextId++,
              photo: photo.id,
              x: f.x / img.width,
              y: f.y / img.height,
              w: f.w / img.width,
              h: f.h / img.height,
              landmarks: JSON.stringify(
                f.landmarks.map(([x, y]) => [Number((x / img.width).toFixed(5)), Number((y / img.height).toFixed(5))]),
              ),
              score: f.score,
              quality: q.quality,
              low: q.low ? 1 : 0,
              embedding: Buffer.from(vectors[j].buffer, vectors[j].byteOffset, vectors[j].byteLength),
              now,
            });
            ids.push(Number(row.lastInsertRowid));
          });
          if (ids.length > 0) setSetting(db, LAST_FACE_ID, ids[ids.length - 1]);
          for (const [old, j] of matchFaces(before, boxes)) {
            if (old.source === 'user' && old.person_id !== null) keepPlaced.run(old.person_id, ids[j]);
            for (const p of JSON.parse(old.nots) as number[]) keepNot.run(ids[j], p);
          }
          if (replaced.length > 0) {
            const moved = new Map<number, number | null>(replaced.map((f) => [f.id, null]));
            for (const [old, j] of matchFaces(replaced, boxes)) moved.set(old.id, ids[j]);
            journal.move(moved);
          }
          result.faces += found.length;
        })();
        result.looked++;
        ctx.progress(i + 1);
      }
    } finally {
      await detector.release();
      await embedder.release();
    }
  }
  // Grouping reads every open face: only worth it when faces arrived since the last grouping (also those of a run
  // cancelled before it got here), or on Re-organize, so an unchanged library pays nothing here.
  const newest = (lib.db.prepare('SELECT MAX(id) FROM faces').pluck().get() as number | null) ?? 0;
  if (opts.regroup || newest > getSetting(lib.db, GROUPED_SETTING, 0)) {
    Object.assign(result, assignPeople(lib, { regroup: opts.regroup }));
    setSetting(lib.db, GROUPED_SETTING, newest);
  }
  return result;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface PlacedFace extends Box {
  id: number;
  person_id: number | null;
  source: 'auto' | 'user';
  /** JSON list of the people this face is not. */
  nots: string;
}

/** Intersection over union of two boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const i = w * h;
  return i / (a.w * a.h + b.w * b.h - i);
}

/** Old faces paired with the new face (index) that overlaps them most, at IoU 0.5 or more, each new face used once. */
export function matchFaces<T extends Box>(old: readonly T[], found: readonly Box[]): [T, number][] {
  const pairs: [number, number, number][] = [];
  old.forEach((o, i) => found.forEach((f, j) => pairs.push([iou(o, f), i, j])));
  pairs.sort((a, b) => b[0] - a[0]);
  const usedOld = new Set<number>();
  const usedNew = new Set<number>();
  const out: [T, number][] = [];
  for (const [v, i, j] of pairs) {
    if (v < 0.5) break;
    if (usedOld.has(i) || usedNew.has(j)) continue;
    usedOld.add(i);
    usedNew.add(j);
    out.push([old[i], j]);
  }
  return out;
}

/**
 * Group faces into people (cluster/people.ts) and write it; returns what changed. Normally only faces without a
 * person are grouped, so people stay as they are. With `regroup` (Re-organize) every face the person did not place
 * is grouped again: people with a face the person placed, or with a name, are the anchors new faces join; other
 * groups keep the id of the person most of their faces had, so an unchanged grouping comes out unchanged.
 */
export function assignPeople(lib: Library, opts: { regroup?: boolean } = {}): { newPeople: number; joined: number } {
  const db = lib.db;
  const regroup = opts.regroup === true;
  const vector = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const openRows = db
    .prepare(
      `SELECT id, photo_id, embedding, low_quality, person_id FROM faces WHERE ${regroup ? "source = 'auto'" : 'person_id IS NULL'} ORDER BY id`,
    )
    .all() as { id: number; photo_id: number; embedding: Buffer; low_quality: number; person_id: number | null }[];
  if (openRows.length === 0) return { newPeople: 0, joined: 0 };
  // One running sum per person, read face by face: memory grows with the people, not with the faces. Regrouping,
  // only people with a placed face or a name anchor the grouping; the photos of their placed faces are what the
  // regrouped faces must stay apart from.
  const anchors = regroup
    ? new Set(
        db
          .prepare(
            `SELECT DISTINCT person_id FROM faces WHERE source = 'user' AND person_id IS NOT NULL UNION SELECT id FROM people WHERE name IS NOT NULL`,
          )
          .pluck()
          .all() as number[],
      )
    : null;
  const known = new Map<number, KnownPerson>();
  for (const r of db.prepare('SELECT photo_id, embedding, person_id, source FROM faces WHERE person_id IS NOT NULL').iterate() as Iterable<{
    photo_id: number;
    embedding: Buffer;
    person_id: number;
    source: string;
  }>) {
    if (anchors && !anchors.has(r.person_id)) continue;
    const v = vector(r.embedding);
    let p = known.get(r.person_id);
    if (!p) known.set(r.person_id, (p = { id: r.person_id, centre: new Float32Array(v.length), count: 0, photos: new Set() }));
    for (let i = 0; i < v.length; i++) p.centre[i] += v[i];
    p.count++;
    if (!regroup || r.source === 'user') p.photos.add(r.photo_id);
  }
  const not = new Map<number, number[]>();
  for (const r of db.prepare('SELECT face_id, person_id FROM face_not_person').all() as { face_id: number; person_id: number }[])
    not.set(r.face_id, [...(not.get(r.face_id) ?? []), r.person_id]);
  const faces: PeopleFace[] = openRows.map((r) => ({
    id: r.id,
    photoId: r.photo_id,
    embedding: vector(r.embedding),
    lowQuality: r.low_quality === 1,
    notPeople: not.get(r.id),
  }));
  // Regrouping, an anchor is a group the first grouping made (average distance up to the link threshold): faces
  // that belonged with it then may join it again on the same terms.
  const { joins, newPeople, deferred } = groupPeople(
    faces,
    [...known.values()],
    regroup ? { joinThreshold: PEOPLE_DEFAULTS.linkThreshold } : {},
  );
  const before = new Map(openRows.map((r) => [r.id, r.person_id]));
  const now = Date.now();
  let joined = 0;
  let created = 0;
  db.transaction(() => {
    // Only faces the person has not placed meanwhile (and, normally, only those still without a person): an edit
    // made while this ran wins.
    const setPerson = db.prepare(
      `UPDATE faces SET person_id = ?, updated_at = ? WHERE id = ? AND source = 'auto' AND ${regroup ? 'person_id IS ?' : 'person_id IS NULL AND ? IS NULL'}`,
    );
    const assigned = new Set<number>();
    const put = (face: number, person: number | null): number => {
      assigned.add(face);
      return before.get(face) === person ? 0 : setPerson.run(person, now, face, before.get(face) ?? null).changes;
    };
    for (const [face, person] of joins) joined += put(face, person);
    const addPerson = db.prepare('INSERT INTO people (name, cover_face_id, created_at, updated_at) VALUES (NULL, NULL, ?, ?)');
    const cover = db.prepare(
      `UPDATE people SET cover_face_id = (SELECT id FROM faces WHERE person_id = people.id ORDER BY low_quality, quality DESC, id LIMIT 1) WHERE id = ?`,
    );
    const notOf = new Map(faces.map((f) => [f.id, f.notPeople ?? []]));
    const taken = new Set<number>(known.keys());
    for (const members of newPeople) {
      // The id most of these faces had, when no anchor has it and none of them is "not" that person.
      const votes = new Map<number, number>();
      for (const f of members) {
        const old = before.get(f);
        if (old != null && !taken.has(old)) votes.set(old, (votes.get(old) ?? 0) + 1);
      }
      const reuse = [...votes]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .find(([id]) => members.every((f) => !notOf.get(f)?.includes(id)))?.[0];
      const id = reuse ?? Number(addPerson.run(now, now).lastInsertRowid);
      taken.add(id);
      let n = 0;
      for (const face of members) n += put(face, id) + (before.get(face) === id ? 1 : 0);
      if (reuse === undefined) {
        if (n === 0) db.prepare('DELETE FROM people WHERE id = ?').run(id);
        else created++;
      }
      if (n > 0) cover.run(id);
    }
    // Regrouping, a face that now matches no one is unknown again; one left for later keeps its person.
    for (const f of deferred) assigned.add(f);
    if (regroup) for (const r of openRows) if (!assigned.has(r.id)) put(r.id, null);
    db.prepare(
      `UPDATE people SET cover_face_id = (SELECT id FROM faces WHERE person_id = people.id ORDER BY low_quality, quality DESC, id LIMIT 1)
        WHERE cover_face_id IS NULL OR cover_face_id NOT IN (SELECT id FROM faces WHERE person_id = people.id)`,
    ).run();
  })();
  return { newPeople: created, joined };
}
