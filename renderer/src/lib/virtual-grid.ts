/**
 * Geometry of the virtualized photo grid: fixed-size square cells, so every row has the same height and the
 * position of any photo is arithmetic. Only rows inside the viewport (plus overscan) are rendered.
 *
 * A grid may have sections (the timeline's months): each starts on a new row below a header of `headerHeight`
 * px. Row tops stay arithmetic within a section; finding a section is a binary search.
 */

export interface GridInput {
  /** Inner width available for cells, px. */
  width: number;
  /** Requested thumbnail edge, px; cells stretch so columns fill the width. */
  thumbSize: number;
  gap: number;
  total: number;
  /** Photos per section, in order (summing to total); one section without a header when absent. */
  sections?: readonly number[];
  headerHeight?: number;
}

export interface GridLayout {
  columns: number;
  /** Cell edge after stretching, px. */
  cellSize: number;
  gap: number;
  /** cellSize + gap. */
  rowHeight: number;
  rows: number;
  /** Scrollable height of all rows, px. */
  height: number;
  total: number;
  headerHeight: number;
  /** Per section: its first row, first photo index and photo count. */
  sectionRow: number[];
  sectionFirst: number[];
  sectionCount: number[];
}

export interface GridWindow {
  firstRow: number;
  /** Exclusive. */
  lastRow: number;
  firstIndex: number;
  /** Exclusive. */
  lastIndex: number;
}

export function gridLayout({ width, thumbSize, gap, total, sections, headerHeight = 0 }: GridInput): GridLayout {
  const size = Math.max(1, thumbSize);
  const columns = Math.max(1, Math.floor((Math.max(0, width) + gap) / (size + gap)));
  const cellSize = Math.max(1, Math.floor((width - gap * (columns - 1)) / columns));
  const rowHeight = cellSize + gap;
  const counts = sections && sections.length > 0 ? sections : [Math.max(0, total)];
  const head = sections && sections.length > 0 ? headerHeight : 0;
  const sectionRow: number[] = [];
  const sectionFirst: number[] = [];
  let rows = 0;
  let first = 0;
  for (const c of counts) {
    sectionRow.push(rows);
    sectionFirst.push(first);
    rows += Math.ceil(c / columns);
    first += c;
  }
  const height = Math.max(0, rows * rowHeight - gap + counts.length * head);
  return { columns, cellSize, gap, rowHeight, rows, height, total: first, headerHeight: head, sectionRow, sectionFirst, sectionCount: [...counts] };
}

/** Largest i with a[i] <= x (a ascending, a[0] <= x). */
function floorSearch(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The section a row belongs to. */
export function sectionOfRow(layout: GridLayout, row: number): number {
  return floorSearch(layout.sectionRow, row);
}

/** Top of a row, px. */
export function rowOffset(layout: GridLayout, row: number): number {
  return row * layout.rowHeight + (sectionOfRow(layout, row) + 1) * layout.headerHeight;
}

/** Top of a section's header, px. */
export function sectionTop(layout: GridLayout, section: number): number {
  return layout.sectionRow[section] * layout.rowHeight + section * layout.headerHeight;
}

/** The row holding a photo. */
export function rowOfIndex(layout: GridLayout, index: number): number {
  const s = floorSearch(layout.sectionFirst, index);
  return layout.sectionRow[s] + Math.floor((index - layout.sectionFirst[s]) / layout.columns);
}

/** The photo indices [first, last) of a row. */
export function rowRange(layout: GridLayout, row: number): [number, number] {
  const s = sectionOfRow(layout, row);
  const first = layout.sectionFirst[s] + (row - layout.sectionRow[s]) * layout.columns;
  return [first, Math.min(layout.sectionFirst[s] + layout.sectionCount[s], first + layout.columns)];
}

/** The row at a y position (px from the top of the grid). */
function rowAt(layout: GridLayout, y: number): number {
  let lo = 0;
  let hi = layout.rows - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rowOffset(layout, mid) <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Rows intersecting [scrollTop, scrollTop + viewportHeight), widened by `overscan` rows on each side. */
export function visibleWindow(layout: GridLayout, scrollTop: number, viewportHeight: number, overscan = 2): GridWindow {
  if (layout.rows === 0) return { firstRow: 0, lastRow: 0, firstIndex: 0, lastIndex: 0 };
  const top = Math.max(0, scrollTop);
  const first = rowAt(layout, top);
  const last = Math.min(layout.rows, rowAt(layout, top + Math.max(0, viewportHeight) - 1) + 1);
  const firstRow = Math.max(0, first - overscan);
  const lastRow = Math.min(layout.rows, Math.max(last, first + 1) + overscan);
  return { firstRow, lastRow, firstIndex: rowRange(layout, firstRow)[0], lastIndex: rowRange(layout, lastRow - 1)[1] };
}

export function rowTop(layout: GridLayout, index: number): number {
  return rowOffset(layout, rowOfIndex(layout, index));
}

/** The scrollTop that brings `index` fully into view with minimal movement, or null when it is visible. */
export function revealScrollTop(layout: GridLayout, index: number, scrollTop: number, viewportHeight: number): number | null {
  const row = rowOfIndex(layout, index);
  const top = rowOffset(layout, row) - (layout.sectionRow.includes(row) ? layout.headerHeight : 0);
  const bottom = rowOffset(layout, row) + layout.cellSize;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return null;
}

export type GridMove = 'left' | 'right' | 'up' | 'down' | 'pageUp' | 'pageDown' | 'home' | 'end';

/** The position keyboard navigation moves to from `index`. */
export function moveIndex(layout: GridLayout, index: number, move: GridMove, viewportHeight: number): number {
  if (layout.total === 0) return 0;
  const pageRows = Math.max(1, Math.floor(viewportHeight / layout.rowHeight));
  const delta: Record<GridMove, number> = {
    left: -1,
    right: 1,
    up: -layout.columns,
    down: layout.columns,
    pageUp: -layout.columns * pageRows,
    pageDown: layout.columns * pageRows,
    home: -Infinity,
    end: Infinity,
  };
  if (move === 'up' || move === 'down') {
    // The same column of the row above or below (a shorter row: its last photo); at the edge stay put.
    const row = rowOfIndex(layout, index);
    const target = row + (move === 'up' ? -1 : 1);
    if (target < 0 || target >= layout.rows) return index;
    const [first, last] = rowRange(layout, target);
    return Math.min(last - 1, first + (index - rowRange(layout, row)[0]));
  }
  const next = index + delta[move];
  return Math.min(layout.total - 1, Math.max(0, next));
}

/**
 * Most rows a window can span for this viewport: the rows the viewport can straddle plus overscan on both sides.
 */
export function rowPoolSize(layout: GridLayout, viewportHeight: number, overscan = 2): number {
  return Math.ceil(Math.max(0, viewportHeight) / layout.rowHeight) + 1 + 2 * overscan;
}

/**
 * DOM recycling: a fixed pool of row slots showing rows [firstRow, firstRow + pool), where slot `s` always holds
 * the row r ≡ s (mod pool). Scrolling by k rows changes exactly k slots and no slot ever moves in the DOM. Slots
 * past the last row of the album are null (rendered empty).
 */
export function rowSlots(firstRow: number, pool: number, rows: number): (number | null)[] {
  const slots: (number | null)[] = [];
  for (let s = 0; s < pool; s++) {
    let row = firstRow - (firstRow % pool) + s;
    if (row < firstRow) row += pool;
    slots.push(row < rows ? row : null);
  }
  return slots;
}
