/** ONNX Runtime sessions for training graphs: tuned session options and fallback to the CPU provider. */

import os from 'node:os';
import { InferenceSession } from 'onnxruntime-node';
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
