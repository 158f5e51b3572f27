/**
 * EXIF extraction via exifr: capture time with its timezone where the camera recorded one, camera, GPS, orientation.
 */
import exifr from 'exifr';

export interface PhotoExif {
  /** Capture time as epoch ms. With a known offset this is the true instant; without, the wall-clock time read as UTC. */
  takenAt: number | null;
  /** "+02:00" style offset when recorded, else null (wall-clock time, zone unknown). */
  tz: string | null;
  camera: string | null;
  lat: number | null;
  lon: number | null;
  orientation: number | null;
}

const EMPTY: PhotoExif = { takenAt: null, tz: null, camera: null, lat: null, lon: null, orientation: null };

const EXIF_DATE = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/;
const OFFSET = /^([+-])(\d{2}):?(\d{2})$/;

/** Parse an EXIF "YYYY:MM:DD HH:MM:SS" and optional "+HH:MM" offset into epoch ms. */
export function parseExifDate(value: unknown, offset: unknown): { takenAt: number | null; tz: string | null } {
  if (typeof value !== 'string') return { takenAt: null, tz: null };
  const m = EXIF_DATE.exec(value.trim());
  if (!m) return { takenAt: null, tz: null };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (y < 1800 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return { takenAt: null, tz: null };
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  let t = Date.UTC(y, mo - 1, d, h, mi, s) + Math.round(ms);
  let tz: string | null = null;
  if (typeof offset === 'string') {
    const o = OFFSET.exec(offset.trim());
    if (o) {
      const minutes = (Number(o[2]) * 60 + Number(o[3])) * (o[1] === '-' ? -1 : 1);
      t -= minutes * 60_000;
      tz = `${o[1]}${o[2]}:${o[3]}`;
    }
  }
  return { takenAt: t, tz };
}

function clean(s: unknown): string | null {
  if (typeof s !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const v = s.replace(/\u0000/g, '').trim();
  return v.length > 0 ? v : null;
}

/** Camera label "Make Model" without the make repeated ("Canon Canon EOS 5D" -> "Canon EOS 5D"). */
export function cameraLabel(make: unknown, model: unknown): string | null {
  const mk = clean(make);
  const md = clean(model);
  if (mk && md) return md.toLowerCase().startsWith(mk.toLowerCase().split(' ')[0]) ? md : `${mk} ${md}`;
  return md ?? mk;
}

/** Read EXIF from an image buffer. Never throws: a photo without (or with broken) EXIF just has none. */
export async function readExif(buf: Buffer): Promise<PhotoExif> {
  let raw: Record<string, unknown> | undefined;
  try {
    raw = (await exifr.parse(buf, {
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      interop: false,
      xmp: false,
      icc: false,
      iptc: false,
      jfif: false,
      ihdr: false,
      reviveValues: false,
      translateValues: false,
      mergeOutput: true,
    })) as Record<string, unknown> | undefined;
  } catch {
    return { ...EMPTY };
  }
  if (!raw) return { ...EMPTY };
  const date = parseExifDate(raw.DateTimeOriginal ?? raw.CreateDate ?? raw.DateTime, raw.OffsetTimeOriginal ?? raw.OffsetTime);
  const lat = typeof raw.latitude === 'number' && Number.isFinite(raw.latitude) ? raw.latitude : null;
  const lon = typeof raw.longitude === 'number' && Number.isFinite(raw.longitude) ? raw.longitude : null;
  const orientation = typeof raw.Orientation === 'number' && raw.Orientation >= 1 && raw.Orientation <= 8 ? raw.Orientation : null;
  return {
    ...date,
    camera: cameraLabel(raw.Make, raw.Model),
    lat: lat !== null && Math.abs(lat) <= 90 ? lat : null,
    lon: lon !== null && Math.abs(lon) <= 180 ? lon : null,
    orientation,
  };
}
