/**
 * Automatic album names, as photo apps make them, each with the reason shown in a tooltip:
 *   1. a place and a time when the album is tight in both ("Lisbon, June 2024");
 *   2. a time span when tight in time ("Summer 2023", "3–9 June 2024");
 *   3. a place alone when tight in place ("Lisbon");
 *   4. the objects distinctive for the album against the whole library ("Dogs", "Boats and cars");
 *   5. else "Album N".
 *
 * Times are wall-clock times read as UTC (the clock the photographer saw), so UTC fields give back the local date.
 * Month names are English and fixed, so names do not depend on the machine's locale.
 */

export interface NamedPlace {
  city: string | null;
  region: string | null;
  country: string | null;
  /** Latitude, for the hemisphere of seasons. */
  lat: number | null;
}

export interface AlbumNameInput {
  /** Capture times from the photos' metadata (not file times), wall clock as UTC ms; one per dated member. */
  takenLocal: readonly number[];
  /** Places of the members that have one. */
  places: readonly NamedPlace[];
  /** Number of members. */
  count: number;
  /** Objects seen: label -> number of members showing it. */
  objects?: ReadonlyMap<string, number>;
}

/** What the whole library looks like, for "distinctive" objects. */
export interface LibraryContext {
  /** Photos the detector looked at. */
  detected: number;
  /** label -> photos showing it. */
  objects: ReadonlyMap<string, number>;
}

