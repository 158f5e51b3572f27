/**
 * bench:search — the header search at library sizes: a synthetic library of 100,000 photos over ten years, with
 * places (60% of photos), cameras and objects (30%), and the time of `search` for the kinds of query people type.
 * "cold" is the first call after a write (the views' cached orders are gone), "warm" the median of the next five.
 * The UI searches as the person types (debounced), so a query should answer well within a frame budget of 100 ms.
 *
 *   node dist/bench/search.js [--photos 100000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../training/numeric/rng.js';
import { argValue, writeResult } from './common.js';
import { openSyntheticLibrary } from './fixtures/synthetic-library.js';

const photos = Number(argValue('--photos', '100000'));
const QUERIES = ['lisbon', 'portugal', '2023', 'June 2024', 'canon', 'IMG_0123', 'dogs', 'Album 3', 'zzzz'];
const CITIES: [string, string][] = [
  ['Lisbon', 'Portugal'],
  ['Porto', 'Portugal'],
  ['Paris', 'France'],
  ['Berlin', 'Germany'],
  ['Madrid', 'Spain'],
  ['Rome', 'Italy'],
  ['London', 'United Kingdom'],
  ['New York City', 'United States'],
];
const CAMERAS = ['Canon EOS R6', 'iPhone 13', 'Pixel 7', 'NIKON D750', 'SM-G991B'];
const OBJECTS = ['person', 'dog', 'cat', 'car', 'boat', 'pizza'];

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-search-'));
  const albums = Array.from({ length: 20 }, (_, i) => ({ name: `Album ${i + 1}`, count: Math.floor(photos / 20) }));
  const svc = await openSyntheticLibrary(path.join(dir, 'lib'), path.join(dir, 'root'), albums);
  try {
    const rng = new Rng(1);
    const ids = svc.db.prepare('SELECT id FROM photos ORDER BY id').pluck().all() as number[];
    const place = svc.db.prepare('UPDATE photos SET city = ?, country = ?, camera = ? WHERE id = ?');
    const object = svc.db.prepare('INSERT INTO photo_objects (photo_id, label, score) VALUES (?, ?, 0.5)');
    svc.db.transaction(() => {
      for (const id of ids) {
        const [city, country] = rng.next() < 0.6 ? CITIES[rng.int(CITIES.length)] : [null, null];
        place.run(city, country, CAMERAS[rng.int(CAMERAS.length)], id);
        if (rng.next() < 0.3) object.run(id, OBJECTS[rng.int(OBJECTS.length)]);
      }
    })();
    svc.db.pragma('optimize');
    const results: Record<string, { coldMs: number; warmMs: number; groups: Record<string, number> }> = {};
    for (const query of QUERIES) {
      svc.db.prepare(`INSERT OR REPLACE INTO settings (key, value) VALUES ('benchTouch', ?)`).run(query); // a write: caches stale
      const time = async (): Promise<[number, Awaited<ReturnType<typeof svc.call<'search'>>>]> => {
        const t = performance.now();
        const r = await svc.call('search', { query });
        return [performance.now() - t, r];
      };
      const [cold, r] = await time();
      if (!r.ok) throw new Error(r.error.message);
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push((await time())[0]);
      warm.sort((a, b) => a - b);
      const v = r.value;
      results[query] = {
        coldMs: Number(cold.toFixed(1)),
        warmMs: Number(warm[2].toFixed(1)),
        groups: {
          albums: v.albums.length,
          places: v.places.length,
          dates: v.dates.length,
          cameras: v.cameras.length,
          objects: v.objects.length,
          files: v.fileCount,
        },
      };
      console.log(`${query.padEnd(10)} cold ${cold.toFixed(1)} ms, warm ${warm[2].toFixed(1)} ms`, JSON.stringify(results[query].groups));
    }
    const file = writeResult('search', {
      bench: 'search',
      inputs: { photos: ids.length, placed: 0.6, withObjects: 0.3, queries: QUERIES },
      results,
    });
    console.log(file);
  } finally {
    await svc.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
