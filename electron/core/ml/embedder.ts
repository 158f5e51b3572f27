/**
 * The embedding pipeline: photos -> pre-processed tensors -> batched ONNX inference -> one vector per photo.
 *
 * Decoding (sharp, on libuv's thread pool) is pipelined with inference: up to `concurrency` decodes are kept
 * queued, and before each batch runs the queue is topped up so the next batch decodes while this one infers.
 * (onnxruntime-node's `run` blocks the calling thread, so work must already be queued to overlap with it. Run the
 * embedder in a worker or utility process, never on a UI thread.)
 */
import os from 'node:os';
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { validateManifest, type EncoderManifest } from '../../../training/manifest.js';
import { EncoderIntegrityError as ModelIntegrityError, loadEncoder as loadModel, sha256Hex } from '../../../training/models.js';
import { ImageError, type ImageErrorInfo } from './errors.js';
import { createNormalizer, decodeRgb, elementsPerImage, type DecodeOptions, type Normalizer } from './preprocess.js';
import {
  createSessionWithFallback,
  type Device,
  type Fallback,
  type FallbackOptions,
  type Provider,
  type ProviderSession,
} from './providers.js';

export {
  EncoderIntegrityError as ModelIntegrityError,
  loadEncoder as loadModel,
  sha256Hex,
  type LoadedEncoder as LoadedModel,
} from '../../../training/models.js';

export interface EmbedderOptions extends Omit<FallbackOptions, 'probe'> {
  /** Which device to run on; default 'auto'. */
  device?: Device;
  /** Decoder limits and resampling kernel. */
  decode?: DecodeOptions;
  /**
   * On the CPU EP without `tuning.threads`: measure the model with one intra-op thread and with all cores and keep
   * the setting that embeds faster next to image decoding ({@link pickCpuThreads}). Default true.
   */
  autoThreads?: boolean;
  /** More outputs of the model to return beside the manifest's embedding (e.g. training features), by name. */
  extraOutputs?: readonly { name: string; dim: number }[];
}

/** CPU milliseconds to decode a 256 px JPEG thumbnail and resize it to the model input (bench:embed, docs/results.md). */
export const DECODE_CPU_MS = 4.5;

/** One CPU-EP configuration measured at open: wall and process CPU milliseconds per image at batch 1. */
export interface ThreadTiming {
  threads: number;
  wallMs: number;
  cpuMs: number;
}

/**
 * The intra-op thread count that embeds fastest while images are decoded on the same cores: per image the
 * pipeline needs at least the inference's wall time, and at least (inference CPU + decode CPU) / cores. Small
 * models gain little from a second thread, and then a single thread leaves the other core to the decoder
 * (docs/results.md, "Speed").
 */
export function pickCpuThreads(timings: readonly ThreadTiming[], cores: number, decodeCpuMs = DECODE_CPU_MS): ThreadTiming {
  const cost = (t: ThreadTiming): number => Math.max(t.wallMs, (t.cpuMs + decodeCpuMs) / cores);
  return timings.reduce((best, t) => (cost(t) < cost(best) ? t : best));
}

/**
 * Wall and CPU milliseconds per run of `session` on a batch of one, after warm-up runs (a fresh session's first
 * runs are up to twice as slow while its memory arena grows).
 */
async function timeSession(
  session: InferenceSession,
  manifest: EncoderManifest,
  runs = 6,
  warmup = 3,
): Promise<{ wallMs: number; cpuMs: number }> {
  const { width, height, layout, name } = manifest.input;
  const shape = layout === 'NHWC' ? [1, height, width, 3] : [1, 3, height, width];
  const input = new Tensor('float32', new Float32Array(width * height * 3).fill(0.5), shape);
  for (let i = 0; i < warmup; i++) await session.run({ [name]: input });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run({ [name]: input });
  const wallMs = (performance.now() - t0) / runs;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 / runs };
}

/** See {@link Embedder.decodeConcurrency}; `cpuThreads` is null off the CPU EP or when the thread count is unknown. */
export function decodeSlots(cores: number, cpuThreads: number | null, batchSize: number): number {
  if (cpuThreads !== null && batchSize === 1) return Math.max(1, cores - cpuThreads) + 1;
  return Math.max(2 * cores, batchSize);
}

/** Result for one input, in the order results become available; `index` refers to the input list. */
export type EmbedResult = { index: number; vector: Float32Array; extras?: Float32Array[] } | { index: number; error: ImageErrorInfo };

export interface EmbedProgress {
  done: number;
  failed: number;
  total: number;
}

