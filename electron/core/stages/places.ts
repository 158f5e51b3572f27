/**
 * Places stage: every photo with GPS gets its city, region and country from the offline geocoder. Photos already
 * looked up with the same geocoder data (`place_key`) are skipped, so a re-run costs one query; new geocoder data
 * redoes them all.
 */
import type { Db } from '../db/database.js';
import type { JobContext } from '../jobs.js';
import { loadGeocoder, type Geocoder } from '../places/geocode.js';

const BATCH = 2000;

export interface PlacesResult {
  looked: number;
  placed: number;
}

export async function placesStage(db: Db, ctx: JobContext, geocoder?: Geocoder): Promise<PlacesResult> {
  // The data (about 0.1 s and 10 MB) is loaded only when some photo has GPS.
  if (db.prepare(`SELECT 1 FROM photos WHERE lat IS NOT NULL LIMIT 1`).get() === undefined) return { looked: 0, placed: 0 };
  const geo = geocoder ?? loadGeocoder();
  const where = `status = 'ok' AND lat IS NOT NULL AND lon IS NOT NULL AND (place_key IS NULL OR place_key != ?)`;
  const total = db.prepare(`SELECT COUNT(*) FROM photos WHERE ${where}`).pluck().get(geo.key) as number;
  if (total === 0) return { looked: 0, placed: 0 };
  ctx.stage('places', total, `Finding the places of ${total} photos`);
  const next = db.prepare(`SELECT id, lat, lon FROM photos WHERE ${where} LIMIT ${BATCH}`);
  const put = db.prepare('UPDATE photos SET city = ?, region = ?, country = ?, place_key = ? WHERE id = ?');
  let looked = 0;
  let placed = 0;
  for (;;) {
    const rows = next.all(geo.key) as { id: number; lat: number; lon: number }[];
    if (rows.length === 0) break;
    db.transaction(() => {
      for (const r of rows) {
        const p = geo.lookup(r.lat, r.lon);
        put.run(p?.city ?? null, p?.region ?? null, p?.country ?? null, geo.key, r.id);
        if (p) placed++;
      }
    })();
    looked += rows.length;
    ctx.progress(looked, total);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { looked, placed };
}
