/**
 * A finished run's state on disk, for the next run's warm start: the train step's state tensors (networks and
 * optimizer moments), ProPos centroids and the MoCo queue, in the checkpoint format (atomic, sha256-checked). The
 * trainer checks every tensor's size when it starts from one.
 */

import { readCheckpoint, writeCheckpoint, type CheckpointArray } from './checkpoint.js';
import type { Method } from './step.js';
import type { TrainState } from './trainer.js';

interface StateMeta {
  format: 'shoebox-train-state';
  version: 1;
  method: Method;
  inputDim: number;
  /** The features it was trained on (e.g. the backbone's key). */
  source: string;
}

/** What a saved state was trained with; a warm start needs the same. */
export interface StateKind {
  method: Method;
  inputDim: number;
  /** The features it was trained on (e.g. the backbone's key). */
  source: string;
}

export async function saveTrainState(file: string, kind: StateKind, state: TrainState): Promise<void> {
  const tensors: Record<string, CheckpointArray> = {};
  for (const [k, v] of Object.entries(state.tensors)) tensors[`state/${k}`] = v;
  if (state.centroids) tensors.centroids = state.centroids;
  if (state.queue) tensors.queue = state.queue;
  const meta: StateMeta = { format: 'shoebox-train-state', version: 1, ...kind };
  await writeCheckpoint(file, { meta, tensors });
}

/**
 * The state saved in `file` when it was trained like `kind`; undefined when there is none, or it is of another
 * kind. A damaged file throws (the caller starts from scratch and says so).
 */
export async function loadTrainState(file: string, kind: StateKind): Promise<TrainState | undefined> {
  const saved = await readCheckpoint<StateMeta>(file);
  if (!saved) return undefined;
  const m = saved.meta;
  if (m.format !== 'shoebox-train-state' || m.version !== 1) throw new Error(`${file} is not a Shoebox training state`);
  if (m.method !== kind.method || m.inputDim !== kind.inputDim || m.source !== kind.source) return undefined;
  const tensors: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(saved.tensors)) {
    if (k.startsWith('state/') && v instanceof Float32Array) tensors[k.slice('state/'.length)] = v;
  }
  const centroids = saved.tensors.centroids;
  const queue = saved.tensors.queue;
  return {
    tensors,
    ...(centroids instanceof Float32Array ? { centroids } : {}),
    ...(queue instanceof Float32Array ? { queue } : {}),
  };
}
