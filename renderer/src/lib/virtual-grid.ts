/**
 * Geometry of the virtualized photo grid: fixed-size square cells, so every row has the same height and the
 * position of any photo is arithmetic. Only rows inside the viewport (plus overscan) are rendered.
 */

export interface GridInput {
  /** Inner width available for cells, px. */
  width: number;
  /** Requested thumbnail edge, px; cells stretch so columns fill the width. */
  thumbSize: number;
  gap: number;
  total: number;
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
}

export interface GridWindow {
  firstRow: number;
  /** Exclusive. */
  lastRow: number;
  firstIndex: number;
  /** Exclusive. */
  lastIndex: number;
}

export function gridLayout({ width, thumbSize, gap, total }: GridInput): GridLayout {
  const size = Math.max(1, thumbSize);
  const columns = Math.max(1, Math.floor((Math.max(0, width) + gap) / (size + gap)));
  const cellSize = Math.max(1, Math.floor((width - gap * (columns - 1)) / columns));
  const rowHeight = cellSize + gap;
  const rows = Math.ceil(Math.max(0, total) / columns);
  return { columns, cellSize, gap, rowHeight, rows, height: Math.max(0, rows * rowHeight - gap), total };
}

/** Rows intersecting [scrollTop, scrollTop + viewportHeight), widened by `overscan` rows on each side. */
export function visibleWindow(layout: GridLayout, scrollTop: number, viewportHeight: number, overscan = 2): GridWindow {
  if (layout.rows === 0) return { firstRow: 0, lastRow: 0, firstIndex: 0, lastIndex: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(layout.rows - 1, Math.floor(top / layout.rowHeight));
  const last = Math.min(layout.rows, Math.ceil((top + Math.max(0, viewportHeight)) / layout.rowHeight));
  const firstRow = Math.max(0, first - overscan);
  const lastRow = Math.min(layout.rows, Math.max(last, first + 1) + overscan);
  return {
    firstRow,
    lastRow,
    firstIndex: firstRow * layout.columns,
    lastIndex: Math.min(layout.total, lastRow * layout.columns),
  };
}

export function rowTop(layout: GridLayout, index: number): number {
  return Math.floor(index / layout.columns) * layout.rowHeight;
}

/** The scrollTop that brings `index` fully into view with minimal movement, or null when it is visible. */
export function revealScrollTop(layout: GridLayout, index: number, scrollTop: number, viewportHeight: number): number | null {
  const top = rowTop(layout, index);
  const bottom = top + layout.cellSize;
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
  const next = index + delta[move];
  if (move === 'up') return next >= 0 ? next : index;
  if (move === 'down') {
    if (next < layout.total) return next;
    // From the row above a short last row, land on its last photo; on the last row stay put.
    return Math.floor(index / layout.columns) < layout.rows - 1 ? layout.total - 1 : index;
  }
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
