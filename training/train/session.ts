/** ONNX Runtime sessions for training graphs: tuned session options and fallback to the CPU provider. */

import os from 'node:os';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { encodeModel, type ModelIR } from '../onnx/proto.js';

export interface SessionConfig {
  /** Execution providers to try, in order (default ['cpu']). */
  executionProviders?: readonly string[];
  /** Intra-op threads for the CPU provider (default: all available cores). */
  threads?: number;
}

export interface OpenedSession {
  session: InferenceSession;
  /** The providers the session was created with (['cpu'] after a fallback). */
  providers: string[];
  /** Why the requested providers were not used, if they were not. */
  fallback?: string;
}

/** Session options used for every training graph (and the benchmark's reference MatMul). */
export function trainingSessionOptions(providers: readonly string[], threads?: number): InferenceSession.SessionOptions {
  return {
    executionProviders: [...providers],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads ?? os.availableParallelism(),
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
}

function isCpuOnly(providers: readonly string[]): boolean {
  return providers.every((p) => p === 'cpu');
}

/**
 * Create a session for `model` on the requested providers; if that fails, create it on the CPU provider and say why
 * in `fallback`. Errors on the CPU provider itself are thrown.
 */
export async function openSession(model: ModelIR | Uint8Array, cfg: SessionConfig = {}): Promise<OpenedSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const providers = cfg.executionProviders?.length ? [...cfg.executionProviders] : ['cpu'];
  try {
    const session = await InferenceSession.create(bytes, trainingSessionOptions(providers, cfg.threads));
    return { session, providers };
  } catch (err) {
    if (isCpuOnly(providers)) throw err;
    const session = await InferenceSession.create(bytes, trainingSessionOptions(['cpu'], cfg.threads));
    return { session, providers: ['cpu'], fallback: `could not create a session on ${providers.join(', ')}: ${errorMessage(err)}` };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One CPU thread count tried by {@link openFastestCpuSession}: best milliseconds per run. */
export interface ThreadTrial {
  threads: number;
  ms: number;
}

/**
 * Open `model` on the CPU provider with all cores and with one thread, time a few runs of `feeds` on each, and keep
 * the faster; one thread wins ties within 5% (it leaves the other cores to the rest of the app). The adapter's
 * train step is many small matrix products and element-wise ops: on 2 cores its 120-d version runs as fast on one
 * thread (31.6 vs 35.9 ms per step), while the 1792-d one gains from two (56.7 vs 70.6 ms). Results do not depend
 * on the thread count (tested), so the choice never changes what is learned.
 */
export async function openFastestCpuSession(
  model: ModelIR | Uint8Array,
  feeds: Record<string, Tensor>,
  cores = os.availableParallelism(),
  runs = 3,
): Promise<{ session: InferenceSession; threads: number; trials: ThreadTrial[] }> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const counts = cores > 1 ? [cores, 1] : [1];
  const trials: ThreadTrial[] = [];
  let best: { session: InferenceSession; threads: number; ms: number } | null = null;
  for (const threads of counts) {
    const session = await InferenceSession.create(bytes, trainingSessionOptions(['cpu'], threads));
    await session.run(feeds);
    let ms = Infinity;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await session.run(feeds);
      ms = Math.min(ms, performance.now() - t0);
    }
    trials.push({ threads, ms });
    const better = !best || (threads < best.threads ? ms <= best.ms * 1.05 : ms < best.ms / 1.05);
    if (better) {
      if (best) await best.session.release();
      best = { session, threads, ms };
    } else {
      await session.release();
    }
  }
  return { session: best!.session, threads: best!.threads, trials };
}
