/**
 * Albums and membership in the database, and the undo/redo journal of user edits.
 *
 * Every user edit is recorded as a list of row changes (album rows before/after, membership before/after,
 * cannot-link pairs added), so undo and redo are the same generic operation in both directions and survive
 * restarts. User edits pin the photos they touch: nothing automatic moves a pinned photo again.
 */
import type { AlbumSummary, EditState, PhotoPage } from '../api/contract.js';
import type { Db } from '../db/database.js';
import { tx } from '../db/database.js';
import { ShoeboxError } from '../errors.js';
import { viewPage, type SortOrder } from './views.js';

export interface AlbumRow {
  id: number;
  name: string;
  name_source: 'auto' | 'user';
  kind: 'auto' | 'user' | 'unsorted';
  cover_photo_id: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface Membership {
  albumId: number;
  source: 'auto' | 'user';
  pinned: boolean;
}

/** Which person a face belongs to, and whether the person put it there. */
export interface FaceAssignment {
  personId: number | null;
  source: 'auto' | 'user';
}

export interface PersonRow {
  id: number;
  name: string | null;
  cover_face_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface EditPayload {
  albums: { id: number; before: AlbumRow | null; after: AlbumRow | null }[];
  members: { photoId: number; before: Membership | null; after: Membership | null }[];
  cannotLink: [number, number][];
  /** People edits (absent in journals written before them). A person row is never deleted, only left empty. */
  people?: { id: number; before: PersonRow | null; after: PersonRow }[];
  faces?: { faceId: number; before: FaceAssignment; after: FaceAssignment }[];
  /** "Not this person" pairs [face, person] added. */
  notPerson?: [number, number][];
}

export const UNSORTED_NAME = 'Unsorted';

/** The id of the Unsorted album, created on first use. */
export function unsortedAlbumId(db: Db): number {
  const row = db.prepare(`SELECT id FROM albums WHERE kind = 'unsorted' AND deleted_at IS NULL ORDER BY id LIMIT 1`).get() as
    { id: number } | undefined;
  if (row) return row.id;
  const now = Date.now();
  return Number(
    db
      .prepare(`INSERT INTO albums(name, name_source, kind, created_at, updated_at) VALUES (?, 'auto', 'unsorted', ?, ?)`)
      .run(UNSORTED_NAME, now, now).lastInsertRowid,
  );
}

export function getAlbum(db: Db, id: number): AlbumRow | undefined {
  return db.prepare('SELECT * FROM albums WHERE id = ?').get(id) as AlbumRow | undefined;
}

function liveAlbum(db: Db, id: number): AlbumRow {
  const a = getAlbum(db, id);
  if (!a || a.deleted_at !== null) throw new ShoeboxError('NOT_FOUND', `Album ${id} does not exist`);
  return a;
}

export function listAlbums(db: Db): AlbumSummary[] {
  unsortedAlbumId(db);
  // One grouped pass over the memberships (a count per album would scan the photos once per album).
  const counts = new Map(
    (
      db
        .prepare(
          `SELECT m.album_id AS id, COUNT(*) AS n FROM album_members m JOIN photos p ON p.id = m.photo_id WHERE p.status = 'ok' GROUP BY m.album_id`,
        )
        .all() as { id: number; n: number }[]
    ).map((r) => [r.id, r.n]),
  );
  const rows = db
    .prepare(
      `SELECT a.id, a.name, a.kind, a.name_source, a.name_reason, a.cover_photo_id, a.updated_at FROM albums a WHERE a.deleted_at IS NULL`,
    )
    .all() as (Omit<AlbumRow, 'created_at' | 'deleted_at'> & { name_reason: string | null })[];
  return rows
    .map((r) => {
      const count = counts.get(r.id) ?? 0;
      return {
        id: r.id,
        name: r.name,
        kind: r.kind,
        nameSource: r.name_source,
        nameReason: r.name_source === 'auto' && r.kind === 'auto' ? r.name_reason : null,
        count,
        coverPhotoId: r.cover_photo_id ?? (count > 0 ? firstPhoto(db, r.id) : null),
        updatedAt: r.updated_at,
      };
    })
    .filter((a) => a.count > 0 || a.kind !== 'auto')
    .sort((a, b) => (a.kind === 'unsorted' ? 1 : 0) - (b.kind === 'unsorted' ? 1 : 0) || b.count - a.count || a.name.localeCompare(b.name));
}

function firstPhoto(db: Db, albumId: number): number | null {
  const r = db
    .prepare(
      `SELECT m.photo_id AS id FROM album_members m JOIN photos p ON p.id = m.photo_id WHERE m.album_id = ? AND +p.status = 'ok' LIMIT 1`,
    )
    .get(albumId) as { id: number } | undefined;
  return r?.id ?? null;
}

/** One page of an album's photos by date taken (undated photos last), columnar. */
export function albumPage(db: Db, albumId: number, offset: number, limit: number, order: SortOrder = 'oldest'): PhotoPage {
  liveAlbum(db, albumId);
  return viewPage(db, { kind: 'album', albumId }, order, offset, limit);
}

// ---------------------------------------------------------------------------------------------------------------
// Journal

function membership(db: Db, photoId: number): Membership | null {
  const r = db.prepare('SELECT album_id, source, pinned FROM album_members WHERE photo_id = ?').get(photoId) as
    { album_id: number; source: 'auto' | 'user'; pinned: number } | undefined;
  return r ? { albumId: r.album_id, source: r.source, pinned: r.pinned === 1 } : null;
}

function writeMembership(db: Db, photoId: number, m: Membership | null): void {
  if (!m) {
    db.prepare('DELETE FROM album_members WHERE photo_id = ?').run(photoId);
    return;
  }
  db.prepare(
    `INSERT INTO album_members(photo_id, album_id, source, pinned, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(photo_id) DO UPDATE SET album_id = excluded.album_id, source = excluded.source, pinned = excluded.pinned,
       updated_at = excluded.updated_at`,
  ).run(photoId, m.albumId, m.source, m.pinned ? 1 : 0, Date.now());
}

function writeAlbum(db: Db, id: number, row: AlbumRow | null): void {
  if (!row) {
    // "after = null" only happens for albums created by the edit being undone: hide it rather than delete,
    // so foreign keys from older journal entries stay valid.
    db.prepare('UPDATE albums SET deleted_at = ? WHERE id = ?').run(Date.now(), id);
    return;
  }
  db.prepare(
    `INSERT INTO albums(id, name, name_source, kind, cover_photo_id, created_at, updated_at, deleted_at)
     VALUES (@id, @name, @name_source, @kind, @cover_photo_id, @created_at, @updated_at, @deleted_at)
     ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_source = excluded.name_source, kind = excluded.kind,
       cover_photo_id = excluded.cover_photo_id, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at`,
  ).run(row);
}

function applyPeople(db: Db, p: EditPayload, dir: 'forward' | 'back'): void {
  const upsert = db.prepare(
    `INSERT INTO people(id, name, cover_face_id, created_at, updated_at) VALUES (@id, @name, @cover_face_id, @created_at, @updated_at)
     ON CONFLICT(id) DO UPDATE SET name = excluded.name, cover_face_id = excluded.cover_face_id, updated_at = excluded.updated_at`,
  );
  for (const pe of p.people ?? []) {
    const row = dir === 'forward' ? pe.after : (pe.before ?? { ...pe.after, name: null });
    upsert.run({
      ...row,
      cover_face_id:
        row.cover_face_id !== null && db.prepare('SELECT 1 FROM faces WHERE id = ?').get(row.cover_face_id) ? row.cover_face_id : null,
    });
  }
  // Faces gone since (their photo changed or left the library) are skipped.
  const setFace = db.prepare('UPDATE faces SET person_id = ?, source = ?, updated_at = ? WHERE id = ?');
  for (const f of p.faces ?? []) {
    const a = dir === 'forward' ? f.after : f.before;
    setFace.run(a.personId, a.source, Date.now(), f.faceId);
  }
  const addNot = db.prepare(
    'INSERT OR IGNORE INTO face_not_person(face_id, person_id) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM faces WHERE id = ?)',
  );
  const dropNot = db.prepare('DELETE FROM face_not_person WHERE face_id = ? AND person_id = ?');
  for (const [face, person] of p.notPerson ?? []) {
    if (dir === 'forward') addNot.run(face, person, face);
    else dropNot.run(face, person);
  }
}

/** Apply a journal entry's changes (forward: do or redo; back: undo). */
export function applyEdit(db: Db, p: EditPayload, dir: 'forward' | 'back'): void {
  apply(db, p, dir);
  applyPeople(db, p, dir);
}

function apply(db: Db, p: EditPayload, dir: 'forward' | 'back'): void {
  const albums = dir === 'forward' ? p.albums : [...p.albums].reverse();
  // Photos gone from the library since (their folder was removed) are skipped: the rest of the edit still applies.
  const exists = db.prepare('SELECT 1 FROM photos WHERE id = ?').pluck();
  // Albums first when going forward (new albums must exist before members point at them); resurrect any album a
  // membership points to so a journal entry never dangles.
  for (const a of albums) {
    const row = dir === 'forward' ? a.after : a.before;
    if (row)
      writeAlbum(
        db,
        a.id,
        row.cover_photo_id !== null && exists.get(row.cover_photo_id) === undefined ? { ...row, cover_photo_id: null } : row,
      );
  }
  for (const m of p.members) {
    if (exists.get(m.photoId) === undefined) continue;
    const target = dir === 'forward' ? m.after : m.before;
    if (target) {
      const album = getAlbum(db, target.albumId);
      if (album && album.deleted_at !== null) db.prepare('UPDATE albums SET deleted_at = NULL WHERE id = ?').run(album.id);
    }
    writeMembership(db, m.photoId, target);
  }
  for (const a of albums) {
    const row = dir === 'forward' ? a.after : a.before;
    if (!row) writeAlbum(db, a.id, null);
  }
  const addLink = db.prepare('INSERT OR IGNORE INTO cannot_link(photo_id, album_id, created_at) VALUES (?, ?, ?)');
  const dropLink = db.prepare('DELETE FROM cannot_link WHERE photo_id = ? AND album_id = ?');
  for (const [photo, album] of p.cannotLink) {
    if (exists.get(photo) === undefined) continue;
    if (dir === 'forward') addLink.run(photo, album, Date.now());
    else dropLink.run(photo, album);
  }
}

/** Add an edit the caller has just applied to the journal (it drops anything redoable). */
export function recordEdit(db: Db, kind: string, label: string, p: EditPayload): void {
  record(db, kind, label, p);
}

function record(db: Db, kind: string, label: string, p: EditPayload): void {
  db.prepare(`DELETE FROM edits WHERE state = 'undone'`).run();
  db.prepare('INSERT INTO edits(created_at, kind, label, payload) VALUES (?, ?, ?, ?)').run(Date.now(), kind, label, JSON.stringify(p));
}

/**
 * The journal's entries that name faces, kept in step when a photo's faces are found again: a face's id changes
 * then, and its entries must follow it (or drop it, where it was not found again) so that an undo never acts on
 * another face. Reads new entries as they are written, so edits made while a faces job runs are covered too.
 */
export class FaceJournal {
  private seen = 0;
  private readonly byFace = new Map<number, Set<number>>();
  private readonly payloads = new Map<number, EditPayload>();

