/** Optimizers, EMA and schedules for graph-built train steps. */

export * from './types.js';
export * from './sgd.js';
export * from './adamw.js';
export * from './ema.js';
export * from './schedule.js';
export * from './norm.js';
