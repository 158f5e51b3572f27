/**
 * Keyboard shortcuts, resolved from a plain description of the key event so the mapping is testable.
 * "Mod" is Cmd on macOS and Ctrl elsewhere.
 */
import type { GridMove } from './virtual-grid.js';

export interface KeyInput {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

export type GlobalAction = 'undo' | 'redo';
export type GridAction = 'selectAll' | 'clearSelection' | 'move' | 'open' | 'toggle';

export function isMacPlatform(platform: string): boolean {
  return /mac|iphone|ipad/i.test(platform);
}

function mod(e: KeyInput, mac: boolean): boolean {
  return mac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
}

/** Undo/redo anywhere except inside text fields (the caller checks that; text fields keep their own undo). */
export function globalAction(e: KeyInput, mac: boolean): GlobalAction | null {
  if (e.altKey || !mod(e, mac)) return null;
  const key = e.key.toLowerCase();
  if (key === 'z') return e.shiftKey ? 'redo' : 'undo';
  if (key === 'y' && !mac && !e.shiftKey) return 'redo';
  return null;
}

export function gridAction(e: KeyInput, mac: boolean): GridAction | null {
  if (e.altKey) return null;
  const key = e.key.toLowerCase();
  if (mod(e, mac) && !e.shiftKey && key === 'a') return 'selectAll';
  if (e.ctrlKey || e.metaKey) return null;
  if (key === 'escape') return 'clearSelection';
  if (key === 'm' && !e.shiftKey) return 'move';
  if (key === 'enter') return 'open';
  if (key === ' ') return 'toggle';
  return null;
}

export function shortcutLabel(action: GlobalAction, mac: boolean): string {
  if (mac) return action === 'undo' ? '⌘Z' : '⇧⌘Z';
  return action === 'undo' ? 'Ctrl+Z' : 'Ctrl+Shift+Z';
}

const GRID_MOVES: Record<string, GridMove> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down',
  PageUp: 'pageUp',
  PageDown: 'pageDown',
  Home: 'home',
  End: 'end',
};

/** Cursor movement in the photo grid for a navigation key, or null. */
export function gridMove(key: string): GridMove | null {
  return GRID_MOVES[key] ?? null;
}

/**
 * Roving focus in a vertical list (the "Move to…" album list): the index the focus goes to for `key` from `current`
 * (-1: nothing in the list has focus) among `count` items, or null when the key is not a list key.
 */
export function listFocus(key: string, current: number, count: number): number | null {
  if (count === 0) return null;
  switch (key) {
    case 'ArrowDown':
      return current < 0 ? 0 : Math.min(count - 1, current + 1);
    case 'ArrowUp':
      return current < 0 ? count - 1 : Math.max(0, current - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