export interface EmbedFilesOptions {
  /** Images per inference call; default `defaultBatchSize(provider)` (or the model's fixed batch size). */
  batchSize?: number;
  /**
   * Decodes kept queued on libuv's thread pool; default {@link Embedder.decodeConcurrency}. Parallelism is also
   * capped by UV_THREADPOOL_SIZE (default 4).
   */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: EmbedProgress) => void;
}

type Decoded = { index: number; rgb: Uint8Array } | { index: number; error: ImageErrorInfo };

/**
 * Images per inference call when the caller does not say. CPU: 1, because a batch's activations fall out of the
 * caches (batch 1 was the fastest on 2 cores; docs/results.md, "Speed"). GPUs want big batches.
 */
export function defaultBatchSize(provider: Provider): number {
  return provider === 'cpu' ? 1 : 16;
}

function errorInfo(e: unknown): ImageErrorInfo {
  if (e instanceof ImageError) return e.toJSON();
  return { code: 'DECODE_FAILED', message: e instanceof Error ? e.message : String(e) };
}

function fixedBatchOf(session: InferenceSession, name: string): number | null {
  const meta = session.inputMetadata[session.inputNames.indexOf(name)];
  const n = meta?.isTensor ? meta.shape[0] : undefined;
  return typeof n === 'number' && n > 0 ? n : null;
}

/** Runs an encoder on photos or pre-processed tensors. Create with `Embedder.open` / `Embedder.fromModel`. */
export class Embedder {
  /** Elements per pre-processed image. */
  readonly imageSize: number;
  /** Fixed batch dimension of the model input, or null when dynamic. */
  readonly fixedBatch: number | null;
  private readonly normalize: Normalizer;
  private released = false;

  private constructor(
    readonly manifest: EncoderManifest,
    private readonly ps: ProviderSession,
    private readonly decodeOptions: DecodeOptions,
    /** CPU EP: the configurations measured at open (threads, wall and CPU ms per image), when auto-tuned. */
    readonly threadTimings?: readonly ThreadTiming[],
    /** CPU EP intra-op threads the caller fixed (`tuning.threads`), when not measured. */
    private readonly fixedThreads: number | null = null,
    private readonly extraOutputs: readonly { name: string; dim: number }[] = [],
  ) {
    this.imageSize = elementsPerImage(manifest);
    this.normalize = createNormalizer(manifest);
    const names = ps.session.inputNames;
    if (!names.includes(manifest.input.name)) {
      throw new ModelIntegrityError(`model has no input "${manifest.input.name}" (inputs: ${names.join(', ')})`);
    }
    for (const out of [manifest.output, ...extraOutputs]) {
      if (!ps.session.outputNames.includes(out.name)) {
        throw new ModelIntegrityError(`model has no output "${out.name}" (outputs: ${ps.session.outputNames.join(', ')})`);
      }
    }
    const meta = ps.session.inputMetadata[names.indexOf(manifest.input.name)];
    const n = meta.isTensor ? meta.shape[0] : undefined;
    this.fixedBatch = typeof n === 'number' && n > 0 ? n : null;
  }

  /** Open the encoder described by `manifestPath` (sha256-verified) on the best provider for `opts.device`. */
  static async open(manifestPath: string, opts: EmbedderOptions = {}): Promise<Embedder> {
    const { manifest, bytes } = await loadModel(manifestPath);
    return Embedder.fromModel(manifest, bytes, opts);
  }

