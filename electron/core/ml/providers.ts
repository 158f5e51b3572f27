/**
 * Execution-provider (EP) selection for onnxruntime-node.
 *
 * The choice mirrors transformers.js: a per-OS preference order (CUDA when its libraries are installed, DirectML on
 * Windows, CoreML on macOS, then WebGPU, then CPU), intersected with what the native binding reports, overridable by
 * a `device` setting. `createSessionWithFallback` then walks the candidates: an EP that cannot create a session, fails
 * a first probe run, or silently places no compute node on itself falls back to the next one, and every fallback is
 * recorded so the UI/logs can say why.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { InferenceSession, Tensor, listSupportedBackends } from 'onnxruntime-node';

import type { Device, DeviceChoice } from '../api/contract.js';

/** A user-facing device setting (the API contract's); `auto` picks the best available provider. */
export type { Device } from '../api/contract.js';
/** A concrete execution provider. */
export type Provider = Exclude<Device, 'auto'>;

/** One backend as reported by onnxruntime-node's `listSupportedBackends()`. */
export interface BackendInfo {
  name: string;
  /** false: the EP's shared libraries are not shipped in the npm package and must be installed separately. */
  bundled: boolean;
}

/** Everything provider selection depends on; `detectEnvironment()` fills it for this process. */
export interface ProviderEnvironment {
  platform: NodeJS.Platform;
  backends: readonly BackendInfo[];
  /** Non-bundled providers whose shared libraries are present in the binding's folder (e.g. 'cuda'). */
  installed: ReadonlySet<string>;
  /**
   * Whether a hardware GPU is plausibly present. When false, a WebGPU adapter could only be a software one (Mesa
   * lavapipe, SwiftShader), which is slower than the CPU EP, so `auto` skips WebGPU (an explicit 'webgpu' still runs).
   */
  hardwareGpu: boolean;
}

/** Why a provider was not used. */
export interface Fallback {
  provider: Provider;
  error: string;
}

/** The providers to try, in order, and the ones ruled out before trying. */
export interface ProviderPlan {
  candidates: Provider[];
  skipped: Fallback[];
}

/** Preference order for `auto` on an OS, best first; always ends with 'cpu'. */
export function preferredOrder(platform: NodeJS.Platform): Provider[] {
  switch (platform) {
    case 'win32':
      return ['cuda', 'dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    default:
      return ['cuda', 'webgpu', 'cpu'];
  }
}

/** What Settings offers: automatic, the CPU, then each provider this OS can have, with why one cannot run here. */
export function deviceChoices(env: ProviderEnvironment): DeviceChoice[] {
  const providers = preferredOrder(env.platform).filter((p) => p !== 'cpu');
  return [
    { device: 'auto', available: true, reason: null },
    { device: 'cpu', available: true, reason: null },
    ...providers.map((p): DeviceChoice => {
      const reason = unavailableReason(p, env);
      return { device: p, available: reason === null, reason };
    }),
  ];
}

/** Why `provider` cannot run in `env`, or null if it can. */
export function unavailableReason(provider: Provider, env: ProviderEnvironment): string | null {
  if (provider === 'cpu') return null;
  const backend = env.backends.find((b) => b.name === provider);
  if (!backend) return `not supported by this onnxruntime-node build on ${env.platform}`;
  if (!backend.bundled && !env.installed.has(provider)) {
    return `its shared libraries are not installed next to the onnxruntime-node binding`;
  }
  return null;
}

/**
 * Pure planning step: which providers to try for `device`, in order. An explicit device is tried first and CPU
 * after it (so a settings file copied to a machine without that GPU still works); `auto` walks `preferredOrder`.
 */
export function planProviders(device: Device, env: ProviderEnvironment): ProviderPlan {
  const wanted: Provider[] = device === 'auto' ? preferredOrder(env.platform) : [device, 'cpu'];
  const candidates: Provider[] = [];
  const skipped: Fallback[] = [];
  for (const p of wanted) {
    if (candidates.includes(p)) continue;
    const reason = unavailableReason(p, env);
    if (reason !== null) {
      // In auto mode, absent providers are expected and not worth reporting; an explicit request is.
      if (device !== 'auto') skipped.push({ provider: p, error: reason });
      continue;
    }
    if (device === 'auto' && p === 'webgpu' && !env.hardwareGpu) continue;
    candidates.push(p);
  }
  return { candidates, skipped };
}

const require = createRequire(import.meta.url);

/** Folder holding onnxruntime-node's native binding (and any separately installed EP libraries) for this host. */
export function bindingDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const pkgDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkgDir, 'bin', 'napi-v6', platform, arch);
}

