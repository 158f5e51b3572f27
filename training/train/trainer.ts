/**
 * Trainer: fine-tunes the embedding adapter on cached backbone features with ProPos, BYOL or MoCo v2 by running a
 * train-step ONNX graph (see step.ts) step after step. The trainer owns the data pipeline (two-view batches drawn
 * from a running permutation, neighbour/pinned positives, pseudo-labels by spherical k-means at the start of each
 * cycle, noise, MoCo queue), the schedules, progress, cancellation, checkpoints, a step budget with an optional
 * deadline, and warm starts from an earlier run's final state; the model lives in the graph.
 *
 * A cycle is one pass over the photos (floor(N / batch) steps), capped at `maxCycleSteps` so that pseudo-labels of a
 * large library are refreshed as often, in steps, as those of a small one.
 */

import { createHash } from 'node:crypto';
import os from 'node:os';
import { Tensor as OrtTensor, type InferenceSession } from 'onnxruntime-node';
import { cosineLr, emaMomentum } from '../optim/schedule.js';
import type { PslNegatives } from '../losses/propos.js';
import { readCheckpoint, writeCheckpoint, type CheckpointArray } from './checkpoint.js';
import { adapterInferenceModelWithWeightInputs, foldAdapter } from './export.js';
import {
  adapterDims,
  cloneMlp,
  DEFAULT_ADAPTER,
  initMlp,
  MLP_PARTS,
  predictorDims,
  type AdapterConfig,
  type AdapterParams,
  type MlpWeights,
} from './model.js';
import { Rng } from '../numeric/rng.js';
import { errorMessage, openFastestCpuSession, openSession, type OpenedSession } from './session.js';
import {
  BLOCK_PARTS,
  blockFeatures,
  buildTrainStep,
  type Method,
  type OptimizerConfig,
  type TrainStepConfig,
  type TrainStepModel,
} from './step.js';
import { Graph } from '../graph/graph.js';
import type { BlockConvs } from './backbone.js';
import { unrollTrainStep, type UnrolledTrainStep } from './unroll.js';
import { methodRuntime, type MethodRuntime } from './methods.js';

export type { Method } from './step.js';

/** Cached backbone features of the photos to train on. */
export interface TrainData {
  /**
   * Features per view, each [N, dim] row-major; at least 2 views (e.g. the photo and augmented crops). View 0
   * should be the un-augmented photo: final embeddings are computed from it.
   */
  views: readonly Float32Array[];
  /** Feature dimension D. */
  dim: number;
  /** Optional [N, k] nearest neighbours of each photo in frozen-feature space (-1 = none): extra positives. */
  neighbors?: Int32Array;
  /** Optional album id per photo pinned by the user (-1 = none): pinned photos of one album are positives. */
  pinned?: Int32Array;
}

export interface TrainProgress {
  /** Current cycle (0-based) of `cycles` (planned; a deadline may end training earlier). */
  cycle: number;
  cycles: number;
  /** Global step just completed (1-based) of `steps`. */
  step: number;
  steps: number;
  /** This step's loss terms and monitors (loss, psa, psl, grad_norm, embed_std, lr, ema_momentum). */
  losses: Record<string, number>;
  samplesPerSec: number;
  etaSec: number;
  providers: string[];
}

export interface CycleSummary {
  cycle: number;
  /** Steps run in this cycle (the last one may be shorter). */
  steps: number;
  /** Mean of each scalar over the cycle's steps. */
  means: Record<string, number>;
  /** Pseudo-label clusters that had members (ProPos cycles after warm-up). */
  clustersUsed?: number;
}

/** The network and optimizer state a run ends with; a later run can start from it ({@link TrainerOptions.warmStart}). */
export interface TrainState {
  /** Every state tensor of the train step (online, target, predictor, optimizer moments) by name. */
  tensors: Record<string, Float32Array>;
  /** ProPos pseudo-label centroids [K, E] (unit rows), if any. */
  centroids?: Float32Array;
  /** MoCo negatives queue [Q, E]. */
  queue?: Float32Array;
}

export interface CheckpointOptions {
  /** File to write (atomically) and to resume from. */
  path: string;
  /** Also write every this many steps (default: only at the end of each cycle and on cancel). */
  everySteps?: number;
  /** Resume from `path` if it exists (default true). A checkpoint of other data/options is an error. */
  resume?: boolean;
}

