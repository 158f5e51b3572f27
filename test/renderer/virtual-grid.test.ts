import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gridLayout, moveIndex, revealScrollTop, rowOffset, rowPoolSize, rowRange, rowSlots, rowTop, sectionTop, visibleWindow } from '../../renderer/src/lib/virtual-grid.js';

describe('gridLayout', () => {
  it('fits as many columns as the thumbnail size allows and stretches cells to fill the width', () => {
    const layout = gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 100 });
    assert.equal(layout.columns, 6);
    assert.equal(layout.cellSize, Math.floor((1000 - 5 * 4) / 6));
    assert.equal(layout.rowHeight, layout.cellSize + 4);
    assert.equal(layout.rows, 17);
    assert.equal(layout.height, 17 * layout.rowHeight - 4);
    assert.ok(layout.columns * layout.cellSize + (layout.columns - 1) * 4 <= 1000);
  });

  it('changes columns with the thumbnail size and never drops below one', () => {
    assert.equal(gridLayout({ width: 1000, thumbSize: 80, gap: 4, total: 1 }).columns, 11);
    assert.equal(gridLayout({ width: 1000, thumbSize: 320, gap: 4, total: 1 }).columns, 3);
    assert.equal(gridLayout({ width: 50, thumbSize: 320, gap: 4, total: 1 }).columns, 1);
    assert.equal(gridLayout({ width: 0, thumbSize: 160, gap: 4, total: 0 }).height, 0);
  });

  it('sizes a 100,000-photo album arithmetically', () => {
    const layout = gridLayout({ width: 1200, thumbSize: 160, gap: 4, total: 100_000 });
    assert.equal(layout.rows, Math.ceil(100_000 / layout.columns));
    assert.equal(rowTop(layout, 99_999), (layout.rows - 1) * layout.rowHeight);
  });
});

describe('visibleWindow', () => {
  const layout = gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 1000 });

  it('covers the viewport plus overscan rows', () => {
    const top = visibleWindow(layout, 0, 600, 2);
    assert.equal(top.firstRow, 0);
    assert.equal(top.lastRow, Math.ceil(600 / layout.rowHeight) + 2);
    assert.equal(top.firstIndex, 0);
    assert.equal(top.lastIndex, top.lastRow * layout.columns);

    const middle = visibleWindow(layout, 50 * layout.rowHeight + 10, 600, 2);
    assert.equal(middle.firstRow, 48);
    assert.equal(middle.firstIndex, 48 * layout.columns);
  });

  it('stops at the last photo', () => {
    const end = visibleWindow(layout, layout.height, 600, 2);
    assert.equal(end.lastRow, layout.rows);
    assert.equal(end.lastIndex, 1000);
    assert.ok(end.firstRow < end.lastRow);
  });

  it('is empty for an empty album', () => {
    assert.deepEqual(visibleWindow(gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 0 }), 0, 600), {
      firstRow: 0,
      lastRow: 0,
      firstIndex: 0,
      lastIndex: 0,
    });
  });
});

describe('keyboard movement and reveal', () => {
  const layout = gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 20 }); // 6 columns, 4 rows (last has 2)

  it('moves by cells, rows and pages without wrapping out of the album', () => {
    assert.equal(moveIndex(layout, 0, 'left', 600), 0);
    assert.equal(moveIndex(layout, 0, 'right', 600), 1);
    assert.equal(moveIndex(layout, 7, 'up', 600), 1);
    assert.equal(moveIndex(layout, 2, 'up', 600), 2);
    assert.equal(moveIndex(layout, 7, 'down', 600), 13);
    assert.equal(moveIndex(layout, 15, 'down', 600), 19, 'onto the short last row');
    assert.equal(moveIndex(layout, 19, 'down', 600), 19);
    assert.equal(moveIndex(layout, 5, 'end', 600), 19);
    assert.equal(moveIndex(layout, 5, 'home', 600), 0);
    const rowsPerPage = Math.floor(600 / layout.rowHeight);
    assert.equal(moveIndex(layout, 0, 'pageDown', 600), Math.min(19, rowsPerPage * 6));
  });

  it('scrolls only as far as needed to reveal a position', () => {
    assert.equal(revealScrollTop(layout, 0, 0, 300), null);
    assert.equal(revealScrollTop(layout, 18, 0, 300), 3 * layout.rowHeight + layout.cellSize - 300);
    assert.equal(revealScrollTop(layout, 0, 400, 300), 0);
  });
});

