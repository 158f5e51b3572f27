import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Selection } from '../../renderer/src/lib/selection.js';

const plain = { range: false, toggle: false };
const shift = { range: true, toggle: false };
const ctrl = { range: false, toggle: true };
const ctrlShift = { range: true, toggle: true };

describe('Selection', () => {
  it('selects exactly the clicked position on a plain click', () => {
    const s = Selection.empty.click(3).click(7, plain);
    assert.deepEqual(s.ranges, [[7, 8]]);
    assert.equal(s.size, 1);
    assert.equal(s.anchor, 7);
    assert.ok(s.has(7) && !s.has(3));
  });

  it('toggles single positions with Ctrl/Cmd and merges adjacent ones', () => {
    let s = Selection.empty.click(2).click(4, ctrl).click(3, ctrl);
    assert.deepEqual(s.ranges, [[2, 5]]);
    s = s.click(3, ctrl);
    assert.deepEqual(s.ranges, [
      [2, 3],
      [4, 5],
    ]);
    assert.equal(s.size, 2);
  });

  it('extends from the anchor with Shift, in either direction, replacing the previous range', () => {
    const s = Selection.empty.click(10).click(14, shift);
    assert.deepEqual(s.ranges, [[10, 15]]);
    const back = s.click(6, shift);
    assert.deepEqual(back.ranges, [[6, 11]], 'the anchor stays at 10');
    assert.equal(back.anchor, 10);
  });

  it('adds a Shift-range to a Ctrl-built selection with Ctrl+Shift', () => {
    const s = Selection.empty.click(1).click(20, ctrl).click(23, ctrlShift);
    assert.deepEqual(s.ranges, [
      [1, 2],
      [20, 24],
    ]);
    assert.deepEqual(s.click(22, ctrlShift).ranges, [
      [1, 2],
      [20, 23],
    ]);
  });

  it('treats Shift without an anchor as a plain click', () => {
    assert.deepEqual(Selection.empty.click(5, shift).ranges, [[5, 6]]);
  });

  it('selects 100,000 positions as one range', () => {
    const s = Selection.empty.selectAll(100_000);
    assert.deepEqual(s.ranges, [[0, 100_000]]);
    assert.equal(s.size, 100_000);
    assert.ok(s.has(0) && s.has(99_999) && !s.has(100_000));
    assert.equal(Selection.empty.selectAll(0).isEmpty, true);
  });

  it('answers membership by binary search over many ranges', () => {
    let s = Selection.empty.click(0);
    for (let i = 2; i < 2000; i += 2) s = s.click(i, ctrl);
    assert.equal(s.ranges.length, 1000);
    for (let i = 0; i < 2000; i++) assert.equal(s.has(i), i % 2 === 0, String(i));
  });

  it('clamps to a shrunken album', () => {
    const s = Selection.empty.click(2).click(9, shift).clamp(5);
    assert.deepEqual(s.ranges, [[2, 5]]);
    assert.equal(s.anchor, 2);
    assert.equal(Selection.empty.click(8).clamp(5).anchor, null);
  });

  it('lists indices in order and extends with the keyboard', () => {
    const s = Selection.empty.click(4).extendTo(6).click(0, ctrl);
    assert.deepEqual([...s.indices()], [0, 4, 5, 6]);
    assert.deepEqual(Selection.of([[5, 7], [1, 2], [6, 9]]).ranges, [
      [1, 2],
      [5, 9],
    ]);
  });
});