/** Options with defaults; see {@link resolveOptions} for how defaults depend on the data and method. */
export interface TrainerOptions {
  /** Training objective (default 'propos'). */
  method?: Method;
  /** Train steps in all (default: `epochs` passes over the photos). */
  steps?: number;
  /** Passes over all photos when `steps` is not given (default 40). */
  epochs?: number;
  /** Photos per step (default 256; capped at N). */
  batchSize?: number;
  /** Most steps between two pseudo-label refreshes (default 250): a cycle is min(this, floor(N / batch)) steps. */
  maxCycleSteps?: number;
  /**
   * Wall-clock deadline (ms since the epoch, as Date.now()): once the measured step time says the remaining steps
   * would run past it, the run is shortened (the learning-rate schedule then anneals over the shorter run).
   * Not part of the checkpoint fingerprint.
   */
  deadline?: number;
  /** Start from the final state of an earlier run (same method, adapter and optimizer) instead of from scratch. */
  warmStart?: TrainState;
  seed?: number;
  /** ORT execution providers to try (default ['cpu']); falls back to CPU if they fail. */
  executionProviders?: string[];
  /** CPU intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Train steps per model run (unroll.ts), for providers where a run's fixed cost outweighs a step's arithmetic.
   * Default 1. At most a cycle, and evened out so that runs fill it (250 steps, 32 asked: 8 runs of 31). The
   * results equal one step per run; MoCo always runs one (its queue changes between steps).
   */
  stepsPerRun?: number;
  /**
   * Fine-tune the backbone's last block too (step.ts): each view is then the activations entering the block,
   * `data.dim` = C x H x W of `block.input`, and the adapter reads the features the block makes of them.
   */
  block?: TrainStepConfig['block'];
  adapter?: Partial<Omit<AdapterConfig, 'inputDim'>>;
  /** 'sgd' (default, as ProPos) or 'adamw'. */
  optimizer?: 'sgd' | 'adamw';
  /**
   * Base learning rate, cosine-annealed to 0 per step. Default SGD 2 (the adapter is scale-invariant: BatchNorm after
   * each hidden layer, normalized losses, so large rates are stable; ProPos' 0.05 was for whole ResNets over ~1000
   * epochs), AdamW 3e-3. Chosen on synthetic data; retune on real features.
   */
  lr?: number;
  /** Linear learning-rate warm-up (default 0 steps). */
  lrWarmupSteps?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** Weight decay (default SGD 5e-4, AdamW 1e-2); not applied to biases and BatchNorm parameters. */
  weightDecay?: number;
  /** Predictor learning-rate multiplier (default 10). */
  predictorLrScale?: number;
  /**
   * EMA momentum, rising on a cosine from `emaBase` to 1. Default min(0.996, 1 - 8 / totalSteps): ProPos' 0.996, but
   * low enough in short runs (small libraries) for the target to move away from its initialization (the summed
   * update weight sum(1 - m) is then at least 4).
   */
  emaBase?: number;
  /** ProPos: cycles of BYOL only at the start (lambda = sigma = 0; default max(1, round(cycles / 10)), 0 when warm-started). */
  warmupCycles?: number;
  /** ProPos: PSL weight lambda (default 0.1). */
  lambda?: number;
  /** ProPos: posterior-sampling noise sigma (default 0.001). */
  sigma?: number;
  /** PSL temperature (default 0.5) or MoCo temperature (default 0.2). */
  temperature?: number;
  /** ProPos PSL negatives (default 'target'). */
  negatives?: PslNegatives;
  /** ProPos: pseudo-label clusters K (default clamp(round(sqrt(N / 2)), 2, 256), at least the number of pinned albums). */
  clusters?: number;
  /** ProPos: k-means iterations per cycle (default 20; warm-started from the previous cycle). */
  kmeansIterations?: number;
  /** MoCo: negatives queue length (default min(4096, N rounded down to 2B, at least 2B)). */
  queueSize?: number;
  /** Probability that a photo's positive is a view of one of its neighbours (default 0.25 when given). */
  neighborProb?: number;
  /** Probability that a pinned photo's positive is another photo of its album (default 0.5). */
  pinnedProb?: number;
  /** Which network to return and embed with: the EMA 'target' (default, as ProPos) or 'online'. */
  exportNetwork?: 'target' | 'online';
  checkpoint?: CheckpointOptions;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  /** Notices such as a provider fallback or a resumed checkpoint. */
  onLog?: (message: string) => void;
}

export interface ResolvedOptions {
  method: Method;
  /** Planned train steps (a deadline may end the run earlier). */
  steps: number;
  batchSize: number;
  cycleSteps: number;
  seed: number;
  adapter: AdapterConfig;
  optimizer: OptimizerConfig;
  lr: number;
  lrWarmupSteps: number;
  predictorLrScale: number;
  emaBase: number;
  warmupCycles: number;
  warm: boolean;
  lambda: number;
  sigma: number;
  temperature: number;
  negatives: PslNegatives;
  clusters: number;
  kmeansIterations: number;
  queueSize: number;
  neighborProb: number;
  pinnedProb: number;
  exportNetwork: 'target' | 'online';
}

export interface TrainResult {
  /** The exported network (see `exportNetwork`), ready for exportAdapterModel / mergeEncoder. */
  params: AdapterParams;
  online: AdapterParams;
  target: AdapterParams;
  /** Unit-norm embeddings [N, embedDim] of view 0 by `params`. */
  embeddings: Float32Array;
  /** With `block`: the exported network's block convolutions (to write back into the encoder, backbone.ts). */
  block?: BlockConvs;
  /** Last ProPos pseudo-labels (length N), if any were computed. */
  pseudoLabels?: Int32Array;
  history: CycleSummary[];
  /** Steps run (fewer than planned when the deadline ended the run). */
  steps: number;
  /** Set when the deadline shortened the run. */
  limitedBy?: 'deadline';
  options: ResolvedOptions;
  /** The final state, for a later warm start. */
  state: TrainState;
  /** Providers the train step finally ran on. */
  providers: string[];
  /** Why the requested providers were not (or no longer) used. */
  fallback?: string;
  /** CPU intra-op threads of the train step, when the trainer chose them (see openFastestCpuSession). */
  threads?: number;
}

interface CheckpointMeta {
  format: 'shoebox-train';
  version: 2;
  fingerprint: string;
  cycle: number;
  stepInCycle: number;
  globalStep: number;
  totalSteps: number;
  limitedBy?: 'deadline';
  permPos: number;
  rng: number[];
  queuePtr: number;
  history: CycleSummary[];
  hasCycleState: boolean;
  sums: Record<string, number>;
  clustersUsed?: number;
}

/** Default most steps per cycle. */
export const MAX_CYCLE_STEPS = 250;

