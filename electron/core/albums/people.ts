/** People for the UI: the list with a face to show for each, and naming. */
import type { PersonInfo } from '../api/contract.js';
import type { Db } from '../db/database.js';
import { ShoeboxError } from '../errors.js';

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

export function renamePerson(db: Db, personId: number, name: string): PersonInfo {
  const clean = name.trim() || null;
  return db.transaction(() => {
    if (!db.prepare('SELECT 1 FROM people WHERE id = ?').get(personId))
      throw new ShoeboxError('NOT_FOUND', `Person ${personId} does not exist`);
    if (clean && db.prepare('SELECT 1 FROM people WHERE id != ? AND name = ? COLLATE NOCASE').get(personId, clean))
      throw new ShoeboxError('CONFLICT', `There is already a person called “${clean}”`);
    db.prepare('UPDATE people SET name = ?, updated_at = ? WHERE id = ?').run(clean, Date.now(), personId);
    const row = db.prepare(`${SELECT} WHERE pe.id = ? GROUP BY pe.id`).get(personId) as Row | undefined;
    return row ? info(row) : { id: personId, name: clean, count: 0, cover: null };
  })();
}