  constructor(private readonly db: Db) {}

  /** Old face id -> its new id, or null where it is gone. Call inside the transaction that replaces the faces. */
  move(moved: ReadonlyMap<number, number | null>): void {
    this.refresh();
    const edits = new Set<number>();
    for (const old of moved.keys()) for (const e of this.byFace.get(old) ?? []) edits.add(e);
    const write = this.db.prepare('UPDATE edits SET payload = ? WHERE id = ?');
    for (const e of edits) {
      const p = this.payloads.get(e)!;
      const to = (f: number): number | null => (moved.has(f) ? moved.get(f)! : f);
      if (p.faces) p.faces = p.faces.flatMap((f) => (to(f.faceId) === null ? [] : [{ ...f, faceId: to(f.faceId)! }]));
      if (p.notPerson) p.notPerson = p.notPerson.flatMap(([f, person]) => (to(f) === null ? [] : [[to(f)!, person] as [number, number]]));
      for (const pe of p.people ?? []) {
        for (const row of [pe.before, pe.after]) if (row && row.cover_face_id !== null) row.cover_face_id = to(row.cover_face_id);
      }
      if (write.run(JSON.stringify(p), e).changes === 0) this.payloads.delete(e);
      else this.index(e, p);
    }
  }

  private refresh(): void {
    const rows = this.db
      .prepare(`SELECT id, payload FROM edits WHERE id > ? AND payload LIKE '%face%' ORDER BY id`)
      .all(this.seen) as { id: number; payload: string }[];
    for (const r of rows) {
      this.seen = r.id;
      const p = JSON.parse(r.payload) as EditPayload;
      this.payloads.set(r.id, p);
      this.index(r.id, p);
    }
  }

