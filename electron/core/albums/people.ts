/**
 * People for the UI: the list with a face to show for each, and the person's edits (name, move faces, split into a
 * new person, merge, "not this person"). Edits go into the one undo journal (store.ts) and pin the faces they move.
 */
import type { EditState, FaceInfo, PersonInfo } from '../api/contract.js';
import type { Db } from '../db/database.js';
import { tx } from '../db/database.js';
import { ShoeboxError } from '../errors.js';
import { applyEdit, editState, recordEdit, type EditPayload, type PersonRow } from './store.js';

interface Row {
  id: number;
  name: string | null;
  count: number;
  photo_id: number | null;
  x: number | null;
  y: number | null;
  w: number | null;
  h: number | null;
}

const SELECT = `SELECT pe.id, pe.name, COUNT(DISTINCT f.photo_id) AS count, c.photo_id, c.x, c.y, c.w, c.h
  FROM people pe JOIN faces f ON f.person_id = pe.id JOIN photos p ON p.id = f.photo_id AND +p.status = 'ok'
  LEFT JOIN faces c ON c.id = pe.cover_face_id`;

const info = (r: Row): PersonInfo => ({
  id: r.id,
  name: r.name,
  count: r.count,
  cover: r.photo_id === null ? null : { photoId: r.photo_id, box: [r.x ?? 0, r.y ?? 0, r.w ?? 0, r.h ?? 0] },
});

/** People with at least one photo: named ones first by name, then the rest by photo count. */
export function listPeople(db: Db): PersonInfo[] {
  return (db.prepare(`${SELECT} GROUP BY pe.id ORDER BY pe.name IS NULL, pe.name COLLATE NOCASE, count DESC, pe.id`).all() as Row[]).map(
    info,
  );
}

interface FaceListRow {
  id: number;
  photo_id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  quality: number;
  low_quality: number;
  source: string;
}

/** A person's faces, best first (what the "faces" mode shows). */
export function listFaces(db: Db, personId: number): FaceInfo[] {
  personRow(db, personId);
  return (
    db
      .prepare(
        `SELECT f.id, f.photo_id, f.x, f.y, f.w, f.h, f.quality, f.low_quality, f.source FROM faces f
          JOIN photos p ON p.id = f.photo_id AND +p.status = 'ok'
          WHERE f.person_id = ? ORDER BY f.low_quality, f.quality DESC, f.id`,
      )
      .all(personId) as FaceListRow[]
  ).map((r) => ({
    id: r.id,
    photoId: r.photo_id,
    box: [r.x, r.y, r.w, r.h],
    quality: r.quality,
    lowQuality: r.low_quality === 1,
    pinned: r.source === 'user',
  }));
}

function personRow(db: Db, id: number): PersonRow {
  const row = db.prepare('SELECT id, name, cover_face_id, created_at, updated_at FROM people WHERE id = ?').get(id) as
    PersonRow | undefined;
  if (!row) throw new ShoeboxError('NOT_FOUND', `Person ${id} does not exist`);
  return row;
}

const called = (p: PersonRow): string => (p.name ? `“${p.name}”` : 'an unnamed person');
const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

interface FaceRow {
  id: number;
  photo_id: number;
  person_id: number | null;
  source: 'auto' | 'user';
}

function faceRows(db: Db, ids: readonly number[]): FaceRow[] {
  const get = db.prepare('SELECT id, photo_id, person_id, source FROM faces WHERE id = ?');
  return [...new Set(ids)].map((id) => {
    const r = get.get(id) as FaceRow | undefined;
    if (!r) throw new ShoeboxError('NOT_FOUND', `Face ${id} does not exist`);
    return r;
  });
}

/** Two faces of one photo are never one person: refuse to put `faces` with a person who is in their photos. */
function assertApart(db: Db, faces: readonly FaceRow[], personId: number): void {
  const moving = new Set(faces.map((f) => f.id));
  const other = db.prepare('SELECT id FROM faces WHERE person_id = ? AND photo_id = ?');
  const photos = new Set<number>();
  for (const f of faces) {
    if (photos.has(f.photo_id)) throw new ShoeboxError('CONFLICT', 'Two of these faces are in the same photo, so they are two people');
    photos.add(f.photo_id);
    const there = other.all(personId, f.photo_id) as { id: number }[];
    if (there.some((t) => !moving.has(t.id)))
      throw new ShoeboxError('CONFLICT', 'This person is already in one of these photos, with another face');
  }
}

/**
 * People whose cover is among `leaving` faces, each with the cover it gets instead (their best remaining face, or
 * none): changes for the edit's payload, so that undo and redo restore the covers too.
 */
function coverChanges(db: Db, leaving: readonly FaceRow[], except: number | null): NonNullable<EditPayload['people']> {
  const gone = new Set(leaving.map((f) => f.id));
  const ids = [...new Set(leaving.map((f) => f.person_id))].filter((id): id is number => id !== null && id !== except);
  const best = db.prepare('SELECT id FROM faces WHERE person_id = ? ORDER BY low_quality, quality DESC, id');
  return ids.flatMap((id) => {
    const person = personRow(db, id);
    if (person.cover_face_id === null || !gone.has(person.cover_face_id)) return [];
    const next = (best.pluck().all(id) as number[]).find((f) => !gone.has(f)) ?? null;
    return [{ id, before: person, after: { ...person, cover_face_id: next } }];
  });
}