/** The adapter's input width when it reads a block's features: the block's expanded channels plus its input's. */
function blockFeatureDim(block: NonNullable<TrainStepConfig['block']>, dim: number): number {
  const [c, h, w] = block.input;
  if (c * h * w !== dim) throw new Error(`the block takes ${c}x${h}x${w} activations per view, the data has ${dim} values`);
  return block.weights.depthwise.wShape[0] + c;
}

/** Fill in defaults that depend on the data. */
export function resolveOptions(data: TrainData, o: TrainerOptions = {}): ResolvedOptions {
  const n = validateData(data);
  const method = o.method ?? 'propos';
  const batchSize = Math.min(o.batchSize ?? 256, n);
  if (batchSize < 2) throw new Error('training needs at least 2 photos per batch');
  const stepsPerEpoch = Math.floor(n / batchSize);
  const steps = Math.max(1, Math.round(o.steps ?? (o.epochs ?? 40) * stepsPerEpoch));
  const cycleSteps = Math.max(1, Math.min(stepsPerEpoch, o.maxCycleSteps ?? MAX_CYCLE_STEPS));
  const cycles = Math.ceil(steps / cycleSteps);
  const warm = o.warmStart !== undefined;
  const optimizerKind = o.optimizer ?? 'sgd';
  const weightDecay = o.weightDecay ?? (optimizerKind === 'sgd' ? 5e-4 : 1e-2);
  const optimizer: OptimizerConfig =
    optimizerKind === 'sgd'
      ? { kind: 'sgd', momentum: o.momentum ?? 0.9, nesterov: false, weightDecay }
      : { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay };
  const albums = data.pinned ? new Set(Array.from(data.pinned).filter((a) => a >= 0)).size : 0;
  const clusters = Math.min(n, Math.max(o.clusters ?? Math.min(256, Math.max(2, Math.round(Math.sqrt(n / 2)))), albums));
  const rows = 2 * batchSize;
  return {
    method,
    steps,
    batchSize,
    cycleSteps,
    seed: o.seed ?? 0,
    adapter: { ...DEFAULT_ADAPTER, ...o.adapter, inputDim: o.block ? blockFeatureDim(o.block, data.dim) : data.dim },
    optimizer,
    lr: o.lr ?? (optimizerKind === 'sgd' ? 2 : 3e-3),
    lrWarmupSteps: o.lrWarmupSteps ?? 0,
    predictorLrScale: o.predictorLrScale ?? 10,
    emaBase: o.emaBase ?? Math.min(0.996, 1 - 8 / steps),
    warmupCycles: method === 'propos' ? (o.warmupCycles ?? (warm ? 0 : Math.max(1, Math.round(cycles / 10)))) : 0,
    warm,
    lambda: o.lambda ?? 0.1,
    sigma: o.sigma ?? 0.001,
    temperature: o.temperature ?? (method === 'moco' ? 0.2 : 0.5),
    negatives: o.negatives ?? 'target',
    clusters,
    kmeansIterations: o.kmeansIterations ?? 20,
    queueSize: o.queueSize ?? Math.min(4096, Math.max(rows, Math.floor(n / rows) * rows)),
    neighborProb: data.neighbors ? (o.neighborProb ?? 0.25) : 0,
    pinnedProb: albums > 0 ? (o.pinnedProb ?? 0.5) : 0,
    exportNetwork: o.exportNetwork ?? 'target',
  };
}

function validateData(data: TrainData): number {
  if (data.views.length < 2) throw new Error('training needs at least 2 views per photo');
  const n = data.views[0].length / data.dim;
  if (!Number.isInteger(n) || n < 2) throw new Error(`view 0 has ${data.views[0].length} values, not N x ${data.dim} with N >= 2`);
  for (const v of data.views) if (v.length !== n * data.dim) throw new Error('all views must have N x dim values');
  if (data.neighbors && data.neighbors.length % n !== 0) throw new Error('neighbors must be [N, k]');
  if (data.pinned && data.pinned.length !== n) throw new Error('pinned must have length N');
  return n;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('Training was cancelled', 'AbortError');
}

/** Runs one training job; create a new Trainer per job. */
export class Trainer {
  readonly options: ResolvedOptions;
  private readonly n: number;
  /** Steps this run will take: the planned budget, lowered when the deadline cannot be met (checkpointed). */
  private totalSteps: number;
  private limitedBy?: 'deadline';
  private readonly log: (m: string) => void;
  // Training state (all of it is checkpointed).
  private rng: Rng;
  private state = new Map<string, OrtTensor>();
  /** Second buffer per state tensor: the train step writes the next values there, then the two swap. */
  private spare = new Map<string, OrtTensor>();
  private readonly buffers = new Map<string, Float32Array>();
  private cycle = 0;
  private stepInCycle = 0;
  private globalStep = 0;
  private history: CycleSummary[] = [];
  /** Running permutation of the photos; a batch takes the next `batchSize`, and it is reshuffled when used up. */
  private perm: Int32Array;
  private permPos: number;
  /** CPU threads of the train step when the trainer chose them. */
  private threads?: number;
  /** What the method adds: ProPos' pseudo-labels, MoCo's queue (methods.ts). */
  private readonly method: MethodRuntime;
  /** Whether this cycle's pseudo-labels exist, i.e. the cycle has begun. */
  private hasCycleState = false;
  private sums: Record<string, number> = {};
  private clustersUsed?: number;
  // Derived, not checkpointed.
  private readonly albums: Map<number, number[]>;
  readonly fixedClusters?: Int32Array;
  private step?: TrainStepModel;
  private train?: OpenedSession;
  /** The step unrolled `stepsPerRun` times, on the same providers as `train`; dropped if it fails. */
  private many?: { step: UnrolledTrainStep; session: OpenedSession };
  private fallback?: string;

