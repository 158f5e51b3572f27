/**
 * Default album names from EXIF metadata: the members' date range ("12 June 2023", "June 2023",
 * "Jun 2023 – Aug 2023"), prefixed by their most common place ("Paris, June 2023"), or "Album N" when nothing is
 * known. Names are made unique with " (2)", " (3)", ...
 *
 * Timestamps are read in UTC: EXIF capture times are local wall-clock times without a zone, which the indexer
 * stores as if they were UTC, so UTC fields give back the wall-clock date the photographer saw. Month names are
 * English and fixed, so names do not depend on the machine's locale.
 */

export interface AlbumNameInput {
  /** Capture time of each member in ms since the epoch (wall clock stored as UTC); null/undefined when unknown. */
  takenAt: ReadonlyArray<number | null | undefined>;
  /** Place of each member (e.g. a city), when known. */
  places?: ReadonlyArray<string | null | undefined>;
}

export interface NamingOptions {
  /**
   * With at least 20 dated members, this fraction of the earliest and of the latest dates is ignored, so a few
   * stray photos (a wrong camera clock, an old scan) do not stretch the range. Default 0.05.
   */
  trim?: number;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const MONTHS_SHORT = MONTHS.map((m) => m.slice(0, 3));
/** Trimming starts at this many dated members. */
const TRIM_MIN_COUNT = 20;

/**
 * Human date range of capture times: "12 June 2023" (one day), "June 2023" (one month), "Jun 2023 – Aug 2023"
 * (longer); null when no time is known.
 */
export function dateRangeLabel(
  takenAt: ReadonlyArray<number | null | undefined>,
  opts: NamingOptions = {},
): string | null {
  const times = takenAt.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)).sort((a, b) => a - b);
  if (times.length === 0) return null;
  const cut = times.length >= TRIM_MIN_COUNT ? Math.floor(times.length * (opts.trim ?? 0.05)) : 0;
  const first = new Date(times[cut]);
  const last = new Date(times[times.length - 1 - cut]);
  const sameMonth = first.getUTCFullYear() === last.getUTCFullYear() && first.getUTCMonth() === last.getUTCMonth();
  if (sameMonth && first.getUTCDate() === last.getUTCDate()) {
    return `${first.getUTCDate()} ${MONTHS[first.getUTCMonth()]} ${first.getUTCFullYear()}`;
  }
  if (sameMonth) return `${MONTHS[first.getUTCMonth()]} ${first.getUTCFullYear()}`;
  const short = (d: Date) => `${MONTHS_SHORT[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  return `${short(first)} \u2013 ${short(last)}`;
}

/** The most frequent non-blank place (trimmed); ties go to the alphabetically first. Null when there is none. */
export function mostCommonPlace(places: ReadonlyArray<string | null | undefined>): string | null {
  const counts = new Map<string, number>();
  for (const p of places) {
    const place = p?.trim();
    if (place) counts.set(place, (counts.get(place) ?? 0) + 1);
  }
  let best: string | null = null;
  let bestCount = 0;
  for (const [place, count] of counts) {
    if (count > bestCount || (count === bestCount && best !== null && place < best)) {
      best = place;
      bestCount = count;
    }
  }
  return best;
}

/** Name of one album: "Place, dates", "Place", "dates" or `Album ${index + 1}`. */
export function albumName(input: AlbumNameInput, index: number, opts: NamingOptions = {}): string {
  const dates = dateRangeLabel(input.takenAt, opts);
  const place = input.places ? mostCommonPlace(input.places) : null;
  if (place && dates) return `${place}, ${dates}`;
  return place ?? dates ?? `Album ${index + 1}`;
}

/** Names for a list of albums (see {@link albumName}), unique within the list. */
export function nameAlbums(inputs: readonly AlbumNameInput[], opts: NamingOptions = {}): string[] {
  return uniqueNames(inputs.map((input, i) => albumName(input, i, opts)));
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
