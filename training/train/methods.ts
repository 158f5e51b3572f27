/**
 * What each training method adds to the trainer's loop, one small object per method: ProPos' pseudo-labels (k-means
 * on the target embeddings each cycle) and its per-step noise, labels and mask; MoCo's queue of negatives; nothing
 * for BYOL. The trainer owns everything the methods share (batches, schedules, the train step, checkpoints).
 */

import { Tensor as OrtTensor, type InferenceSession } from 'onnxruntime-node';
import { Rng } from '../numeric/rng.js';
import { assignmentModel, ortAssigner } from './assign.js';
import type { CheckpointArray } from './checkpoint.js';
import { sphericalKMeans } from './kmeans.js';
import { openSession, type OpenedSession } from './session.js';
import type { ResolvedOptions, TrainState } from './trainer.js';

/** What a method may use of the trainer. */
export interface MethodHost {
  readonly options: ResolvedOptions;
  readonly n: number;
  /** Pinned albums as fixed pseudo-label clusters (-1 = free), per photo. */
  readonly fixedClusters?: Int32Array;
  /** CPU threads for the method's own sessions (undefined: all cores). */
  readonly threads?: number;
  /** The trainer's generator: per-step draws come from it, in step order. */
  rng(): Rng;
  /** Unit-norm embeddings [N, E] of view 0 by the target network. */
  targetEmbeddings(): Promise<Float32Array>;
  /** A reusable buffer of the trainer's. */
  buffer(name: string, length: number): Float32Array;
}

export interface MethodRuntime {
  open(): Promise<void>;
  close(): Promise<void>;
  /** State of a run from scratch, or continued from an earlier run's. */
  init(warm?: TrainState): void;
  /** At the start of a cycle; returns how many pseudo-label clusters have members, when it made pseudo-labels. */
  beginCycle(cycle: number): Promise<number | undefined>;
  /** Pseudo-label of photo `i` (-1: none). */
  label(i: number): number;
  /** The train step's extra inputs for a batch whose rows' photos have `rowLabels`; `dry`: for timing, no draws. */
  feeds(rowLabels: Int32Array, afterWarmup: boolean, dry?: boolean): Record<string, OrtTensor>;
  afterStep(out: InferenceSession.ReturnType): void;
  /** What a checkpoint keeps of the method, and restoring it. */
  save(): { tensors: Record<string, CheckpointArray>; queuePtr: number };
  restore(tensors: Record<string, CheckpointArray>, queuePtr: number): void;
  /** The method's part of the final state (for a later warm start) and the last pseudo-labels. */
  final(): Pick<TrainState, 'centroids' | 'queue'>;
  pseudoLabels(): Int32Array | undefined;
}

const nothing = (): Promise<void> => Promise.resolve();

class Byol implements MethodRuntime {
  open = nothing;
  close = nothing;
  init(): void {}
  beginCycle(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }
  label(): number {
    return -1;
  }
  feeds(): Record<string, OrtTensor> {
    return {};
  }
  afterStep(): void {}
  save(): { tensors: Record<string, CheckpointArray>; queuePtr: number } {
    return { tensors: {}, queuePtr: 0 };
  }
  restore(): void {}
  final(): Pick<TrainState, 'centroids' | 'queue'> {
    return {};
  }
  pseudoLabels(): Int32Array | undefined {
    return undefined;
  }
}

/** ProPos: pseudo-labels by spherical k-means on the target embeddings each cycle after warm-up (on ORT). */
class ProPos implements MethodRuntime {
  private labels?: Int32Array;
  private centroids?: Float32Array;
  private assigner?: OpenedSession;

  constructor(private readonly host: MethodHost) {}

  async open(): Promise<void> {
    this.assigner = await openSession(assignmentModel(this.host.options.adapter.embedDim), { threads: this.host.threads });
  }

  async close(): Promise<void> {
    await this.assigner?.session.release();
    this.assigner = undefined;
  }

  init(warm?: TrainState): void {
    const o = this.host.options;
    if (warm?.centroids && warm.centroids.length === o.clusters * o.adapter.embedDim) this.centroids = Float32Array.from(warm.centroids);
  }

  async beginCycle(cycle: number): Promise<number | undefined> {
    const o = this.host.options;
    if (cycle < o.warmupCycles) return undefined;
    const e = o.adapter.embedDim;
    const n = this.host.n;
    const emb = await this.host.targetEmbeddings();
    const km = await sphericalKMeans(
      emb,
      n,
      e,
      {
        k: o.clusters,
        iterations: o.kmeansIterations,
        seed: [o.seed, cycle, 0x6b6d],
        init: this.centroids,
        fixed: this.host.fixedClusters,
      },
      this.assigner ? ortAssigner(this.assigner.session, emb, n, e) : undefined,
    );
    this.labels = km.labels;
    this.centroids = km.centroids;
    return new Set(km.labels).size;
  }