/** Put faces with a person (a new one when `toPersonId` is absent: "split into new person"); pinned. */
export function moveFaces(db: Db, faceIds: readonly number[], toPersonId?: number): { personId: number; edits: EditState } {
  let personId = toPersonId ?? 0;
  tx(db, () => {
    const faces = faceRows(db, faceIds);
    if (faces.length === 0) throw new ShoeboxError('INVALID_INPUT', 'No faces to move');
    const p: EditPayload = { albums: [], members: [], cannotLink: [], people: [], faces: [] };
    let target: PersonRow;
    if (toPersonId === undefined) {
      const now = Date.now();
      personId = Number(
        db.prepare('INSERT INTO people (name, cover_face_id, created_at, updated_at) VALUES (NULL, NULL, ?, ?)').run(now, now)
          .lastInsertRowid,
      );
      target = personRow(db, personId);
      p.people!.push({ id: personId, before: null, after: { ...target, cover_face_id: faces[0].id } });
    } else {
      target = personRow(db, toPersonId);
      assertApart(db, faces, toPersonId);
      if (target.cover_face_id === null)
        p.people!.push({ id: target.id, before: target, after: { ...target, cover_face_id: faces[0].id } });
    }
    for (const f of faces) {
      if (f.person_id === personId && f.source === 'user') continue;
      p.faces!.push({ faceId: f.id, before: { personId: f.person_id, source: f.source }, after: { personId, source: 'user' } });
    }
    // A person whose cover face leaves them gets their best remaining face as the cover.
    p.people!.push(...coverChanges(db, faces.filter((f) => f.person_id !== personId), personId));
    if (p.faces!.length === 0 && p.people!.length === 0) return;
    applyEdit(db, p, 'forward');
    // Putting a face with someone is a positive statement: it drops a "not this person" for them.
    for (const f of faces) db.prepare('DELETE FROM face_not_person WHERE face_id = ? AND person_id = ?').run(f.id, personId);
    const label =
      toPersonId === undefined
        ? `Split ${plural(faces.length, 'face')} into a new person`
        : `Move ${plural(faces.length, 'face')} to ${called(target)}`;
    recordEdit(db, 'faces', label, p);
  });
  return { personId, edits: editState(db) };
}

/** All of `sourceId`'s faces go to `targetId`, who keeps their name (or takes the source's, having none). */
export function mergePeople(db: Db, sourceId: number, targetId: number): EditState {
  tx(db, () => {
    if (sourceId === targetId) throw new ShoeboxError('INVALID_INPUT', 'A person cannot be merged with themselves');
    const source = personRow(db, sourceId);
    const target = personRow(db, targetId);
    const faces = db.prepare('SELECT id, photo_id, person_id, source FROM faces WHERE person_id = ?').all(sourceId) as FaceRow[];
    const together = db
      .prepare(
        'SELECT COUNT(DISTINCT a.photo_id) AS n FROM faces a JOIN faces b ON a.photo_id = b.photo_id WHERE a.person_id = ? AND b.person_id = ?',
      )
      .get(sourceId, targetId) as { n: number };
    if (together.n > 0) throw new ShoeboxError('CONFLICT', `They are together in ${plural(together.n, 'photo')}, so they are two people`);
    const now = Date.now();
    const p: EditPayload = {
      albums: [],
      members: [],
      cannotLink: [],
      people: [
        {
          id: targetId,
          before: target,
          after: {
            ...target,
            name: target.name ?? source.name,
            cover_face_id: target.cover_face_id ?? source.cover_face_id,
            updated_at: now,
          },
        },
        { id: sourceId, before: source, after: { ...source, name: null, cover_face_id: null, updated_at: now } },
      ],
      faces: faces.map((f) => ({
        faceId: f.id,
        before: { personId: f.person_id, source: f.source },
        after: { personId: targetId, source: 'user' },
      })),
    };
    applyEdit(db, p, 'forward');
    recordEdit(db, 'merge-people', `Merge ${called(source)} into ${called(target)}`, p);
  });
  return editState(db);
}

/** "Not this person": the faces leave `personId` and never go back to them; a later organize may file them elsewhere. */
export function notThisPerson(db: Db, faceIds: readonly number[], personId: number): EditState {
  tx(db, () => {
    const person = personRow(db, personId);
    const faces = faceRows(db, faceIds).filter((f) => f.person_id === personId);
    if (faces.length === 0) return;
    const p: EditPayload = {
      albums: [],
      members: [],
      cannotLink: [],
      people: coverChanges(db, faces, null),
      faces: faces.map((f) => ({ faceId: f.id, before: { personId, source: f.source }, after: { personId: null, source: 'auto' } })),
      notPerson: faces.map((f) => [f.id, personId] as [number, number]),
    };
    applyEdit(db, p, 'forward');
    recordEdit(db, 'not-person', `${plural(faces.length, 'face')} not ${called(person)}`, p);
  });
  return editState(db);
}

export function renamePerson(db: Db, personId: number, name: string): PersonInfo {
  const clean = name.trim() || null;
  return tx(db, () => {
    const before = personRow(db, personId);
    if (clean && db.prepare('SELECT 1 FROM people WHERE id != ? AND name = ? COLLATE NOCASE').get(personId, clean))
      throw new ShoeboxError('CONFLICT', `There is already a person called “${clean}”`);
    if (before.name !== clean) {
      const p: EditPayload = {
        albums: [],
        members: [],
        cannotLink: [],
        people: [{ id: personId, before, after: { ...before, name: clean, updated_at: Date.now() } }],
      };
      applyEdit(db, p, 'forward');
      recordEdit(db, 'rename-person', clean ? `Name ${called(before)} “${clean}”` : `Un-name ${called(before)}`, p);
    }
    const row = db.prepare(`${SELECT} WHERE pe.id = ? GROUP BY pe.id`).get(personId) as Row | undefined;
    return row ? info(row) : { id: personId, name: clean, count: 0, cover: null };
  });
}