export interface AlbumNaming {
  /** null when nothing describes the album (the caller numbers it "Album N"). */
  name: string | null;
  reason: string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MONTHS_SHORT = MONTHS.map((m) => m.slice(0, 3));
const DAY = 86_400_000;

/** Share of dated members that must fall inside the span (the rest may be strays: a wrong clock, an old scan). */
const CORE_SHARE = 0.8;
/** At least this share of members must be dated (or placed) for a time (or place) name. */
const MIN_KNOWN = 0.5;
/** A place names the album when this share of the placed members is there. */
const PLACE_SHARE = 0.6;
/** A time span at most this long is "tight". */
const MAX_SPAN_DAYS = 100;
/** An object names the album when this share of members shows it, and this many times more than the library. */
const OBJECT_SHARE = 0.35;
const OBJECT_LIFT = 2;

interface Span {
  first: Date;
  last: Date;
  inside: number;
}

/** The shortest span holding CORE_SHARE of the times (all of them when there are few). */
function coreSpan(times: readonly number[]): Span | null {
  const t = [...times].filter(Number.isFinite).sort((a, b) => a - b);
  if (t.length === 0) return null;
  const k = t.length < 5 ? t.length : Math.ceil(t.length * CORE_SHARE);
  let best = 0;
  for (let i = 1; i + k <= t.length; i++) if (t[i + k - 1] - t[i] < t[best + k - 1] - t[best]) best = i;
  return { first: new Date(t[best]), last: new Date(t[best + k - 1]), inside: k };
}

const dayOf = (d: Date) => `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
const monthOf = (d: Date) => `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;

/** Meteorological season of a date, hemisphere-aware; winter belongs to the year it starts in. */
function season(d: Date, south: boolean): { name: string; year: string } {
  const m = d.getUTCMonth();
  const idx = m === 11 || m <= 1 ? 0 : m <= 4 ? 1 : m <= 7 ? 2 : 3;
  const names = south ? ['Summer', 'Autumn', 'Winter', 'Spring'] : ['Winter', 'Spring', 'Summer', 'Autumn'];
  const y = d.getUTCFullYear();
  const year = idx === 0 ? (m === 11 ? `${y}\u2013${String(y + 1).slice(2)}` : `${y - 1}\u2013${String(y).slice(2)}`) : String(y);
  return { name: names[idx], year };
}

/** A label and a sentence for a tight span, or null when the span is not tight. */
export function timeLabel(times: readonly number[], south = false): { label: string; phrase: string } | null {
  const span = coreSpan(times);
  if (!span) return null;
  const { first, last } = span;
  if (last.getTime() - first.getTime() > MAX_SPAN_DAYS * DAY) return null;
  const sameYear = first.getUTCFullYear() === last.getUTCFullYear();
  const sameMonth = sameYear && first.getUTCMonth() === last.getUTCMonth();
  if (sameMonth && first.getUTCDate() === last.getUTCDate()) return { label: dayOf(first), phrase: `on ${dayOf(first)}` };
  if (sameMonth) {
    const phrase = `between ${first.getUTCDate()} and ${dayOf(last)}`;
    const days = Math.round((last.getTime() - first.getTime()) / DAY);
    return { label: days <= 10 ? `${first.getUTCDate()}\u2013${dayOf(last)}` : monthOf(first), phrase };
  }
  const phrase = `between ${dayOf(first)} and ${dayOf(last)}`;
  const a = season(first, south);
  const b = season(last, south);
  if (a.name === b.name && a.year === b.year) return { label: `${a.name} ${a.year}`, phrase };
  const label = sameYear
    ? `${MONTHS_SHORT[first.getUTCMonth()]} \u2013 ${MONTHS_SHORT[last.getUTCMonth()]} ${last.getUTCFullYear()}`
    : `${MONTHS_SHORT[first.getUTCMonth()]} ${first.getUTCFullYear()} \u2013 ${MONTHS_SHORT[last.getUTCMonth()]} ${last.getUTCFullYear()}`;
  return { label, phrase };
}

/** The place most members share: a city, else a region, else a country; null when none holds PLACE_SHARE. */
export function placeLabel(places: readonly NamedPlace[]): { label: string; share: number } | null {
  if (places.length === 0) return null;
  for (const level of ['city', 'region', 'country'] as const) {
    const counts = new Map<string, number>();
    for (const p of places) {
      const v = p[level]?.trim();
      if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    let best: string | null = null;
    let n = 0;
    for (const [v, c] of counts) if (c > n || (c === n && best !== null && v < best)) [best, n] = [v, c];
    if (best !== null && n >= PLACE_SHARE * places.length) return { label: best, share: n / places.length };
  }
  return null;
}

const IRREGULAR: Record<string, string> = {
  person: 'People',
  mouse: 'Mice',
  knife: 'Knives',
  sheep: 'Sheep',
  skis: 'Skis',
  scissors: 'Scissors',
  'hair drier': 'Hair driers',
  'sports ball': 'Balls',
  'potted plant': 'Plants',
  'dining table': 'Tables',
  'cell phone': 'Phones',
  'wine glass': 'Glasses',
  broccoli: 'Broccoli',
  pizza: 'Pizza',
  cake: 'Cakes',
  couch: 'Sofas',
};

/** "dog" -> "Dogs", "bus" -> "Buses", "person" -> "People". */
export function pluralLabel(label: string): string {
  const irregular = IRREGULAR[label];
  if (irregular) return irregular;
  const w = /(s|x|z|ch|sh)$/.test(label) ? `${label}es` : /[^aeiou]y$/.test(label) ? `${label.slice(0, -1)}ies` : `${label}s`;
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Objects shown by OBJECT_SHARE of the album and OBJECT_LIFT times more often than in the library, best first. */
export function distinctiveObjects(
  objects: ReadonlyMap<string, number>,
  count: number,
  library: LibraryContext,
): { label: string; share: number; libraryShare: number }[] {
  if (count === 0 || library.detected === 0) return [];
  const out: { label: string; share: number; libraryShare: number; score: number }[] = [];
  for (const [label, n] of objects) {
    const share = n / count;
    const libraryShare = (library.objects.get(label) ?? n) / library.detected;
    if (share >= OBJECT_SHARE && share >= OBJECT_LIFT * libraryShare) out.push({ label, share, libraryShare, score: share * Math.log(share / libraryShare) });
  }
  return out.sort((a, b) => b.score - a.score || a.label.localeCompare(b.label)).map(({ label, share, libraryShare }) => ({ label, share, libraryShare }));
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** The name of one album and why (see the file comment). */
export function nameAlbum(input: AlbumNameInput, library: LibraryContext): AlbumNaming {
  const { count } = input;
  const dated = input.takenLocal.length >= MIN_KNOWN * count && input.takenLocal.length > 0;
  const placed = input.places.length >= MIN_KNOWN * count && input.places.length > 0;
  const lats = input.places.map((p) => p.lat).filter((l): l is number => l !== null);
  const south = lats.length > 0 && lats.filter((l) => l < 0).length > lats.length / 2;
  const time = dated ? timeLabel(input.takenLocal, south) : null;
  const place = placed ? placeLabel(input.places) : null;
  const ofAll = (n: number) => (n === count ? `All ${count} photos` : `${n} of ${count} photos`);
  if (place && time) {
    const n = Math.round(place.share * input.places.length);
    return { name: `${place.label}, ${time.label}`, reason: `${ofAll(n)} taken near ${place.label}, most ${time.phrase}` };
  }
  if (time) {
    const n = coreSpan(input.takenLocal)?.inside ?? input.takenLocal.length;
    return { name: time.label, reason: `${ofAll(n)} taken ${time.phrase}` };
  }
  if (place) {
    const n = Math.round(place.share * input.places.length);
    return { name: place.label, reason: `${ofAll(n)} taken near ${place.label}, over a long time` };
  }
  const distinct = input.objects ? distinctiveObjects(input.objects, count, library).slice(0, 2) : [];
  if (distinct.length > 0) {
    const name = distinct.map((d, i) => (i === 0 ? pluralLabel(d.label) : pluralLabel(d.label).toLowerCase())).join(' and ');
    const why = distinct.map((d) => `${pct(d.share)} show ${d.label === 'person' ? 'people' : `a ${d.label}`} (${pct(d.libraryShare)} of the library)`);
    return { name, reason: `Of the ${count} photos, ${why.join('; ')}` };
  }
  const reason =
    !dated && !placed
      ? 'Most photos have neither a date nor a place, and nothing in them stands out'
      : 'The photos span a long time and many places, and nothing in them stands out';
  return { name: null, reason };
}

/**
 * Makes names unique: the first occurrence keeps its name, later ones get " (2)", " (3)", ... skipping any
 * suffixed name that is already in the list.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set(names);
  const used = new Set<string>();
  return names.map((name) => {
    let result = name;
    if (used.has(name)) {
      let n = 2;
      while (taken.has(`${name} (${n})`)) n++;
      result = `${name} (${n})`;
    }
    used.add(result);
    taken.add(result);
    return result;
  });
}