  label(i: number): number {
    return this.labels?.[i] ?? -1;
  }

  feeds(rowLabels: Int32Array, afterWarmup: boolean, dry = false): Record<string, OrtTensor> {
    const o = this.host.options;
    const rows = rowLabels.length;
    const b = rows / 2;
    const k = o.clusters;
    const e = o.adapter.embedDim;
    if (dry) {
      return {
        noise: new OrtTensor('float32', new Float32Array(rows * e), [rows, e]),
        labels: new OrtTensor('float32', new Float32Array(rows * k), [rows, k]),
        mask: new OrtTensor('float32', new Float32Array(k), [k]),
      };
    }
    const noise = this.host.buffer('noise', rows * e);
    this.host.rng().fillNormal(noise);
    const labels = this.host.buffer('labels', rows * k).fill(0);
    const seen = [new Uint8Array(k), new Uint8Array(k)];
    rowLabels.forEach((c, r) => {
      if (c < 0) return;
      labels[r * k + c] = 1;
      seen[r < b ? 0 : 1][c] = 1;
    });
    // PSL only over clusters present in both halves of the batch.
    const mask = Float32Array.from({ length: k }, (_, c) => (afterWarmup && seen[0][c] && seen[1][c] ? 1 : 0));
    return {
      noise: new OrtTensor('float32', noise, [rows, e]),
      labels: new OrtTensor('float32', labels, [rows, k]),
      mask: new OrtTensor('float32', mask, [k]),
    };
  }

  afterStep(): void {}

  save(): { tensors: Record<string, CheckpointArray>; queuePtr: number } {
    const tensors: Record<string, CheckpointArray> = {};
    if (this.labels) tensors.labels = this.labels;
    if (this.centroids) tensors.centroids = this.centroids;
    return { tensors, queuePtr: 0 };
  }

  restore(tensors: Record<string, CheckpointArray>): void {
    this.labels = tensors.labels as Int32Array | undefined;
    this.centroids = tensors.centroids as Float32Array | undefined;
  }

  final(): Pick<TrainState, 'centroids' | 'queue'> {
    return this.centroids ? { centroids: Float32Array.from(this.centroids) } : {};
  }

  pseudoLabels(): Int32Array | undefined {
    return this.labels;
  }
}

/** MoCo v2: a queue of earlier keys as negatives, fed to every step and refilled from its keys. */
class MoCo implements MethodRuntime {
  private queue!: Float32Array;
  private queuePtr = 0;

  constructor(private readonly host: MethodHost) {}

  open = nothing;
  close = nothing;

  init(warm?: TrainState): void {
    const o = this.host.options;
    const size = o.queueSize * o.adapter.embedDim;
    // Continued from an earlier run when its queue has this size; else (a new run, the library grew) random unit keys.
    if (warm?.queue && warm.queue.length === size) {
      this.queue = Float32Array.from(warm.queue);
      return;
    }
    const e = o.adapter.embedDim;
    this.queue = new Float32Array(size);
    new Rng([o.seed, 0x9e3]).fillNormal(this.queue);
    for (let r = 0; r < o.queueSize; r++) normalizeRow(this.queue.subarray(r * e, (r + 1) * e));
  }

  beginCycle(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  label(): number {
    return -1;
  }

  feeds(): Record<string, OrtTensor> {
    const o = this.host.options;
    return { queue: new OrtTensor('float32', this.queue, [o.queueSize, o.adapter.embedDim]) };
  }

  afterStep(out: InferenceSession.ReturnType): void {
    const keys = out.keys.data as Float32Array;
    const e = this.host.options.adapter.embedDim;
    const q = this.host.options.queueSize;
    const rows = keys.length / e;
    for (let r = 0; r < rows; r++) {
      this.queue.set(keys.subarray(r * e, (r + 1) * e), this.queuePtr * e);
      this.queuePtr = (this.queuePtr + 1) % q;
    }
  }

  save(): { tensors: Record<string, CheckpointArray>; queuePtr: number } {
    return { tensors: { queue: this.queue }, queuePtr: this.queuePtr };
  }

  restore(tensors: Record<string, CheckpointArray>, queuePtr: number): void {
    this.queue = tensors.queue as Float32Array;
    this.queuePtr = queuePtr;
  }

  final(): Pick<TrainState, 'centroids' | 'queue'> {
    return { queue: Float32Array.from(this.queue) };
  }

  pseudoLabels(): Int32Array | undefined {
    return undefined;
  }
}

export function methodRuntime(host: MethodHost): MethodRuntime {
  switch (host.options.method) {
    case 'propos':
      return new ProPos(host);
    case 'moco':
      return new MoCo(host);
    case 'byol':
      return new Byol();
  }
}

function normalizeRow(r: Float32Array): void {
  let s = 0;
  for (const v of r) s += v * v;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < r.length; i++) r[i] *= inv;
}