  constructor(
    readonly data: TrainData,
    readonly userOptions: TrainerOptions = {},
  ) {
    this.options = resolveOptions(data, userOptions);
    this.n = data.views[0].length / data.dim;
    this.totalSteps = this.options.steps;
    this.log = userOptions.onLog ?? (() => undefined);
    this.rng = new Rng(this.options.seed);
    this.perm = Int32Array.from({ length: this.n }, (_, i) => i);
    this.permPos = this.n; // the first batch shuffles
    // Pinned albums -> fixed pseudo-label clusters 0..A-1.
    this.albums = new Map();
    if (data.pinned) {
      const ids = [...new Set(Array.from(data.pinned).filter((a) => a >= 0))].sort((a, b) => a - b);
      const clusterOf = new Map(ids.map((id, i) => [id, i]));
      this.fixedClusters = Int32Array.from(data.pinned, (a) => (a >= 0 ? clusterOf.get(a)! : -1));
      data.pinned.forEach((a, i) => {
        if (a >= 0) {
          const list = this.albums.get(a) ?? [];
          list.push(i);
          this.albums.set(a, list);
        }
      });
    }
    this.method = methodRuntime({
      options: this.options,
      n: this.n,
      fixedClusters: this.fixedClusters,
      threads: userOptions.threads,
      rng: () => this.rng,
      buffer: (name, length) => this.buffer(name, length),
      targetEmbeddings: () => this.embed(this.embedder!.session, 'target'),
    });
  }

  /** The inference session of the adapter (for embeddings during a run). */
  private embedder?: OpenedSession;
  /** With a block: the features it makes of view maps, for embeddings (pseudo-labels, the result). */
  private featureSession?: OpenedSession;

