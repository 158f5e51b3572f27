/**
 * Gives every automatic album whose name the person never set the name the naming rule finds for its photos now
 * (cluster/naming.ts), with the reason shown in its tooltip. Runs after the albums are written, and again when
 * places or objects become known. A name the person gave is never touched.
 */
import type { Db } from '../db/database.js';
import { nameAlbum, type LibraryContext, type NamedPlace } from '../cluster/naming.js';

const GENERIC = /^Album (\d+)$/;

interface Row {
  album_id: number;
  taken_local: number | null;
  taken_source: string | null;
  city: string | null;
  region: string | null;
  country: string | null;
  lat: number | null;
}

/** Renames automatic albums per the naming rule; returns how many names changed. Call inside a transaction. */
export function refreshAlbumNames(db: Db): number {
  const albums = db
    .prepare(`SELECT id, name FROM albums WHERE kind = 'auto' AND name_source = 'auto' AND deleted_at IS NULL ORDER BY id`)
    .all() as { id: number; name: string }[];
  if (albums.length === 0) return 0;
  const inputs = new Map(albums.map((a) => [a.id, { count: 0, takenLocal: [] as number[], places: [] as NamedPlace[], objects: new Map<string, number>() }]));
  const rows = db
    .prepare(
      `SELECT m.album_id, p.taken_local, p.taken_source, p.city, p.region, p.country, p.lat
         FROM album_members m JOIN photos p ON p.id = m.photo_id
         JOIN albums a ON a.id = m.album_id
        WHERE a.kind = 'auto' AND a.name_source = 'auto' AND a.deleted_at IS NULL AND +p.status = 'ok'`,
    )
    .iterate() as IterableIterator<Row>;
  for (const r of rows) {
    const input = inputs.get(r.album_id);
    if (!input) continue;
    input.count++;
    // File times say when a file was copied as often as when the photo was taken: names use camera dates only.
    if (r.taken_local !== null && r.taken_source === 'exif') input.takenLocal.push(r.taken_local);
    if (r.country !== null) input.places.push({ city: r.city, region: r.region, country: r.country, lat: r.lat });
  }
  const objs = db
    .prepare(
      `SELECT m.album_id, o.label, COUNT(*) AS n FROM photo_objects o JOIN album_members m ON m.photo_id = o.photo_id
        GROUP BY m.album_id, o.label`,
    )
    .all() as { album_id: number; label: string; n: number }[];
  for (const o of objs) inputs.get(o.album_id)?.objects.set(o.label, o.n);
  const library: LibraryContext = {
    detected: (db.prepare(`SELECT COUNT(*) AS n FROM objects_done`).get() as { n: number }).n,
    objects: new Map(
      (db.prepare(`SELECT label, COUNT(*) AS n FROM photo_objects GROUP BY label`).all() as { label: string; n: number }[]).map((r) => [r.label, r.n]),
    ),
  };

  const mine = new Set(albums.map((a) => a.id));
  const used = new Set(
    (db.prepare(`SELECT id, name FROM albums WHERE deleted_at IS NULL`).all() as { id: number; name: string }[]).filter((r) => !mine.has(r.id)).map((r) => r.name),
  );
  const update = db.prepare('UPDATE albums SET name = ?, name_reason = ? WHERE id = ?');
  const reasonOf = db.prepare('SELECT name_reason FROM albums WHERE id = ?').pluck();
  const named = albums.map((a) => ({ album: a, naming: nameAlbum(inputs.get(a.id)!, library) }));
  // Descriptive names first (largest albums keep the plain name), then placeholders keep their number when free.
  const order = [...named].sort((x, y) => inputs.get(y.album.id)!.count - inputs.get(x.album.id)!.count || x.album.id - y.album.id);
  const finalName = new Map<number, string>();
  for (const { album, naming } of order) {
    if (naming.name === null) continue;
    let name = naming.name;
    for (let k = 2; used.has(name); k++) name = `${naming.name} (${k})`;
    used.add(name);
    finalName.set(album.id, name);
  }
  for (const { album, naming } of named) {
    if (naming.name !== null) continue;
    const m = GENERIC.exec(album.name);
    let name = m && !used.has(album.name) ? album.name : '';
    for (let k = 1; name === ''; k++) if (!used.has(`Album ${k}`)) name = `Album ${k}`;
    used.add(name);
    finalName.set(album.id, name);
  }
  let changed = 0;
  for (const { album, naming } of named) {
    const name = finalName.get(album.id)!;
    if (name !== album.name || reasonOf.get(album.id) !== naming.reason) {
      update.run(name, naming.reason, album.id);
      if (name !== album.name) changed++;
    }
  }
  return changed;
}