describe('row recycling', () => {
  const layout = gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 10_000 });

  it('covers the window with a fixed pool of slots', () => {
    const pool = rowPoolSize(layout, 600, 2);
    for (const top of [0, 100, 5_000, 123_456, layout.height]) {
      const window = visibleWindow(layout, top, 600, 2);
      const slots = rowSlots(window.firstRow, pool, layout.rows);
      assert.equal(slots.length, pool);
      assert.ok(window.lastRow - window.firstRow <= pool, 'the pool is large enough');
      const rows = new Set(slots.filter((r) => r !== null));
      for (let r = window.firstRow; r < window.lastRow; r++) assert.ok(rows.has(r), `row ${r} at top ${top}`);
      slots.forEach((r, s) => assert.ok(r === null || (r % pool === s && r >= window.firstRow && r < layout.rows)));
    }
  });

  it('leaves slots past the end of the album empty', () => {
    assert.deepEqual(rowSlots(8, 4, 10), [8, 9, null, null]);
    assert.deepEqual(rowSlots(0, 4, 2), [0, 1, null, null]);
  });

  it('changes only as many slots as rows scrolled', () => {
    const pool = rowPoolSize(layout, 600, 2);
    const before = rowSlots(visibleWindow(layout, 50 * layout.rowHeight, 600, 2).firstRow, pool, layout.rows);
    const after = rowSlots(visibleWindow(layout, 52 * layout.rowHeight, 600, 2).firstRow, pool, layout.rows);
    const changed = before.filter((r, s) => r !== after[s]).length;
    assert.equal(changed, 2);
  });
});

describe('gridLayout with sections (the timeline)', () => {
  const layout = gridLayout({ width: 1000, thumbSize: 160, gap: 4, total: 0, sections: [3, 13, 6], headerHeight: 40 });
  it('starts each section on a new row below its header', () => {
    assert.equal(layout.columns, 6);
    assert.equal(layout.total, 22);
    assert.deepEqual(layout.sectionRow, [0, 1, 4]);
    assert.equal(layout.rows, 5);
    assert.equal(layout.height, 5 * layout.rowHeight - 4 + 3 * 40);
    assert.deepEqual(rowRange(layout, 0), [0, 3]);
    assert.deepEqual(rowRange(layout, 3), [15, 16]);
    assert.deepEqual(rowRange(layout, 4), [16, 22]);
    assert.equal(sectionTop(layout, 1), layout.rowHeight + 40);
    assert.equal(rowOffset(layout, 1), layout.rowHeight + 80);
    assert.equal(rowTop(layout, 16), 4 * layout.rowHeight + 120);
  });

  it('finds the rows on screen by their offsets, headers included', () => {
    for (let y = 0; y < layout.height; y += 37) {
      const w = visibleWindow(layout, y, 10, 0);
      assert.ok(w.firstRow === 0 || rowOffset(layout, w.firstRow) <= y, `row ${w.firstRow} starts above ${y}`);
      assert.ok(w.firstRow === layout.rows - 1 || rowOffset(layout, w.firstRow + 1) > y);
    }
  });

  it('moves up and down by column within and across sections', () => {
    assert.equal(moveIndex(layout, 2, 'down', 500), 5, 'from a short row: the same column below');
    assert.equal(moveIndex(layout, 15, 'down', 500), 16);
    assert.equal(moveIndex(layout, 21, 'up', 500), 15, 'to a shorter row: its last photo');
    assert.equal(moveIndex(layout, 1, 'up', 500), 1);
  });
});
