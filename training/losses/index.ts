/** Self-supervised losses as plain graph-builder functions. */

export * from './views.js';
export * from './byol.js';
export * from './propos.js';
export * from './moco.js';
