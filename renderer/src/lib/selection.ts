/**
 * Multi-selection over positions in an album (0 .. total-1), stored as sorted, disjoint, half-open ranges so that
 * "select all" in a 100,000-photo album costs one range, and Shift-ranges never enumerate indices.
 *
 * Immutable: every operation returns a new Selection, which keeps rune state updates trivial.
 */

/** Half-open [start, end). */
export type Range = readonly [start: number, end: number];

export interface ClickModifiers {
  /** Shift: extend from the anchor. */
  range: boolean;
  /** Ctrl (Cmd on macOS): toggle one, or add a range to what was selected. */
  toggle: boolean;
}

function normalize(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function subtract(ranges: readonly Range[], [cs, ce]: Range): Range[] {
  const out: Range[] = [];
  for (const [s, e] of ranges) {
    if (e <= cs || s >= ce) out.push([s, e]);
    else {
      if (s < cs) out.push([s, cs]);
      if (e > ce) out.push([ce, e]);
    }
  }
  return out;
}

export class Selection {
  static readonly empty = new Selection([], null, []);

  private constructor(
    readonly ranges: readonly Range[],
    /** Where Shift-ranges start: the last plainly clicked or toggled position. */
    readonly anchor: number | null,
    /** What was selected when the anchor was set; Ctrl+Shift ranges are added to it. */
    private readonly base: readonly Range[],
  ) {}

  static of(ranges: readonly Range[], anchor: number | null = null): Selection {
    const normal = normalize(ranges);
    return new Selection(normal, anchor, normal);
  }

  get size(): number {
    let n = 0;
    for (const [s, e] of this.ranges) n += e - s;
    return n;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  has(index: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [s, e] = this.ranges[mid];
      if (index < s) hi = mid - 1;
      else if (index >= e) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Applies a click on `index` with the given modifiers (Finder/Explorer conventions). */
  click(index: number, mods: ClickModifiers = { range: false, toggle: false }): Selection {
    if (mods.range && this.anchor !== null) {
      const span: Range = [Math.min(this.anchor, index), Math.max(this.anchor, index) + 1];
      const ranges = mods.toggle ? normalize([...this.base, span]) : [span];
      return new Selection(ranges, this.anchor, this.base);
    }
    if (mods.toggle) {
      const one: Range = [index, index + 1];
      const ranges = this.has(index) ? subtract(this.ranges, one) : normalize([...this.ranges, one]);
      return new Selection(ranges, index, ranges);
    }
    const ranges: Range[] = [[index, index + 1]];
    return new Selection(ranges, index, ranges);
  }

  /** Keyboard extension (Shift+arrow): anchor stays, the range follows the focus. */
  extendTo(index: number): Selection {
    return this.click(index, { range: this.anchor !== null, toggle: false });
  }

  selectAll(total: number): Selection {
    const ranges: Range[] = total > 0 ? [[0, total]] : [];
    return new Selection(ranges, total > 0 ? 0 : null, ranges);
  }

  /** Drops positions at or past `total` (the album shrank). */
  clamp(total: number): Selection {
    const ranges = subtract(this.ranges, [total, Number.MAX_SAFE_INTEGER]);
    const anchor = this.anchor !== null && this.anchor < total ? this.anchor : null;
    return new Selection(ranges, anchor, subtract(this.base, [total, Number.MAX_SAFE_INTEGER]));
  }

  /** All selected positions in order; callers bound this by `size` first. */
  *indices(): IterableIterator<number> {
    for (const [s, e] of this.ranges) for (let i = s; i < e; i++) yield i;
  }
}