  private index(edit: number, p: EditPayload): void {
    const faces = [
      ...(p.faces ?? []).map((f) => f.faceId),
      ...(p.notPerson ?? []).map(([f]) => f),
      ...(p.people ?? []).flatMap((pe) => [pe.before?.cover_face_id ?? null, pe.after.cover_face_id]),
    ];
    for (const f of faces) {
      if (f === null) continue;
      let set = this.byFace.get(f);
      if (!set) this.byFace.set(f, (set = new Set()));
      set.add(edit);
    }
  }
}

export function editState(db: Db): EditState {
  const done = db.prepare(`SELECT label FROM edits WHERE state = 'done' ORDER BY id DESC`).all() as { label: string }[];
  const undone = db.prepare(`SELECT label FROM edits WHERE state = 'undone' ORDER BY id ASC`).all() as { label: string }[];
  return {
    undoDepth: done.length,
    redoDepth: undone.length,
    undoLabel: done[0]?.label ?? null,
    redoLabel: undone[0]?.label ?? null,
  };
}

export function undo(db: Db): EditState {
  tx(db, () => {
    const e = db.prepare(`SELECT id, payload FROM edits WHERE state = 'done' ORDER BY id DESC LIMIT 1`).get() as
      { id: number; payload: string } | undefined;
    if (!e) throw new ShoeboxError('CONFLICT', 'Nothing to undo');
    applyEdit(db, JSON.parse(e.payload) as EditPayload, 'back');
    db.prepare(`UPDATE edits SET state = 'undone' WHERE id = ?`).run(e.id);
  });
  return editState(db);
}

export function redo(db: Db): EditState {
  tx(db, () => {
    const e = db.prepare(`SELECT id, payload FROM edits WHERE state = 'undone' ORDER BY id ASC LIMIT 1`).get() as
      { id: number; payload: string } | undefined;
    if (!e) throw new ShoeboxError('CONFLICT', 'Nothing to redo');
    applyEdit(db, JSON.parse(e.payload) as EditPayload, 'forward');
    db.prepare(`UPDATE edits SET state = 'done' WHERE id = ?`).run(e.id);
  });
  return editState(db);
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function okPhotoIds(db: Db, ids: number[]): number[] {
  const unique = [...new Set(ids)];
  const stmt = db.prepare(`SELECT id FROM photos WHERE id = ? AND status = 'ok'`);
  for (const id of unique) if (!stmt.get(id)) throw new ShoeboxError('NOT_FOUND', `Photo ${id} does not exist`);
  return unique;
}

/** Membership changes that put `photoIds` into `albumId` as pinned user choices, plus cannot-links. */
function moveChanges(db: Db, photoIds: number[], albumId: number, pinned = true): Pick<EditPayload, 'members' | 'cannotLink'> {
  const members: EditPayload['members'] = [];
  const cannotLink: [number, number][] = [];
  for (const id of photoIds) {
    const before = membership(db, id);
    if (before && before.albumId === albumId && before.pinned === pinned) continue;
    members.push({ photoId: id, before, after: { albumId, source: 'user', pinned } });
    if (before && before.albumId !== albumId) {
      const from = getAlbum(db, before.albumId);
      if (from && from.kind !== 'unsorted') cannotLink.push([id, before.albumId]);
    }
  }
  return { members, cannotLink };
}

export function movePhotos(db: Db, photoIds: number[], toAlbumId: number): EditState {
  tx(db, () => {
    const album = liveAlbum(db, toAlbumId);
    const ids = okPhotoIds(db, photoIds);
    const ch = moveChanges(db, ids, toAlbumId);
    // Moving into an album is a positive statement: drop a cannot-link to it, if any.
    ch.cannotLink = ch.cannotLink.filter(([, a]) => a !== toAlbumId);
    // Nothing to move (an empty list, or every photo already placed there): no edit, no undo step.
    if (ch.members.length === 0 && ch.cannotLink.length === 0) return;
    const p: EditPayload = { albums: [], ...ch };
    apply(db, p, 'forward');
    for (const id of ids) db.prepare('DELETE FROM cannot_link WHERE photo_id = ? AND album_id = ?').run(id, toAlbumId);
    record(db, 'move', `Move ${plural(ids.length, 'photo')} to “${album.name}”`, p);
  });
  return editState(db);
}

/** Refuses a name another live album has (case-insensitively), so two albums never read the same. */
function assertNameFree(db: Db, name: string, except: number | null): void {
  const other = db
    .prepare(`SELECT id, name FROM albums WHERE deleted_at IS NULL AND name = ? COLLATE NOCASE AND id IS NOT ?`)
    .get(name.trim(), except) as { id: number; name: string } | undefined;
  if (other) throw new ShoeboxError('CONFLICT', `There is already an album called “${other.name}”. Choose another name.`);
}

export function createAlbum(db: Db, name: string, photoIds: number[] = []): { albumId: number; edits: EditState } {
  let albumId = 0;
  tx(db, () => {
    assertNameFree(db, name, null);
    const ids = okPhotoIds(db, photoIds);
    const now = Date.now();
    albumId = Number(
      db.prepare(`INSERT INTO albums(name, name_source, kind, created_at, updated_at) VALUES (?, 'user', 'user', ?, ?)`).run(name, now, now)
        .lastInsertRowid,
    );
    const row = getAlbum(db, albumId)!;
    const p: EditPayload = { albums: [{ id: albumId, before: null, after: row }], ...moveChanges(db, ids, albumId) };
    apply(db, p, 'forward');
    record(db, 'create', `Create album “${name}”`, p);
  });
  return { albumId, edits: editState(db) };
}

export function renameAlbum(db: Db, albumId: number, name: string): EditState {
  tx(db, () => {
    const before = liveAlbum(db, albumId);
    if (before.kind === 'unsorted') throw new ShoeboxError('INVALID_INPUT', 'Unsorted cannot be renamed');
    assertNameFree(db, name, albumId);
    const after: AlbumRow = { ...before, name, name_source: 'user', updated_at: Date.now() };
    const p: EditPayload = { albums: [{ id: albumId, before, after }], members: [], cannotLink: [] };
    apply(db, p, 'forward');
    record(db, 'rename', `Rename “${before.name}” to “${name}”`, p);
  });
  return editState(db);
}

export function mergeAlbums(db: Db, sourceId: number, targetId: number): EditState {
  tx(db, () => {
    if (sourceId === targetId) throw new ShoeboxError('INVALID_INPUT', 'An album cannot be merged into itself');
    const src = liveAlbum(db, sourceId);
    const dst = liveAlbum(db, targetId);
    if (src.kind === 'unsorted') throw new ShoeboxError('INVALID_INPUT', 'Unsorted cannot be merged; move its photos instead');
    const ids = (db.prepare('SELECT photo_id FROM album_members WHERE album_id = ?').all(sourceId) as { photo_id: number }[]).map(
      (r) => r.photo_id,
    );
    const now = Date.now();
    const ch = moveChanges(db, ids, targetId);
    const p: EditPayload = {
      albums: [
        { id: sourceId, before: src, after: { ...src, deleted_at: now, updated_at: now } },
        // The merged album is the person's album now.
        { id: targetId, before: dst, after: { ...dst, kind: dst.kind === 'unsorted' ? 'unsorted' : 'user', updated_at: now } },
      ],
      members: ch.members,
      cannotLink: [],
    };
    apply(db, p, 'forward');
    record(db, 'merge', `Merge “${src.name}” into “${dst.name}”`, p);
  });
  return editState(db);
}

export function deleteAlbum(db: Db, albumId: number): EditState {
  tx(db, () => {
    const album = liveAlbum(db, albumId);
    if (album.kind === 'unsorted') throw new ShoeboxError('INVALID_INPUT', 'Unsorted cannot be deleted');
    const unsorted = unsortedAlbumId(db);
    const ids = (db.prepare('SELECT photo_id FROM album_members WHERE album_id = ?').all(albumId) as { photo_id: number }[]).map(
      (r) => r.photo_id,
    );
    const now = Date.now();
    const ch = moveChanges(db, ids, unsorted);
    const p: EditPayload = {
      albums: [{ id: albumId, before: album, after: { ...album, deleted_at: now, updated_at: now } }],
      members: ch.members,
      cannotLink: ch.cannotLink,
    };
    apply(db, p, 'forward');
    record(db, 'delete', `Delete album “${album.name}”`, p);
  });
  return editState(db);
}
