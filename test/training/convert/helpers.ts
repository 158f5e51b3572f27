/**
 * Shared helpers for converter tests: deterministic inputs, reference execution with tfjs (CPU), ONNX execution
 * with onnxruntime-node, a builder for small synthetic tfjs graph models, and comparison metrics.
 */

import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';

import type { TfAttr, TfjsGraphModel, TfjsWeightSpec, TfNode } from '../../../training/convert/tfjs-model.js';

tf.enableProdMode(); // silences the "install tfjs-node" banner; numerics are unchanged
await tf.setBackend('cpu');

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/**
 * A batch of NHWC test images with values in [0, scale]: image 0 is uniform noise, later images are smooth
 * structures (gradients, rings, checkerboards) with mild noise, so both high- and low-frequency paths are used.
 */
export function makeImages(n: number, h: number, w: number, scale: number, seed = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * h * w * 3);
  for (let b = 0; b < n; b++) {
    const kind = b % 3;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          let v: number;
          if (b === 0) v = r();
          else if (kind === 1) v = 0.5 + 0.5 * Math.sin((x / w) * Math.PI * (2 + c) + (y / h) * 3) * Math.cos(((y - h / 2) * (x - w / 2)) / (h * w) * 20 * b);
          else v = ((Math.floor(x / 8) + Math.floor(y / 8) + c) % 2) * 0.7 + 0.15 * Math.hypot(x - w / 2, y - h / 2) / Math.max(h, w);
          out[((b * h + y) * w + x) * 3 + c] = Math.min(1, Math.max(0, v + 0.05 * (r() - 0.5))) * scale;
        }
      }
    }
  }
  return out;
}

/** Cosine similarity of two equal-length vectors (computed in double precision). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

/** max |a - b| / max(1, max |b|): a scale-aware closeness measure for numeric comparisons. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let mag = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / mag;
}

/**
 * Load a parsed graph model into tfjs from memory. With `freeInput`, placeholder shapes become [-1,-1,-1,C] so the
 * reference can run at other batch/spatial sizes than the model was exported with.
 */
export async function tfjsModel(model: TfjsGraphModel, freeInput = false): Promise<tf.GraphModel> {
  // tfjs reads the GraphDef version; synthetic graphs have none.
  const topology = { versions: { producer: 0, minConsumer: 0 }, ...structuredClone(model.json.modelTopology) };
  if (freeInput) {
    for (const n of topology.node) {
      const dims = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
      dims?.forEach((d, i) => {
        if (i < dims.length - 1) d.size = '-1';
      });
    }
  }
  const w = model.weightData;
  const handler: tf.io.IOHandler = {
    load: () =>
      Promise.resolve({
        modelTopology: topology,
        format: 'graph-model',
        weightSpecs: model.json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
        weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer,
      }),
  };
  return tf.loadGraphModel(handler);
}

/** Run a tfjs graph model up to `outputNode` on an NHWC batch. */
export async function runTfjs(model: tf.GraphModel, input: Float32Array, shape: number[], outputNode: string): Promise<{ data: Float32Array; shape: number[] }> {
  const x = tf.tensor(input, shape, 'float32');
  const y = model.execute(x, outputNode) as tf.Tensor;
  const data = (await y.data()) as Float32Array;
  const out = { data: Float32Array.from(data), shape: y.shape };
  tf.dispose([x, y]);
  return out;
}

/** Run an ONNX model (bytes) with onnxruntime-node on the CPU. */
export async function runOnnx(bytes: Uint8Array, feeds: Record<string, { data: Float32Array; shape: number[] }>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.shape);
    const results = await session.run(inputs);
    const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [k, t] of Object.entries(results)) out[k] = { data: t.data as Float32Array, dims: t.dims };
    return out;
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Synthetic graph models

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** tfjs-JSON attribute helpers. */
export const attr = {
  s: (v: string): TfAttr => ({ s: b64(v) }),
  ints: (v: number[]): TfAttr => ({ list: { i: v.map(String) } }),
  strs: (v: string[]): TfAttr => ({ list: { s: v.map(b64) } }),
  i: (v: number): TfAttr => ({ i: String(v) }),
  b: (v: boolean): TfAttr => ({ b: v }),
  f: (v: number): TfAttr => ({ f: v }),
  float: (): TfAttr => ({ type: 'DT_FLOAT' }),
};

interface PendingWeight {
  spec: TfjsWeightSpec;
  bytes: Uint8Array;
}

/** Builds a tfjs graph model (model.json + weight bytes) node by node, as the tfjs converter would write it. */
export class GraphBuilder {
  readonly nodes: TfNode[] = [];
  private readonly weights: PendingWeight[] = [];

  placeholder(name: string, shape: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: attr.float(), shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } } });
    return name;
  }

  /** A float32 constant, stored plain, uint8-quantized (min/scale) or as float16 in the weight shard. */
  constant(name: string, shape: number[], values: ArrayLike<number>, storage: 'float32' | 'uint8' | 'float16' | 'int32' = 'float32'): string {
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: storage === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: {} } } });
    const n = values.length;
    let spec: TfjsWeightSpec;
    let bytes: Uint8Array;
    if (storage === 'int32') {
      spec = { name, shape, dtype: 'int32' };
      bytes = new Uint8Array(Int32Array.from(values).buffer);
    } else if (storage === 'float32') {
      spec = { name, shape, dtype: 'float32' };
      bytes = new Uint8Array(Float32Array.from(values).buffer);
    } else if (storage === 'uint8') {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        lo = Math.min(lo, values[i]);
        hi = Math.max(hi, values[i]);
      }
      const scale = hi > lo ? (hi - lo) / 255 : 1;
      spec = { name, shape, dtype: 'float32', quantization: { dtype: 'uint8', min: lo, scale } };
      bytes = Uint8Array.from({ length: n }, (_, i) => Math.round((values[i] - lo) / scale));
    } else {
      spec = { name, shape, dtype: 'float32', quantization: { dtype: 'float16' } };
      const u16 = Uint16Array.from({ length: n }, (_, i) => floatToHalf(values[i]));
      bytes = new Uint8Array(u16.buffer);
    }
    this.weights.push({ spec, bytes });
    return name;
  }

  node(name: string, op: string, inputs: string[], attrs: Record<string, TfAttr> = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: attr.float(), ...attrs } });
    return name;
  }

  build(): TfjsGraphModel {
    const total = this.weights.reduce((a, w) => a + w.bytes.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const w of this.weights) {
      data.set(w.bytes, off);
      off += w.bytes.length;
    }
    return {
      json: {
        format: 'graph-model',
        modelTopology: { node: structuredClone(this.nodes) },
        weightsManifest: [{ paths: ['shard1'], weights: this.weights.map((w) => w.spec) }],
      },
      weightData: data,
    };
  }
}

/** float -> IEEE half bits (round to nearest even), used to write float16-quantized test weights. */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const u = new Uint32Array(f32.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) return sign | Math.round(Math.abs(v) / 2 ** -24); // subnormal (or zero)
  const half = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half;
}
