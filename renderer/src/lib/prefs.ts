/** Small UI preferences kept in localStorage (per origin); failures fall back to defaults. */

export function loadPref<T>(key: string, fallback: T, valid: (value: unknown) => value is T): T {
  try {
    const raw = localStorage.getItem(`shoebox.${key}`);
    if (raw === null) return fallback;
    const value: unknown = JSON.parse(raw);
    return valid(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

export function savePref(key: string, value: unknown): void {
  try {
    localStorage.setItem(`shoebox.${key}`, JSON.stringify(value));
  } catch {
    // Storage full or disabled: preferences are a convenience only.
  }
}

export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
