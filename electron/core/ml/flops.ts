/**
 * FLOP count of an ONNX model for one input shape: 2 x the multiply-accumulates of its Conv, ConvTranspose, MatMul
 * and Gemm nodes (everything else is noise for CNN encoders).
 *
 * Shapes come from the graph as ORT actually executes it: one CPU run with graph optimizations disabled (so nodes
 * are the model's own, not fused or re-laid-out) and profiling on, whose per-node records carry input and output
 * shapes. That avoids re-implementing ONNX shape inference.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { zeroFeeds } from './providers.js';

export interface FlopCount {
  /** Total floating-point operations (2 per multiply-accumulate). */
  flops: number;
  macs: number;
  /** MACs per op type. */
  byOp: Record<string, number>;
}

type ShapeList = Array<Record<string, number[]>>;
interface NodeEvent {
  cat?: string;
  args?: { op_name?: string; input_type_shape?: ShapeList; output_type_shape?: ShapeList };
}

const prod = (a: readonly number[]): number => a.reduce((x, y) => x * y, 1);
const shapeOf = (l: ShapeList | undefined, i: number): number[] | undefined => {
  const entry = l?.[i];
  return entry ? Object.values(entry)[0] : undefined;
};

/** MACs of one profiled node, or 0 for ops that are not counted. */
export function nodeMacs(op: string, inputs: ShapeList, outputs: ShapeList): number {
  const out = shapeOf(outputs, 0);
  const a = shapeOf(inputs, 0);
  const w = shapeOf(inputs, 1);
  if (!out || !a) return 0;
  switch (op) {
    case 'Conv':
      // weight [Cout, Cin/group, k...]: every output element is a dot product of Cin/group * prod(k) terms.
      return w ? prod(out) * prod(w.slice(1)) : 0;
    case 'ConvTranspose':
      // weight [Cin, Cout/group, k...]: every input element scatters into Cout/group * prod(k) outputs.
      return w ? prod(a) * prod(w.slice(1)) : 0;
    // For MatMul/Gemm, A and the output suffice: ORT pre-packs constant B and then omits its shape from profiles.
    case 'MatMul':
      return prod(out) * a[a.length - 1];
    case 'Gemm':
      // out [M, N]; A is [M, K] or [K, M] (transA), so K = |A| / M either way.
      return prod(out) * (prod(a) / out[0]);
    default:
      return 0;
  }
}

/** Count FLOPs for `dims` (per input name; symbolic dims default to 1). Divide by the batch for per-image FLOPs. */
export async function countFlops(model: string | Uint8Array, dims: Record<string, readonly number[]> = {}): Promise<FlopCount> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-flops-'));
  try {
    const options: InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'flops'),
      logSeverityLevel: 3,
    };
    const session =
      typeof model === 'string' ? await InferenceSession.create(model, options) : await InferenceSession.create(model, options);
    try {
      await session.run(zeroFeeds(session, dims));
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = (await readdir(dir)).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('ORT wrote no profile');
    const events = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as NodeEvent[];
    const byOp: Record<string, number> = {};
    let macs = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.args?.op_name) continue;
      const m = nodeMacs(e.args.op_name, e.args.input_type_shape ?? [], e.args.output_type_shape ?? []);
      if (m === 0) continue;
      byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + m;
      macs += m;
    }
    return { flops: 2 * macs, macs, byOp };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
