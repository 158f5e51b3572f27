/**
 * Reading TensorFlow.js graph models: `model.json` (topology + weights manifest) and weight shards, either as
 * ordinary files or embedded in minified JS bundles (as nsfwjs ships them), plus weight dequantization.
 * Nothing here executes code from the model files.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { extractBundledExport, type JsValue } from './jsliteral.js';

/** One attribute of a TF NodeDef as the tfjs converter writes it to JSON (int64s arrive as strings). */
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  tensor?: { dtype?: string; tensorShape?: unknown };
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
}

/** A TF NodeDef as stored in model.json. Inputs are `name`, `name:k` (output k) or `^name` (control edge). */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
  device?: string;
}

export type TfjsWeightDtype = 'float32' | 'int32' | 'bool';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsWeightDtype;
  /** Stored quantized: value = min + scale * q for uint8/uint16; IEEE half floats for float16. */
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** The parts of a tfjs `model.json` (format "graph-model") that conversion uses. */
export interface TfjsGraphModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: TfjsWeightsGroup[];
  signature?: unknown;
  userDefinedMetadata?: unknown;
}

/** A loaded graph model: its json and all weight shards concatenated in manifest order. */
export interface TfjsGraphModel {
  json: TfjsGraphModelJson;
  weightData: Uint8Array;
}

/** A dense tensor held in JS memory (weights, folded constants). bool is stored as 0/1 bytes. */
export interface HostTensor {
  dtype: TfjsWeightDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export class TfjsModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TfjsModelError';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check untrusted JSON (parsed model.json or bundle literal) has the structure of a tfjs graph model. */
export function validateGraphModelJson(raw: unknown, where = 'model.json'): TfjsGraphModelJson {
  const bad = (what: string): never => {
    throw new TfjsModelError(`${where}: ${what}`);
  };
  if (!isObj(raw)) return bad('expected an object');
  if (raw.format !== undefined && raw.format !== 'graph-model') bad(`format is ${JSON.stringify(raw.format)}, expected "graph-model"`);
  const topo = raw.modelTopology;
  if (!isObj(topo) || !Array.isArray(topo.node)) return bad('modelTopology.node must be an array');
  topo.node.forEach((n: unknown, i) => {
    if (!isObj(n) || typeof n.name !== 'string' || typeof n.op !== 'string') bad(`modelTopology.node[${i}] needs string name and op`);
    const node = n as Record<string, unknown>;
    if (node.input !== undefined && (!Array.isArray(node.input) || !node.input.every((x) => typeof x === 'string')))
      bad(`modelTopology.node[${i}].input must be an array of strings`);
    if (node.attr !== undefined && !isObj(node.attr)) bad(`modelTopology.node[${i}].attr must be an object`);
  });
  if (!Array.isArray(raw.weightsManifest)) return bad('weightsManifest must be an array');
  raw.weightsManifest.forEach((g: unknown, gi) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string') || !Array.isArray(g.weights))
      bad(`weightsManifest[${gi}] needs paths (strings) and weights (array)`);
    const group = g as { weights: unknown[] };
    group.weights.forEach((w, wi) => {
      const at = `weightsManifest[${gi}].weights[${wi}]`;
      if (!isObj(w) || typeof w.name !== 'string') return bad(`${at}.name must be a string`);
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
        bad(`${at} (${w.name}).shape must be non-negative integers`);
      if (w.dtype !== 'float32' && w.dtype !== 'int32' && w.dtype !== 'bool')
        bad(`${at} (${w.name}).dtype ${JSON.stringify(w.dtype)} is not supported (float32, int32, bool)`);
      const q = w.quantization;
      if (q !== undefined) {
        if (!isObj(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16'))
          bad(`${at} (${w.name}).quantization.dtype must be uint8, uint16 or float16`);
        const qq = q as Record<string, unknown>;
        if (qq.dtype !== 'float16' && (typeof qq.min !== 'number' || typeof qq.scale !== 'number'))
          bad(`${at} (${w.name}).quantization needs numeric min and scale`);
      }
    });
  });
  return raw as unknown as TfjsGraphModelJson;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Load a standard tfjs graph model: `model.json` plus the binary shards it lists (relative to its folder). */
export async function loadTfjsModel(modelJsonPath: string): Promise<TfjsGraphModel> {
  const json = validateGraphModelJson(JSON.parse(await readFile(modelJsonPath, 'utf8')), modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) shards.push(new Uint8Array(await readFile(path.join(dir, p))));
  }
  return { json, weightData: concat(shards) };
}

/**
 * Load a graph model shipped as browserify bundles: `<dir>/<modelFile>` exports the model.json object and each
 * weight path `p` of the manifest is `<dir>/p.min.js` exporting the shard as a base64 string (the nsfwjs layout).
 * The bundles are parsed as data; none of their code runs.
 */
export async function loadTfjsBundle(dir: string, modelFile = 'model.min.js'): Promise<TfjsGraphModel> {
  const modelPath = path.join(dir, modelFile);
  const json = validateGraphModelJson(extractBundledExport(await readFile(modelPath, 'utf8')), modelPath);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const shardPath = path.join(dir, `${p}.min.js`);
      const b64: JsValue = extractBundledExport(await readFile(shardPath, 'utf8'));
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
        throw new TfjsModelError(`${shardPath}: expected a base64 string export`);
      shards.push(new Uint8Array(Buffer.from(b64, 'base64')));
    }
  }
  return { json, weightData: concat(shards) };
}

/** Convert IEEE 754 half-precision bits to a float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const storedBytes = (w: TfjsWeightSpec): number => {
  const q = w.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  return w.dtype === 'bool' ? 1 : 4;
};

/**
 * Decode every weight of the model, dequantizing uint8/uint16 (min + scale * q, as tfjs does) and float16.
 * Returns them keyed by weight name (which is the name of the Const node holding it).
 */
export function decodeWeights(model: TfjsGraphModel): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const bytes = model.weightData;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  for (const w of model.json.weightsManifest.flatMap((g) => g.weights)) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const size = n * storedBytes(w);
    if (off + size > bytes.length)
      throw new TfjsModelError(`weight ${w.name} needs bytes ${off}..${off + size} but the shards hold ${bytes.length}`);
    const q = w.quantization;
    let data: Float32Array | Int32Array | Uint8Array;
    if (q?.dtype === 'float16') {
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = halfToFloat(view.getUint16(off + 2 * i, true));
      data = w.dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
    } else if (q) {
      const scale = q.scale!;
      const min = q.min!;
      const get = q.dtype === 'uint8' ? (i: number) => bytes[off + i] : (i: number) => view.getUint16(off + 2 * i, true);
      if (w.dtype === 'int32') {
        data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = Math.round(get(i) * scale + min);
      } else {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = get(i) * scale + min;
      }
    } else if (w.dtype === 'float32') {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(off + 4 * i, true);
    } else if (w.dtype === 'int32') {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getInt32(off + 4 * i, true);
    } else {
      data = bytes.slice(off, off + n);
    }
    if (w.dtype === 'bool' && q) throw new TfjsModelError(`weight ${w.name}: quantized bool weights are not supported`);
    out.set(w.name, { dtype: w.dtype, shape: [...w.shape], data });
    off += size;
  }
  if (off !== bytes.length) throw new TfjsModelError(`weights manifest covers ${off} bytes but the shards hold ${bytes.length}`);
  return out;
}