  /** Train to completion (or resume a checkpoint); releases all sessions before returning or throwing. */
  async run(): Promise<TrainResult> {
    const o = this.options;
    const signal = this.userOptions.signal;
    signal?.throwIfAborted();
    try {
      this.step = buildTrainStep({
        method: o.method,
        adapter: o.adapter,
        batchSize: o.batchSize,
        clusters: o.clusters,
        temperature: o.temperature,
        negatives: o.negatives,
        queueSize: o.queueSize,
        optimizer: o.optimizer,
        predictorLrScale: o.predictorLrScale,
        bnMomentum: 0.1,
        dtype: 'float32',
        ...(this.userOptions.block ? { block: this.userOptions.block } : {}),
      });
      const resumed = await this.tryResume();
      if (!resumed) this.initState();
      await this.openTrainSession(this.userOptions.executionProviders);
      await this.openUnrolledSession();
      this.embedder = await openSession(adapterInferenceModelWithWeightInputs(o.adapter), { threads: this.userOptions.threads });
      await this.method.open();
      const started = performance.now();
      const startStep = this.globalStep;
      const cycles = (): number => Math.ceil(this.totalSteps / o.cycleSteps);
      while (this.globalStep < this.totalSteps) {
        if (!this.hasCycleState) await this.beginCycle();
        while (this.stepInCycle < o.cycleSteps && this.globalStep < this.totalSteps) {
          if (signal?.aborted) {
            await this.saveCheckpoint();
            throw abortError(signal);
          }
          // Several steps per run while they fit in the cycle and the run; single steps for the rest.
          const k = this.many?.step.steps ?? 1;
          const fits = k > 1 && this.stepInCycle + k <= o.cycleSteps && this.globalStep + k <= this.totalSteps;
          const ran = fits ? await this.trainSteps(k) : [await this.trainStep()];
          for (const scalars of ran) {
            for (const [key, v] of Object.entries(scalars)) this.sums[key] = (this.sums[key] ?? 0) + v;
            this.stepInCycle++;
            this.globalStep++;
            const elapsed = (performance.now() - started) / 1000;
            const done = this.globalStep - startStep;
            // The first steps give the step time: shorten the run now if the deadline cannot be met.
            if (done === 16) this.fitDeadline(elapsed / done);
            this.userOptions.onProgress?.({
              cycle: this.cycle,
              cycles: cycles(),
              step: this.globalStep,
              steps: this.totalSteps,
              losses: scalars,
              samplesPerSec: (done * o.batchSize) / Math.max(elapsed, 1e-9),
              etaSec: ((this.totalSteps - this.globalStep) * elapsed) / Math.max(done, 1),
              providers: this.train!.providers,
            });
            const every = this.userOptions.checkpoint?.everySteps;
            if (every && this.globalStep % every === 0 && this.stepInCycle < o.cycleSteps) await this.saveCheckpoint();
          }
        }
        const means = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / this.stepInCycle]));
        this.history.push({
          cycle: this.cycle,
          steps: this.stepInCycle,
          means,
          ...(this.clustersUsed !== undefined ? { clustersUsed: this.clustersUsed } : {}),
        });
        this.cycle++;
        this.stepInCycle = 0;
        this.hasCycleState = false;
        // Whole cycles (pseudo-labels included) give the better estimate of what is left.
        const done = this.globalStep - startStep;
        if (done > 0) this.fitDeadline((performance.now() - started) / 1000 / done);
        await this.saveCheckpoint();
      }
      return await this.finish(this.embedder.session);
    } finally {
      await this.train?.session.release();
      this.train = undefined;
      await this.many?.session.session.release();
      this.many = undefined;
      await this.embedder?.session.release();
      this.embedder = undefined;
      await this.featureSession?.session.release();
      this.featureSession = undefined;
      await this.method.close();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // State

  /** Lower `totalSteps` so that the rest of the run, at `secPerStep`, ends by the deadline (never below what ran). */
  private fitDeadline(secPerStep: number): void {
    const deadline = this.userOptions.deadline;
    if (deadline === undefined || !(secPerStep > 0)) return;
    const left = Math.max(0, Math.floor((deadline - Date.now()) / 1000 / secPerStep));
    const fit = Math.max(this.globalStep, Math.min(this.totalSteps, this.globalStep + left));
    if (fit < this.totalSteps) {
      if (!this.limitedBy) this.log(`deadline: ${this.options.steps} planned steps do not fit; running ${Math.max(fit, 1)}`);
      this.totalSteps = Math.max(fit, 1);
      this.limitedBy = 'deadline';
    }
  }

  private initState(): void {
    if (this.userOptions.warmStart) {
      this.loadWarmStart(this.userOptions.warmStart);
      return;
    }
    const a = this.options.adapter;
    const rng = new Rng([this.options.seed, 0x1417]);
    const online = initMlp(adapterDims(a), rng);
    const predictor = initMlp(predictorDims(a), rng, 'small');
    const target = cloneMlp(online);
    const nets = { online, predictor, target };
    for (const s of this.step!.state) {
      const data = s.initial
        ? Float32Array.from(s.initial)
        : s.role === 'optimizer'
          ? new Float32Array(s.shape.reduce((x, y) => x * y, 1)).fill(s.init ?? 0)
          : Float32Array.from(nets[s.role][s.part!]);
      this.state.set(s.name, new OrtTensor('float32', data, s.shape));
    }
    this.method.init();
  }

  /** Take every state tensor (and the method's: MoCo's queue, ProPos' centroids when they fit) from an earlier run. */
  private loadWarmStart(w: TrainState): void {
    for (const s of this.step!.state) {
      const data = w.tensors[s.name];
      const size = s.shape.reduce((x, y) => x * y, 1);
      if (!(data instanceof Float32Array) || data.length !== size) {
        throw new Error(`warm start: the earlier run has no ${s.name} of ${size} values (another method or adapter?)`);
      }
      this.state.set(s.name, new OrtTensor('float32', Float32Array.from(data), s.shape));
    }
    this.method.init(w);
  }

  private network(role: 'online' | 'target' | 'predictor'): MlpWeights {
    const w = {} as MlpWeights;
    for (const p of MLP_PARTS) w[p] = this.state.get(`${role}.${p}`)!.data as Float32Array;
    return w;
  }

  private adapterParams(role: 'online' | 'target'): AdapterParams {
    return { config: { ...this.options.adapter }, weights: cloneMlp(this.network(role)) };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sessions

  private async openTrainSession(providers?: readonly string[]): Promise<void> {
    const cpuOnly = !providers?.length || providers.every((p) => p === 'cpu');
    if (cpuOnly && this.userOptions.threads === undefined && os.availableParallelism() > 1) {
      const { session, threads, trials } = await openFastestCpuSession(this.step!.model, this.dryFeeds());
      this.threads = threads;
      this.log(
        `train step: ${threads} CPU thread(s) (ms per step: ${trials.map((t) => `${t.threads} thread(s) ${t.ms.toFixed(1)}`).join(', ')})`,
      );
      this.train = { session, providers: ['cpu'] };
      return;
    }
    const opened = await openSession(this.step!.model, { executionProviders: providers, threads: this.userOptions.threads });
    if (opened.fallback) {
      this.fallback = opened.fallback;
      this.log(`train step: ${opened.fallback}; using the CPU provider`);
    }
    this.train = opened;
  }

  /** One view of one photo as the step takes it: a feature vector, or the block's input maps. */
  private viewShape(): number[] {
    return this.userOptions.block ? [...this.userOptions.block.input] : [this.data.dim];
  }

  /** The unrolled step's session, when `stepsPerRun` asks for one and the method allows it; on the train step's providers. */
  private async openUnrolledSession(): Promise<void> {
    const asked = Math.min(this.userOptions.stepsPerRun ?? 1, this.options.cycleSteps);
    // Runs of equal length that fill the cycle as far as they can (the rest are single steps).
    const k = Math.floor(this.options.cycleSteps / Math.ceil(this.options.cycleSteps / Math.max(1, asked)));
    if (k <= 1 || this.step!.extras.length > 0) return;
    const step = unrollTrainStep(this.step!, k);
    const session = await openSession(step.model, {
      executionProviders: this.train!.providers,
      threads: this.threads ?? this.userOptions.threads,
    });
    this.many = { step, session };
  }

  /** The train step's feeds: current state, the stacked batch `x`, hyper-parameters, and the method's extras. */
  private feedsFor(x: Float32Array, hyper: (name: string) => number, extras: Record<string, OrtTensor>): Record<string, OrtTensor> {
    const rows = 2 * this.options.batchSize;
    const feeds: Record<string, OrtTensor> = Object.fromEntries(this.state);
    feeds.x = new OrtTensor('float32', x, [rows, ...this.viewShape()]);
    for (const h of this.step!.hyper) feeds[h] = new OrtTensor('float32', Float32Array.of(hyper(h)), []);
    return { ...feeds, ...extras };
  }

  /** Feeds of the right shapes for timing the step (current state, constant batch); touches no state or RNG. */
  private dryFeeds(): Record<string, OrtTensor> {
    const rows = 2 * this.options.batchSize;
    return this.feedsFor(
      new Float32Array(rows * this.data.dim).fill(0.01),
      (h) => (h === 'step' ? 1 : 0.5),
      this.method.feeds(new Int32Array(rows).fill(-1), false, true),
    );
  }

  /** Run the train session; if a non-CPU provider fails at run time, switch to CPU once and retry. */
  private async runTrain(feeds: Record<string, OrtTensor>, fetches: InferenceSession.FetchesType): Promise<InferenceSession.ReturnType> {
    try {
      return await this.train!.session.run(feeds, fetches);
    } catch (err) {
      if (this.train!.providers.every((p) => p === 'cpu')) throw err;
      this.fallback = `running on ${this.train!.providers.join(', ')} failed: ${errorMessage(err)}`;
      this.log(`train step: ${this.fallback}; switching to the CPU provider`);
      await this.train!.session.release();
      await this.openTrainSession(['cpu']);
      return await this.train!.session.run(feeds, fetches);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Cycles and steps

  /** A new cycle: the method's per-cycle work (ProPos: pseudo-labels after warm-up). */
  private async beginCycle(): Promise<void> {
    this.sums = {};
    this.clustersUsed = await this.method.beginCycle(this.cycle);
    this.hasCycleState = true;
  }

  /** Row of the next photo of the running permutation (reshuffled, as a new pass, when fewer than a batch are left). */
  private batchStart(): number {
    const b = this.options.batchSize;
    if (this.permPos + b > this.n) {
      this.rng.shuffle(this.perm);
      this.permPos = 0;
    }
    const start = this.permPos;
    this.permPos += b;
    return start;
  }

  /** Unit-norm embeddings [N, E] of view 0 by the given network (inference mode). */
  /** Unit-norm embeddings [N, E] of view 0 by `role`'s network (inference mode), its block included. */
  private async embed(embedder: InferenceSession, role: 'online' | 'target'): Promise<Float32Array> {
    const a = this.options.adapter;
    const f = foldAdapter({ config: a, weights: this.network(role) });
    const weights = {
      w1: new OrtTensor('float32', f.w1, [a.inputDim, a.hiddenDim]),
      b1: new OrtTensor('float32', f.b1, [a.hiddenDim]),
      w2: new OrtTensor('float32', f.w2, [a.hiddenDim, a.embedDim]),
      b2: new OrtTensor('float32', f.b2, [a.embedDim]),
    };
    const out = new Float32Array(this.n * a.embedDim);
    const chunk = 1024;
    const view0 = this.data.views[0];
    for (let start = 0; start < this.n; start += chunk) {
      const rows = Math.min(chunk, this.n - start);
      const maps = view0.subarray(start * this.data.dim, (start + rows) * this.data.dim);
      const data = this.userOptions.block ? await this.blockFeatures(maps, rows, role) : maps;
      const features = new OrtTensor('float32', data, [rows, a.inputDim]);
      const r = await embedder.run({ features, ...weights });
      out.set(r.embedding.data as Float32Array, start * a.embedDim);
    }
    return out;
  }

  /** The adapter's input for `rows` views of block input maps, by `role`'s block (one fixed-size session, padded). */
  private async blockFeatures(maps: Float32Array, rows: number, role: 'online' | 'target'): Promise<Float32Array> {
    const block = this.userOptions.block!;
    const batch = 256;
    if (!this.featureSession) {
      const g = new Graph('float32');
      const x = g.input('x', [batch, ...block.input]);
      const net = Object.fromEntries(
        BLOCK_PARTS.map((p) => [p, { w: g.input(`${p}.w`, block.weights[p].wShape), b: g.input(`${p}.b`, [block.weights[p].wShape[0]]) }]),
      ) as Parameters<typeof blockFeatures>[2];
      this.featureSession = await openSession(g.toModel({ features: blockFeatures(g, x, net, block.weights, block.unitParts) }), { threads: this.threads });
    }
    const feeds: Record<string, OrtTensor> = {};
    for (const p of BLOCK_PARTS) for (const k of ['w', 'b'] as const) feeds[`${p}.${k}`] = this.state.get(`${role}.block.${p}.${k}`)!;
    const dim = this.options.adapter.inputDim;
    const out = new Float32Array(rows * dim);
    const per = this.data.dim;
    for (let start = 0; start < rows; start += batch) {
      const n = Math.min(batch, rows - start);
      const x = new Float32Array(batch * per);
      x.set(maps.subarray(start * per, (start + n) * per));
      const r = await this.featureSession.session.run({ ...feeds, x: new OrtTensor('float32', x, [batch, ...block.input]) });
      out.set((r.features.data as Float32Array).subarray(0, n * dim), start * dim);
    }
    return out;
  }

  /** Pick the partner photo whose view serves as the positive of photo i. */
  private partner(i: number): number {
    const o = this.options;
    const pinned = this.data.pinned;
    if (o.pinnedProb > 0 && pinned && pinned[i] >= 0) {
      const members = this.albums.get(pinned[i])!;
      if (members.length > 1 && this.rng.next() < o.pinnedProb) {
        const j = members[this.rng.int(members.length - 1)];
        return j === i ? members[members.length - 1] : j;
      }
    }
    const nb = this.data.neighbors;
    if (o.neighborProb > 0 && nb && this.rng.next() < o.neighborProb) {
      const k = nb.length / this.n;
      const j = nb[i * k + this.rng.int(k)];
      if (j >= 0 && j < this.n) return j;
    }
    return i;
  }

  /**
   * The batch of step `globalStep + offset` into `x` ([2B, D]): photo i's view and its partner's, their labels; the
   * hyper-parameters; and the method's tensors (`keep`: copied out, since the method reuses its buffers).
   */
  private fillBatch(x: Float32Array, offset: number, keep: boolean): { hyper: Record<string, number>; extras: Record<string, OrtTensor> } {
    const o = this.options;
    const { dim } = this.data;
    const b = o.batchSize;
    const views = this.data.views;
    const rowLabels = new Int32Array(2 * b);
    const start = this.batchStart();
    for (let r = 0; r < b; r++) {
      const i = this.perm[start + r];
      const j = this.partner(i);
      const va = this.rng.int(views.length);
      let vb = this.rng.int(views.length - 1);
      if (vb >= va) vb++;
      x.set(views[va].subarray(i * dim, (i + 1) * dim), r * dim);
      x.set(views[vb].subarray(j * dim, (j + 1) * dim), (b + r) * dim);
      rowLabels[r] = this.method.label(i);
      rowLabels[b + r] = this.method.label(j);
    }
    const afterWarmup = this.cycle >= o.warmupCycles;
    const at = this.globalStep + offset;
    const hyper: Record<string, number> = {
      lr: cosineLr(at, this.totalSteps, o.lr, { warmupSteps: o.lrWarmupSteps }),
      ema_momentum: emaMomentum(at, this.totalSteps, o.emaBase),
      step: at + 1,
      lambda: afterWarmup ? o.lambda : 0,
      sigma: afterWarmup ? o.sigma : 0,
    };
    const extras = this.method.feeds(rowLabels, afterWarmup);
    if (keep)
      for (const [k, t] of Object.entries(extras)) extras[k] = new OrtTensor('float32', Float32Array.from(t.data as Float32Array), t.dims);
    return { hyper, extras };
  }

  /** Swap the state for the run's `.next` outputs; per-step scalars (with lr and EMA momentum), checked finite. */
  private afterRun(
    out: InferenceSession.ReturnType,
    fetches: Record<string, OrtTensor | null>,
    hypers: Record<string, number>[],
  ): Record<string, number>[] {
    const step = this.step!;
    for (const s of step.state) {
      const previous = this.state.get(s.name)!;
      this.state.set(s.name, fetches[s.output]!);
      this.spare.set(s.name, previous);
    }
    return hypers.map((hyper, i) => {
      const scalars: Record<string, number> = {};
      for (const k of step.scalars) scalars[k] = (out[k].data as Float32Array)[i];
      scalars.lr = hyper.lr;
      scalars.ema_momentum = hyper.ema_momentum;
      for (const [k, v] of Object.entries(scalars)) {
        if (!Number.isFinite(v)) throw new Error(`training diverged: ${k} = ${v} at step ${this.globalStep + i + 1}`);
      }
      return scalars;
    });
  }

  /** State outputs go straight into the spare buffers (no allocation or copy), which then become the state. */
  private stateFetches(): Record<string, OrtTensor | null> {
    const step = this.step!;
    const fetches: Record<string, OrtTensor | null> = {};
    for (const s of step.state) fetches[s.output] = this.spareFor(s.name, s.shape);
    for (const k of [...step.scalars, ...step.extras]) fetches[k] = null;
    return fetches;
  }

  private async trainStep(): Promise<Record<string, number>> {
    const x = this.buffer('x', 2 * this.options.batchSize * this.data.dim);
    const { hyper, extras } = this.fillBatch(x, 0, false);
    const feeds = this.feedsFor(x, (h) => hyper[h], extras);
    const fetches = this.stateFetches();
    const out = await this.runTrain(feeds, fetches);
    this.method.afterStep(out);
    return this.afterRun(out, fetches, [hyper])[0];
  }

  /** `k` steps in one run of the unrolled step; the same batches, RNG draws and results as `k` single steps. */
  private async trainSteps(k: number): Promise<Record<string, number>[]> {
    const step = this.step!;
    const rows = 2 * this.options.batchSize;
    const per = rows * this.data.dim;
    const x = this.buffer(`x*${k}`, k * per);
    const hypers: Record<string, number>[] = [];
    const extras: Record<string, OrtTensor>[] = [];
    for (let i = 0; i < k; i++) {
      const batch = this.fillBatch(x.subarray(i * per, (i + 1) * per), i, true);
      hypers.push(batch.hyper);
      extras.push(batch.extras);
    }
    const feeds: Record<string, OrtTensor> = Object.fromEntries(this.state);
    feeds.x = new OrtTensor('float32', x, [k, rows, ...this.viewShape()]);
    for (const h of step.hyper)
      feeds[h] = new OrtTensor(
        'float32',
        Float32Array.from(hypers, (v) => v[h]),
        [k],
      );
    for (const b of step.batch) {
      const size = b.shape.reduce((p, q) => p * q, 1);
      const stacked = new Float32Array(k * size);
      extras.forEach((e, i) => stacked.set(e[b.name].data as Float32Array, i * size));
      feeds[b.name] = new OrtTensor('float32', stacked, [k, ...b.shape]);
    }
    const fetches = this.stateFetches();
    let out: InferenceSession.ReturnType;
    try {
      out = await this.many!.session.session.run(feeds, fetches);
    } catch (err) {
      // The batches are drawn; they run as single steps on the single-step session (with its own CPU fallback).
      this.log(`train step x${k}: ${errorMessage(err)}; one step per run from now on`);
      await this.many!.session.session.release();
      this.many = undefined;
      const results: Record<string, number>[] = [];
      for (let i = 0; i < k; i++) {
        const one = this.feedsFor(x.subarray(i * per, (i + 1) * per), (h) => hypers[i][h], extras[i]);
        const f = this.stateFetches();
        results.push(...this.afterRun(await this.runTrain(one, f), f, [hypers[i]]));
      }
      return results;
    }
    return this.afterRun(out, fetches, hypers);
  }

  /** A reusable batch buffer (the previous step's run has finished with it). */
  private buffer(name: string, length: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b) {
      b = new Float32Array(length);
      this.buffers.set(name, b);
    }
    return b;
  }

  private spareFor(name: string, shape: number[]): OrtTensor {
    let t = this.spare.get(name);
    if (!t) {
      t = new OrtTensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      this.spare.set(name, t);
    }
    return t;
  }

  private async finish(embedder: InferenceSession): Promise<TrainResult> {
    const online = this.adapterParams('online');
    const target = this.adapterParams('target');
    const params = this.options.exportNetwork === 'online' ? online : target;
    const embeddings = await this.embed(embedder, this.options.exportNetwork);
    const role = this.options.exportNetwork;
    const copy = (name: string): Float32Array => Float32Array.from(this.state.get(name)!.data as Float32Array);
    const block = this.userOptions.block
      ? (Object.fromEntries(
          BLOCK_PARTS.map((p) => [p, { w: copy(`${role}.block.${p}.w`), b: copy(`${role}.block.${p}.b`) }]),
        ) as BlockConvs)
      : undefined;
    return {
      params,
      ...(block ? { block } : {}),
      online,
      target,
      embeddings,
      pseudoLabels: this.method.pseudoLabels(),
      history: this.history,
      steps: this.globalStep,
      ...(this.limitedBy ? { limitedBy: this.limitedBy } : {}),
      options: this.options,
      state: this.finalState(),
      providers: this.train!.providers,
      ...(this.threads !== undefined ? { threads: this.threads } : {}),
      fallback: this.fallback,
    };
  }

  /** Copies of the state tensors (the ORT tensors are reused), the centroids and the queue. */
  private finalState(): TrainState {
    const tensors: Record<string, Float32Array> = {};
    for (const [k, v] of this.state) tensors[k] = Float32Array.from(v.data as Float32Array);
    return { tensors, ...this.method.final() };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Checkpoints

  /** Identifies the data and every option that influences the result; a checkpoint only resumes a matching job. */
  private fingerprint(): string {
    const h = createHash('sha256');
    h.update(JSON.stringify({ options: this.options, n: this.n, views: this.data.views.length }));
    const stride = Math.max(1, Math.floor(this.n / 64));
    for (const v of this.data.views) {
      for (let i = 0; i < this.n; i += stride) h.update(new Uint8Array(v.buffer, v.byteOffset + i * this.data.dim * 4, this.data.dim * 4));
    }
    for (const a of [this.data.neighbors, this.data.pinned]) if (a) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const block = this.userOptions.block;
    if (block) {
      h.update(JSON.stringify({ block: block.input, lrScale: block.lrScale }));
      const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (const p of BLOCK_PARTS) h.update(bytes(block.weights[p].w)).update(bytes(block.weights[p].b));
    }
    const w = this.userOptions.warmStart;
    if (w)
      for (const k of Object.keys(w.tensors).sort())
        h.update(k).update(new Uint8Array(w.tensors[k].buffer, w.tensors[k].byteOffset, w.tensors[k].byteLength));
    return h.digest('hex');
  }

  private async saveCheckpoint(): Promise<void> {
    const cp = this.userOptions.checkpoint;
    if (!cp) return;
    const tensors: Record<string, CheckpointArray> = {};
    for (const [k, v] of this.state) tensors[`state/${k}`] = v.data as Float32Array;
    tensors.perm = this.perm;
    const method = this.method.save();
    Object.assign(tensors, method.tensors);
    const meta: CheckpointMeta = {
      format: 'shoebox-train',
      version: 2,
      fingerprint: this.fingerprint(),
      cycle: this.cycle,
      stepInCycle: this.stepInCycle,
      globalStep: this.globalStep,
      totalSteps: this.totalSteps,
      ...(this.limitedBy ? { limitedBy: this.limitedBy } : {}),
      permPos: this.permPos,
      rng: this.rng.state(),
      queuePtr: method.queuePtr,
      history: this.history,
      hasCycleState: this.hasCycleState,
      sums: this.sums,
      clustersUsed: this.clustersUsed,
    };
    await writeCheckpoint(cp.path, { meta, tensors });
  }

  private async tryResume(): Promise<boolean> {
    const cp = this.userOptions.checkpoint;
    if (!cp || cp.resume === false) return false;
    const saved = await readCheckpoint<CheckpointMeta>(cp.path);
    if (!saved) return false;
    const m = saved.meta;
    if (m.format !== 'shoebox-train' || m.version !== 2) throw new Error(`${cp.path} is not a Shoebox training checkpoint (v2)`);
    if (m.fingerprint !== this.fingerprint()) throw new Error(`checkpoint ${cp.path} was written for different data or options`);
    for (const s of this.step!.state) {
      const data = saved.tensors[`state/${s.name}`];
      if (!(data instanceof Float32Array) || data.length !== s.shape.reduce((x, y) => x * y, 1))
        throw new Error(`checkpoint lacks ${s.name}`);
      this.state.set(s.name, new OrtTensor('float32', data, s.shape));
    }
    this.cycle = m.cycle;
    this.stepInCycle = m.stepInCycle;
    this.globalStep = m.globalStep;
    this.totalSteps = m.totalSteps;
    this.limitedBy = m.limitedBy;
    this.permPos = m.permPos;
    this.rng = Rng.fromState(m.rng);
    this.history = m.history;
    this.hasCycleState = m.hasCycleState;
    this.sums = m.sums;
    this.clustersUsed = m.clustersUsed;
    this.perm = saved.tensors.perm as Int32Array;
    this.method.restore(saved.tensors, m.queuePtr);
    this.log(`resumed from ${cp.path} at cycle ${m.cycle}, step ${m.globalStep}`);
    return true;
  }
}