  /** Open an encoder from bytes already in memory (checked against `manifest.sha256`). */
  static async fromModel(manifest: EncoderManifest, bytes: Uint8Array, opts: EmbedderOptions = {}): Promise<Embedder> {
    validateManifest(manifest);
    if (sha256Hex(bytes) !== manifest.sha256) {
      throw new ModelIntegrityError(`model bytes do not match the sha256 of manifest ${manifest.id}@${manifest.version}`);
    }
    const { device = 'auto', decode = {}, autoThreads = true, extraOutputs = [], ...fallback } = opts;
    const { width, height, layout, name } = manifest.input;
    const ps = await createSessionWithFallback(bytes, device, {
      ...fallback,
      probe: async (session) => {
        const meta = session.inputMetadata[session.inputNames.indexOf(name)];
        const fixed = meta?.isTensor ? meta.shape[0] : undefined;
        const n = typeof fixed === 'number' && fixed > 0 ? fixed : 1;
        const shape = layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width];
        const input = new Tensor('float32', new Float32Array(n * width * height * 3), shape);
        const out = (await session.run({ [name]: input }))[manifest.output.name];
        if (!out) throw new Error(`model produced no output "${manifest.output.name}"`);
        if (out.dims.at(-1) !== manifest.output.dim) {
          throw new Error(`output "${manifest.output.name}" has shape [${out.dims.join(',')}], manifest says dim ${manifest.output.dim}`);
        }
        if (!(out.data as Float32Array).every(Number.isFinite)) throw new Error('probe output is not finite');
      },
    });
    let chosen = ps;
    let threadTimings: ThreadTiming[] | undefined;
    const cores = os.availableParallelism();
    if (
      ps.provider === 'cpu' &&
      autoThreads &&
      fallback.tuning?.threads === undefined &&
      cores > 1 &&
      (fixedBatchOf(ps.session, name) ?? 1) === 1
    ) {
      try {
        const single = await createSessionWithFallback(bytes, 'cpu', {
          ...fallback,
          candidates: ['cpu'],
          probe: false,
          tuning: { ...fallback.tuning, threads: 1 },
        });
        threadTimings = [
          { threads: cores, ...(await timeSession(ps.session, manifest)) },
          { threads: 1, ...(await timeSession(single.session, manifest)) },
        ];
        if (pickCpuThreads(threadTimings, cores).threads === 1) {
          chosen = { ...single, fallbacks: ps.fallbacks, placement: ps.placement };
          await ps.release();
        } else {
          await single.release();
        }
      } catch {
        // keep the verified all-cores session
      }
    }
    try {
      return new Embedder(manifest, chosen, decode, threadTimings, fallback.tuning?.threads ?? null, extraOutputs);
    } catch (e) {
      await chosen.release();
      throw e;
    }
  }

  /** CPU EP: intra-op threads of the session in use (null on other providers or when not known). */
  get cpuThreads(): number | null {
    if (this.provider !== 'cpu') return null;
    if (!this.threadTimings) return this.fixedThreads;
    return pickCpuThreads(this.threadTimings, os.availableParallelism()).threads;
  }

  /**
   * Decodes `embedFiles` keeps in flight when the caller does not say. CPU EP with batches of one and a known thread
   * count: one per core the session's intra-op threads leave free, plus one so that a slow decode does not stall
   * inference. Inference runs on the JS thread, so the decodes queued before each run overlap with it; more
   * decoders than that only take CPU time from the inference (bench:embed; docs/results.md, "Speed"). Otherwise
   * (GPU providers, CPU batches): max(2 x cores, batch size), so a whole batch prefetches.
   */
  decodeConcurrency(batchSize: number): number {
    return decodeSlots(os.availableParallelism(), this.cpuThreads, batchSize);
  }

  /** The provider the session runs on. */
  get provider(): Provider {
    return this.ps.provider;
  }

  /** Providers tried before `provider`, and why each failed. */
  get fallbacks(): readonly Fallback[] {
    return this.ps.fallbacks;
  }

  /** Nodes per ORT execution provider in the verified probe run (e.g. `{ WebGpuExecutionProvider: 60 }`). */
  get placement(): Readonly<Record<string, number>> | undefined {
    return this.ps.placement;
  }

  /** The underlying ORT session (for benchmarks and diagnostics). */
  get session(): InferenceSession {
    return this.ps.session;
  }

  private assertOpen(): void {
    if (this.released) throw new Error('Embedder was released');
  }

  /**
   * Run one batch of `count` pre-processed images (`data` holds at least count * imageSize floats): the embeddings,
   * and each extra output's rows in the order of `extraOutputs`.
   */
  private async runBatch(data: Float32Array, count: number): Promise<{ vectors: Float32Array; extras: Float32Array[] }> {
    this.assertOpen();
    const { width, height, layout, name } = this.manifest.input;
    let n = count;
    let input = data.subarray(0, count * this.imageSize);
    if (this.fixedBatch !== null && count !== this.fixedBatch) {
      if (count > this.fixedBatch) throw new RangeError(`model takes batches of exactly ${this.fixedBatch}`);
      const padded = new Float32Array(this.fixedBatch * this.imageSize);
      padded.set(input);
      input = padded;
      n = this.fixedBatch;
    }
    const shape = layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width];
    const outputs = await this.ps.session.run({ [name]: new Tensor('float32', input, shape) });
    const out = outputs[this.manifest.output.name];
    const dim = this.manifest.output.dim;
    if (out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== dim) {
      throw new Error(`output "${this.manifest.output.name}" has shape [${out.dims.join(',')}], expected [${n},${dim}]`);
    }
    const vectors = (out.data as Float32Array).slice(0, count * dim);
    out.dispose();
    const extras = this.extraOutputs.map((e) => {
      const t = outputs[e.name];
      if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== e.dim) {
        throw new Error(`output "${e.name}" has shape [${t.dims.join(',')}], expected [${n},${e.dim}]`);
      }
      const rows = (t.data as Float32Array).slice(0, count * e.dim);
      t.dispose();
      return rows;
    });
    return { vectors, extras };
  }

  /**
   * Embed images that are already pre-processed (the manifest's layout and normalization), e.g. training views.
   * `batch` holds N images back to back; returns N * dim floats, run in chunks of `batchSize`.
   */
  async embedTensors(batch: Float32Array, batchSize = this.fixedBatch ?? defaultBatchSize(this.provider)): Promise<Float32Array> {
    this.assertOpen();
    if (batch.length % this.imageSize !== 0) {
      throw new RangeError(`tensor length ${batch.length} is not a multiple of one image (${this.imageSize})`);
    }
    const count = batch.length / this.imageSize;
    const dim = this.manifest.output.dim;
    const result = new Float32Array(count * dim);
    const step = Math.min(batchSize, this.fixedBatch ?? batchSize);
    for (let i = 0; i < count; i += step) {
      const k = Math.min(step, count - i);
      result.set((await this.runBatch(batch.subarray(i * this.imageSize, (i + k) * this.imageSize), k)).vectors, i * dim);
    }
    return result;
  }

  /**
   * Embed photos by path. Yields one result per input (a vector, or a typed error for a bad photo), batch by batch;
   * `index` is the position in `paths`. Aborting `signal` stops submitting work, waits for queued decodes to settle
   * and throws the abort reason.
   */
  async *embedFiles(paths: readonly string[], opts: EmbedFilesOptions = {}): AsyncGenerator<EmbedResult, void, undefined> {
    this.assertOpen();
    const total = paths.length;
    const batchSize = Math.max(1, Math.min(this.fixedBatch ?? Infinity, opts.batchSize ?? defaultBatchSize(this.provider)));
    const concurrency = Math.max(1, opts.concurrency ?? this.decodeConcurrency(batchSize));
    const { signal, onProgress } = opts;
    signal?.throwIfAborted();

    const ready: Decoded[] = [];
    let submitted = 0;
    let inFlight = 0;
    let wake: (() => void) | null = null;
    const settled = (d: Decoded): void => {
      inFlight--;
      ready.push(d);
      wake?.();
    };
    const submit = (cap: number): void => {
      while (submitted < total && inFlight < cap && !signal?.aborted) {
        const index = submitted++;
        inFlight++;
        decodeRgb(paths[index], this.manifest, this.decodeOptions).then(
          (img) => settled({ index, rgb: img.data }),
          (e: unknown) => settled({ index, error: errorInfo(e) }),
        );
      }
    };
    const nextEvent = (): Promise<void> =>
      new Promise<void>((resolve) => {
        wake = () => {
          wake = null;
          resolve();
        };
      });
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);

    const buffer = new Float32Array(batchSize * this.imageSize);
    let done = 0;
    let failed = 0;
    try {
      while (done < total) {
        submit(concurrency);
        // Gather a batch: up to batchSize decoded images, or whatever is left once nothing else is pending.
        const batch: number[] = [];
        while (batch.length < batchSize) {
          const d = ready.shift();
          if (d) {
            if ('error' in d) {
              done++;
              failed++;
              yield d;
              onProgress?.({ done, failed, total });
            } else {
              this.normalize(d.rgb, buffer, batch.length * this.imageSize);
              batch.push(d.index);
            }
            submit(concurrency);
            continue;
          }
          if (signal?.aborted || (inFlight === 0 && submitted === total)) break;
          await nextEvent();
        }
        signal?.throwIfAborted();
        if (batch.length === 0) continue;
        // `run` blocks this thread: queue the next batch's decodes first so they overlap with inference.
        submit(Math.max(concurrency, batchSize));
        const { vectors, extras } = await this.runBatch(buffer, batch.length);
        const dim = this.manifest.output.dim;
        for (let i = 0; i < batch.length; i++) {
          done++;
          const vector = vectors.slice(i * dim, (i + 1) * dim);
          yield extras.length
            ? {
                index: batch[i],
                vector,
                extras: extras.map((x, j) => x.slice(i * this.extraOutputs[j].dim, (i + 1) * this.extraOutputs[j].dim)),
              }
            : { index: batch[i], vector };
          onProgress?.({ done, failed, total });
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Stop feeding the pool and let queued decodes settle, so nothing outlives the iteration.
      submitted = total;
      while (inFlight > 0) await nextEvent();
    }
  }

  /** Free the ORT session (and its GPU resources). Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ps.release();
  }
}
