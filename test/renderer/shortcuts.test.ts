import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globalAction, gridAction, gridMove, isMacPlatform, listFocus, shortcutLabel, type KeyInput } from '../../renderer/src/lib/shortcuts.js';

const key = (k: string, mods: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});

describe('undo/redo shortcuts', () => {
  it('uses Ctrl on Windows/Linux', () => {
    assert.equal(globalAction(key('z', { ctrlKey: true }), false), 'undo');
    assert.equal(globalAction(key('Z', { ctrlKey: true, shiftKey: true }), false), 'redo');
    assert.equal(globalAction(key('y', { ctrlKey: true }), false), 'redo');
    assert.equal(globalAction(key('z', { metaKey: true }), false), null);
    assert.equal(globalAction(key('z'), false), null);
  });

  it('uses Cmd on macOS, where Ctrl+Y is not redo', () => {
    assert.equal(globalAction(key('z', { metaKey: true }), true), 'undo');
    assert.equal(globalAction(key('z', { metaKey: true, shiftKey: true }), true), 'redo');
    assert.equal(globalAction(key('z', { ctrlKey: true }), true), null);
    assert.equal(globalAction(key('y', { metaKey: true }), true), null);
  });

  it('ignores Alt combinations and labels the shortcuts', () => {
    assert.equal(globalAction(key('z', { ctrlKey: true, altKey: true }), false), null);
    assert.equal(shortcutLabel('undo', false), 'Ctrl+Z');
    assert.equal(shortcutLabel('redo', true), '⇧⌘Z');
    assert.ok(isMacPlatform('MacIntel'));
    assert.ok(!isMacPlatform('Linux x86_64'));
  });
});

describe('grid shortcuts', () => {
  it('maps selection and action keys', () => {
    assert.equal(gridAction(key('a', { ctrlKey: true }), false), 'selectAll');
    assert.equal(gridAction(key('a', { metaKey: true }), true), 'selectAll');
    assert.equal(gridAction(key('a'), false), null);
    assert.equal(gridAction(key('m'), false), 'move');
    assert.equal(gridAction(key('M', { shiftKey: true }), false), null);
    assert.equal(gridAction(key('m', { ctrlKey: true }), false), null);
    assert.equal(gridAction(key('Enter'), false), 'open');
    assert.equal(gridAction(key(' '), false), 'toggle');
    assert.equal(gridAction(key('Escape'), false), 'clearSelection');
  });

  it('maps navigation keys', () => {
    assert.equal(gridMove('ArrowDown'), 'down');
    assert.equal(gridMove('PageUp'), 'pageUp');
    assert.equal(gridMove('End'), 'end');
    assert.equal(gridMove('x'), null);
  });
});

describe('listFocus', () => {
  it('moves through a list with the arrow keys, Home and End, and stops at its ends', () => {
    assert.equal(listFocus('ArrowDown', -1, 4), 0);
    assert.equal(listFocus('ArrowDown', 0, 4), 1);
    assert.equal(listFocus('ArrowDown', 3, 4), 3);
    assert.equal(listFocus('ArrowUp', 2, 4), 1);
    assert.equal(listFocus('ArrowUp', 0, 4), 0);
    assert.equal(listFocus('ArrowUp', -1, 4), 3);
    assert.equal(listFocus('Home', 2, 4), 0);
    assert.equal(listFocus('End', 0, 4), 3);
    assert.equal(listFocus('Enter', 1, 4), null);
    assert.equal(listFocus('ArrowDown', -1, 0), null);
  });
});