/** Shared libraries a non-bundled EP needs in the binding folder. */
function epLibraries(provider: string, platform: NodeJS.Platform): string[] {
  const names = [`onnxruntime_providers_${provider}`, 'onnxruntime_providers_shared'];
  if (platform === 'win32') return names.map((n) => `${n}.dll`);
  if (platform === 'darwin') return names.map((n) => `lib${n}.dylib`);
  return names.map((n) => `lib${n}.so`);
}

function hasHardwareGpu(platform: NodeJS.Platform): boolean {
  if (platform !== 'linux') return true;
  // Hardware Vulkan drivers need a DRM render node (Mesa, AMD, Intel) or the NVIDIA device node; WSL exposes /dev/dxg.
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** Inspect this process: binding-reported backends, installed EP libraries, GPU presence. */
export function detectEnvironment(): ProviderEnvironment {
  const platform = process.platform;
  const backends = listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  const dir = bindingDir(platform);
  const installed = new Set(
    backends.filter((b) => !b.bundled && epLibraries(b.name, platform).every((f) => existsSync(path.join(dir, f)))).map((b) => b.name),
  );
  return { platform, backends, installed, hardwareGpu: hasHardwareGpu(platform) };
}

/** Throughput knobs shared by every session Shoebox creates. */
export interface SessionTuning {
  /** ORT intra-op threads; default: all logical cores. Leave room for image decoding when pipelining on few cores. */
  threads?: number;
  /**
   * Let idle ORT worker threads spin-wait between ops (lower latency, but burns cores other work could use).
   * Default false: Shoebox runs inference next to image decoding.
   */
  spinning?: boolean;
  /** ORT log severity: 0 verbose .. 4 fatal; default 3 (errors). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

/** Session options for `provider`, tuned for batch throughput. */
export function sessionOptionsFor(provider: Provider, tuning: SessionTuning = {}): InferenceSession.SessionOptions {
  const threads = tuning.threads ?? os.availableParallelism();
  const ep: InferenceSession.ExecutionProviderConfig =
    provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : provider === 'dml' ? { name: 'dml', deviceId: 0 } : provider;
  return {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    // DirectML requires memory patterns off; ORT turns them off itself for WebGPU.
    enableMemPattern: provider !== 'dml',
    logSeverityLevel: tuning.logSeverityLevel ?? 3,
    extra: { session: { intra_op: { allow_spinning: tuning.spinning ? '1' : '0' } } },
  };
}

/** ORT's internal name of a provider, as it appears in profiles and logs. */
export const ORT_EP_NAMES: Record<Provider, string> = {
  cpu: 'CPUExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  dml: 'DmlExecutionProvider',
  coreml: 'CoreMLExecutionProvider',
};

/** Feeds of zeros for every input; symbolic dimensions (batch, ...) become 1. */
export function zeroFeeds(session: InferenceSession, dims: Record<string, readonly number[]> = {}): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  session.inputNames.forEach((name, i) => {
    const meta = session.inputMetadata[i];
    if (!meta.isTensor) throw new Error(`input ${name} is not a tensor`);
    const shape = dims[name] ?? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = shape.reduce((a, b) => a * b, 1);
    switch (meta.type) {
      case 'float32':
        feeds[name] = new Tensor('float32', new Float32Array(size), shape);
        break;
      case 'int64':
        feeds[name] = new Tensor('int64', new BigInt64Array(size), shape);
        break;
      case 'int32':
        feeds[name] = new Tensor('int32', new Int32Array(size), shape);
        break;
      default:
        throw new Error(`cannot build a probe input for ${name} of type ${meta.type}`);
    }
  });
  return feeds;
}

/** Runs a session once to prove it works; throws if it does not. */
export type Probe = (session: InferenceSession, provider: Provider) => Promise<void>;

/** Default probe: one run on zero inputs with batch 1; every output must be finite. */
export const zeroProbe: Probe = async (session) => {
  const out = await session.run(zeroFeeds(session));
  for (const [name, t] of Object.entries(out)) {
    const data = t.data;
    if (data instanceof Float32Array && !data.every(Number.isFinite)) throw new Error(`probe output ${name} is not finite`);
    t.dispose();
  }
};

export interface FallbackOptions {
  tuning?: SessionTuning;
  /** Extra ORT session options layered over the tuned ones (not `executionProviders`). */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders'>;
  /** First-run check; default `zeroProbe`; false: skip (then placement is not verified either). */
  probe?: Probe | false;
  /**
   * Profile the probe run and count the nodes each EP executed (default true). A non-CPU provider on which no
   * compute node was placed (ORT silently runs unsupported nodes on the CPU EP) counts as a failure.
   */
  verifyPlacement?: boolean;
  /** Override environment detection (tests). */
  env?: ProviderEnvironment;
  /** Override the candidate list (tests, benchmarks); bypasses planning. */
  candidates?: readonly string[];
}

/** A live session and how it was obtained. Call `release()` when done. */
export interface ProviderSession {
  session: InferenceSession;
  provider: Provider;
  fallbacks: Fallback[];
  /** Nodes executed per ORT EP name during the probe run, when verified. */
  placement?: Record<string, number>;
  /** Wall time of the probe run in ms (includes first-run shader compilation on GPUs). */
  probeMs?: number;
  release(): Promise<void>;
}

/** Raised when no candidate provider could run the model. */
export class NoProviderError extends Error {
  constructor(public readonly fallbacks: Fallback[]) {
    super(`no execution provider could run the model: ${fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
    this.name = 'NoProviderError';
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface ProfileEvent {
  cat?: string;
  args?: { provider?: string; op_name?: string };
}

/** Count profiled node executions per EP from an ORT profile JSON. */
export function placementFromProfile(events: readonly ProfileEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) {
    const p = e.cat === 'Node' ? e.args?.provider : undefined;
    if (p) counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts;
}

/** Ops that move or reshape data but compute nothing; a GPU EP that only got these is not really running the model. */
const NON_COMPUTE_OPS = new Set([
  'Shape',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Identity',
  'Gather',
  'Concat',
  'Cast',
  'MemcpyToHost',
  'MemcpyFromHost',
]);

/** The profile ORT wrote into `dir`, or null if there is none (verification is then skipped, not failed). */
async function readProfile(dir: string): Promise<ProfileEvent[] | null> {
  try {
    const file = (await readdir(dir)).find((f) => f.endsWith('.json'));
    return file ? (JSON.parse(await readFile(path.join(dir, file), 'utf8')) as ProfileEvent[]) : null;
  } catch {
    return null;
  }
}

/** A private temp folder for the probe's profile, or undefined if none can be made (e.g. read-only tmp). */
async function profileFolder(): Promise<string | undefined> {
  try {
    return await mkdtemp(path.join(os.tmpdir(), 'shoebox-ort-'));
  } catch {
    return undefined;
  }
}

async function tryProvider(
  model: string | Uint8Array,
  provider: Provider,
  opts: FallbackOptions,
): Promise<Omit<ProviderSession, 'fallbacks' | 'release'>> {
  const probe = opts.probe === undefined ? zeroProbe : opts.probe;
  const verify = probe !== false && (opts.verifyPlacement ?? true);
  const profileDir = verify ? await profileFolder() : undefined;
  try {
    const base = sessionOptionsFor(provider, opts.tuning);
    const options: InferenceSession.SessionOptions = {
      ...base,
      ...opts.sessionOptions,
      executionProviders: base.executionProviders,
      ...(profileDir ? { enableProfiling: true, profileFilePrefix: path.join(profileDir, 'probe') } : {}),
    };
    const session =
      typeof model === 'string' ? await InferenceSession.create(model, options) : await InferenceSession.create(model, options);
    try {
      if (probe === false) return { session, provider };
      const t0 = performance.now();
      await probe(session, provider);
      const probeMs = performance.now() - t0;
      if (!profileDir) return { session, provider, probeMs };
      // Ends profiling for the rest of the session's life; later runs are not recorded.
      session.endProfiling();
      const events = await readProfile(profileDir);
      if (!events) return { session, provider, probeMs };
      const placement = placementFromProfile(events);
      if (provider !== 'cpu') {
        const epName = ORT_EP_NAMES[provider];
        const computeOnEp = events.some(
          (e) => e.cat === 'Node' && e.args?.provider === epName && !NON_COMPUTE_OPS.has(e.args.op_name ?? ''),
        );
        if (!computeOnEp) {
          throw new Error(`no compute node was placed on ${epName} (placement: ${JSON.stringify(placement)})`);
        }
      }
      return { session, provider, placement, probeMs };
    } catch (e) {
      await session.release();
      throw e;
    }
  } finally {
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  }
}

/**
 * Create an inference session on the best provider for `device`, falling back down the candidate list when a
 * provider fails to create the session, fails the probe run, or places no compute on itself.
 * Throws `NoProviderError` (with every recorded failure) if even the last candidate fails.
 */
export async function createSessionWithFallback(
  model: string | Uint8Array,
  device: Device = 'auto',
  opts: FallbackOptions = {},
): Promise<ProviderSession> {
  const plan: ProviderPlan = opts.candidates
    ? { candidates: [...opts.candidates] as Provider[], skipped: [] }
    : planProviders(device, opts.env ?? detectEnvironment());
  const fallbacks = [...plan.skipped];
  for (const provider of plan.candidates) {
    try {
      const got = await tryProvider(model, provider, opts);
      let released = false;
      return {
        ...got,
        fallbacks,
        release: async () => {
          if (released) return;
          released = true;
          await got.session.release();
        },
      };
    } catch (e) {
      fallbacks.push({ provider, error: message(e) });
    }
  }
  throw new NoProviderError(fallbacks);
}
