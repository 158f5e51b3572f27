/**
 * TensorFlow.js graph model -> ONNX converter.
 *
 * The TF graph is walked in topological order from the requested output node back to the input placeholder.
 * Activations are tracked with their logical TF (NHWC) shape and a physical layout: 4-D tensors are moved to NCHW
 * (one Transpose after the NHWC input) as soon as an op wants it, and stay there; layout-agnostic ops (elementwise,
 * activations) follow whatever layout their inputs have. Constants live in JS memory so they can be re-laid-out
 * (HWIO -> OIHW, depthwise -> grouped conv, per-channel vectors -> [1,C,1,1]) and folded before becoming ONNX
 * initializers. The spatial input size is fixed, so TF 'SAME' padding becomes exact explicit ONNX pads.
 *
 * Emits opset 17 with a symbolic batch dimension.
 */

import type { AttrValue, Dim, ModelIR, NodeIR, TensorData } from '../onnx/proto.js';
import { pruneModel } from '../onnx/prune.js';
import { convOutputSize, samePadding } from './padding.js';
import { decodeWeights, type HostTensor, type TfjsGraphModel, type TfNode } from './tfjs-model.js';

/** The ONNX opset the converter emits. */
export const OPSET = 17;

export interface ConvertOptions {
  /** TF node whose (first) output becomes the model output: the cut point. */
  outputNode: string;
  /** Placeholder node to feed; defaults to the graph's only Placeholder reachable from `outputNode`. */
  inputNode?: string;
  /** Fixed spatial input size; defaults to the placeholder's static shape. */
  inputSize?: { height: number; width: number };
  /** ONNX input name (default "input"); its layout is NHWC float32 [batch, H, W, C]. */
  inputName?: string;
  /** ONNX output name (default "output"). */
  outputName?: string;
  /** Appended after the cut: 'global-avg' / 'global-max' average / take the max of an NHWC map over H and W: [batch, C]. */
  pool?: Pool;
  /** Prefix removed from TF node names when naming ONNX nodes and initializers (cosmetic). */
  stripPrefix?: string;
  graphName?: string;
  docString?: string;
  metadata?: Record<string, string>;
  producerVersion?: string;
  /** Further outputs (no pooling), computed in the same graph as `outputNode`: a multi-head model. */
  moreOutputs?: { node: string; name: string }[];
  /**
   * A rank-3 Reshape whose constant target starts with 1 (a detection head's [1, anchors, values]) keeps the input's
   * batch (ONNX 0) and infers the anchors (-1), so heads batch and follow an overridden input size.
   */
  reshapeKeepsBatch?: boolean;
  /**
   * Declare the input's height and width symbolic ('height', 'width'), and the outputs' dims between the batch and
   * the last as unknown: for a fully convolutional graph whose heads use `reshapeKeepsBatch`. The graph is still
   * converted at `inputSize`; the caller checks that other sizes give what the source gives.
   */
  anySpatialSize?: boolean;
}

/** Global pooling appended after the cut. */
export type Pool = 'none' | 'global-avg' | 'global-max';

export interface ConvertResult {
  model: ModelIR;
  /** ONNX input shape, NHWC: ['batch', H, W, C]. */
  inputShape: Dim[];
  /** ONNX output shape, batch first ('batch' symbolic). */
  outputShape: Dim[];
  /** Shapes of `moreOutputs`, in their order. */
  moreOutputShapes: Dim[][];
  /** How many TF nodes of each op type were converted (Const included). */
  opCounts: Record<string, number>;
}

/** Thrown before any conversion work when the subgraph holds ops the converter does not know; lists them all. */
export class UnsupportedOpsError extends Error {
  constructor(public readonly ops: { op: string; nodes: string[] }[]) {
    super(
      `unsupported TF ops: ${ops.map((o) => `${o.op} (${o.nodes.length}x, e.g. ${o.nodes[0]})`).join(', ')}; ` +
        `supported: ${SUPPORTED_OPS.join(', ')}`,
    );
    this.name = 'UnsupportedOpsError';
  }
}

/** A node the converter understands by op type but cannot convert with these attributes/inputs. */
export class ConversionError extends Error {
  constructor(
    public readonly node: string,
    message: string,
  ) {
    super(`${node}: ${message}`);
    this.name = 'ConversionError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Host tensor helpers (exported for tests)

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Regular conv filter, TF HWIO [kh, kw, in, out] -> ONNX OIHW [out, in, kh, kw]. */
export function hwioToOihw(w: HostTensor): HostTensor {
  const [kh, kw, ci, co] = w.shape;
  const src = w.data;
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) dst[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
  return { dtype: 'float32', shape: [co, ci, kh, kw], data: dst };
}

/**
 * Depthwise filter, TF [kh, kw, C, M] -> ONNX grouped conv (group = C) weight [C*M, 1, kh, kw].
 * TF orders depthwise outputs channel-major: output channel c*M + m comes from input channel c.
 */
export function depthwiseToOihw(w: HostTensor): HostTensor {
  const [kh, kw, c, m] = w.shape;
  const src = w.data;
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ch = 0; ch < c; ch++)
        for (let j = 0; j < m; j++) dst[((ch * m + j) * kh + y) * kw + x] = src[((y * kw + x) * c + ch) * m + j];
  return { dtype: 'float32', shape: [c * m, 1, kh, kw], data: dst };
}

/** Permute a dense host tensor: out.shape[i] = t.shape[perm[i]]. */
export function permuteHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const rank = t.shape.length;
  const outShape = perm.map((p) => t.shape[p]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= t.shape[i];
  }
  const strides = perm.map((p) => inStrides[p]);
  const n = t.data.length;
  const out = new (t.data.constructor as new (n: number) => typeof t.data)(n);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let k = 0; k < n; k++) {
    out[k] = t.data[src];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += strides[d];
      if (idx[d] < outShape[d]) break;
      src -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data: out };
}

/** Numpy-style broadcast of two static shapes (-1 = unknown, treated as compatible with anything). */
function broadcastShapes(a: readonly number[], b: readonly number[], where: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (x === -1 || y === -1) out.push(Math.max(x, y));
    else throw new ConversionError(where, `shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
  }
  return out;
}

/** Elementwise op on two host tensors with broadcasting (constant folding). */
function foldBinary(a: HostTensor, b: HostTensor, fn: (x: number, y: number) => number, where: string): HostTensor {
  const shape = broadcastShapes(a.shape, b.shape, where);
  const rank = shape.length;
  const n = numel(shape);
  const stridesFor = (s: readonly number[]): number[] => {
    const st = new Array<number>(rank).fill(0);
    for (let i = s.length - 1, acc = 1; i >= 0; i--) {
      st[rank - s.length + i] = s[i] === 1 ? 0 : acc;
      acc *= s[i];
    }
    return st;
  };
  const sa = stridesFor(a.shape);
  const sb = stridesFor(b.shape);
  const isInt = a.dtype === 'int32' && b.dtype === 'int32';
  const out = isInt ? new Int32Array(n) : new Float32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let k = 0; k < n; k++) {
    out[k] = fn(a.data[ia], b.data[ib]);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < shape[d]) break;
      ia -= sa[d] * shape[d];
      ib -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype: isInt ? 'int32' : 'float32', shape, data: out };
}

/**
 * The float32 scale for an ONNX Resize from `inSize` to `outSize`: ONNX derives the output size as floor(in * scale),
 * so out/in is nudged up to the next float32 where rounding would land one short (7/5 -> 1.4000000953674316).
 */
export function resizeScale(inSize: number, outSize: number): number {
  const f = new Float32Array([outSize / inSize]);
  const bits = new Uint32Array(f.buffer);
  const lands = (): boolean => Math.floor(inSize * f[0]) === outSize && Math.floor(Math.fround(inSize * f[0])) === outSize;
  for (let i = 0; i < 4 && !lands(); i++) bits[0]++;
  if (!lands()) throw new Error(`no float32 scale resizes ${inSize} to ${outSize}`);
  return f[0];
}

// ---------------------------------------------------------------------------------------------------------------
// Op tables

type Layout = 'nhwc' | 'nchw';

/** A runtime tensor in the ONNX graph. `shape` is always the logical TF shape (NHWC for 4-D); -1 = unknown. */
interface Act {
  kind: 'act';
  name: string;
  shape: number[];
  layout: Layout;
}

interface Const {
  kind: 'const';
  t: HostTensor;
}

type Val = Act | Const;

/** Logical NHWC axis -> physical NCHW axis. */
const NHWC_TO_NCHW = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

const BINARY: Record<string, { onnx: string; fold: (x: number, y: number) => number }> = {
  Add: { onnx: 'Add', fold: (x, y) => x + y },
  AddV2: { onnx: 'Add', fold: (x, y) => x + y },
  BiasAdd: { onnx: 'Add', fold: (x, y) => x + y },
  Sub: { onnx: 'Sub', fold: (x, y) => x - y },
  Mul: { onnx: 'Mul', fold: (x, y) => x * y },
  RealDiv: { onnx: 'Div', fold: (x, y) => x / y },
  Maximum: { onnx: 'Max', fold: (x, y) => Math.max(x, y) },
  Minimum: { onnx: 'Min', fold: (x, y) => Math.min(x, y) },
};

/** Activations that may be fused into TF conv/matmul ops or stand alone. */
const ACTIVATIONS = ['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Prelu'] as const;
type Activation = (typeof ACTIVATIONS)[number];
const isActivation = (s: string): s is Activation => (ACTIVATIONS as readonly string[]).includes(s);

const UNARY: Record<string, { onnx: string; fold: (x: number) => number }> = {
  Neg: { onnx: 'Neg', fold: (x) => -x },
  Abs: { onnx: 'Abs', fold: (x) => Math.abs(x) },
  Sqrt: { onnx: 'Sqrt', fold: (x) => Math.sqrt(x) },
  Exp: { onnx: 'Exp', fold: (x) => Math.exp(x) },
  Log: { onnx: 'Log', fold: (x) => Math.log(x) },
  Reciprocal: { onnx: 'Reciprocal', fold: (x) => 1 / x },
  Softplus: { onnx: 'Softplus', fold: (x) => Math.log1p(Math.exp(x)) },
};

const CONV_OPS = ['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative'];
const PASS_THROUGH = ['Identity', 'StopGradient', 'Snapshot'];
const OTHER_OPS = [
  'Const',
  'Placeholder',
  'AvgPool',
  'MaxPool',
  'Mean',
  'Max',
  'Sum',
  'Squeeze',
  'MatMul',
  '_FusedMatMul',
  'Pad',
  'PadV2',
  'MirrorPad',
  'ConcatV2',
  'Reshape',
  'Softmax',
  'Rsqrt',
  'Square',
  'ResizeBilinear',
];

/** TF op types the converter handles. */
export const SUPPORTED_OPS: readonly string[] = [
  ...CONV_OPS,
  ...Object.keys(BINARY),
  ...ACTIVATIONS,
  ...Object.keys(UNARY),
  ...PASS_THROUGH,
  ...OTHER_OPS,
].sort();

// ---------------------------------------------------------------------------------------------------------------
// Attribute access

const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

function attrString(n: TfNode, key: string): string | undefined {
  const s = n.attr?.[key]?.s;
  return s === undefined ? undefined : b64(s);
}

function attrStrings(n: TfNode, key: string): string[] {
  return (n.attr?.[key]?.list?.s ?? []).map(b64);
}

function attrInts(n: TfNode, key: string): number[] | undefined {
  const l = n.attr?.[key]?.list;
  if (!l) return undefined;
  return (l.i ?? []).map(Number);
}

function attrInt(n: TfNode, key: string): number | undefined {
  const i = n.attr?.[key]?.i;
  return i === undefined ? undefined : Number(i);
}

function attrBool(n: TfNode, key: string): boolean | undefined {
  return n.attr?.[key]?.b;
}

function attrFloat(n: TfNode, key: string): number | undefined {
  return n.attr?.[key]?.f;
}

/** Parse a TF input reference: "name", "name:k", "^name" (control). */
function parseRef(ref: string): { node: string; index: number; control: boolean } {
  if (ref.startsWith('^')) return { node: ref.slice(1), index: 0, control: true };
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? { node: m[1], index: Number(m[2]), control: false } : { node: ref, index: 0, control: false };
}

// ---------------------------------------------------------------------------------------------------------------
// Converter

class GraphConverter {
  readonly nodes: NodeIR[] = [];
  readonly initializers: TensorData[] = [];
  private readonly taken = new Set<string>();
  private readonly values = new Map<string, Val>();
  private readonly relayout = new Map<string, Act>();
  private readonly scalars = new Map<string, string>();
  /** Converted input size / the placeholder's static size, per spatial axis (1 when the static size is kept). */
  private inputRatio: [number, number] = [1, 1];

  constructor(
    private readonly weights: Map<string, HostTensor>,
    private readonly opts: Required<Pick<ConvertOptions, 'inputName' | 'outputName' | 'stripPrefix'>> & {
      inputNode: string;
      inputSize?: { height: number; width: number };
      reshapeKeepsBatch?: boolean;
      moreOutputNames?: string[];
    },
  ) {
    this.taken.add(opts.inputName);
    this.taken.add(opts.outputName);
    for (const n of opts.moreOutputNames ?? []) this.taken.add(n);
  }

  // -- naming and emission -----------------------------------------------------------------------------------

  private unique(base: string): string {
    let name = base.startsWith(this.opts.stripPrefix) ? base.slice(this.opts.stripPrefix.length) : base;
    if (!name) name = 'tensor';
    if (!this.taken.has(name)) {
      this.taken.add(name);
      return name;
    }
    for (let k = 1; ; k++) {
      const cand = `${name}_${k}`;
      if (!this.taken.has(cand)) {
        this.taken.add(cand);
        return cand;
      }
    }
  }

  private emit(opType: string, inputs: string[], nameHint: string, attributes?: Record<string, AttrValue>): string {
    const out = this.unique(nameHint);
    const node: NodeIR = { opType, inputs, outputs: [out], name: out };
    if (attributes && Object.keys(attributes).length) node.attributes = attributes;
    this.nodes.push(node);
    return out;
  }

  private initializer(t: HostTensor, nameHint: string, as?: 'int64'): string {
    const name = this.unique(nameHint);
    let data: TensorData['data'];
    let dtype: TensorData['dtype'];
    if (as === 'int64') {
      dtype = 'int64';
      data = BigInt64Array.from(t.data, (v) => BigInt(Math.trunc(v)));
    } else if (t.dtype === 'float32') {
      dtype = 'float32';
      data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    } else if (t.dtype === 'int32') {
      dtype = 'int32';
      data = t.data;
    } else {
      dtype = 'bool';
      data = t.data;
    }
    this.initializers.push({ name, dtype, dims: [...t.shape], data });
    return name;
  }

  private ints64(values: number[], nameHint: string): string {
    return this.initializer({ dtype: 'int32', shape: [values.length], data: Int32Array.from(values) }, nameHint, 'int64');
  }

  /** A shared float32 scalar initializer (used by Clip bounds and the like). */
  private scalar(v: number): string {
    const key = String(v);
    let name = this.scalars.get(key);
    if (!name) {
      name = this.initializer({ dtype: 'float32', shape: [], data: Float32Array.of(v) }, `const_${key.replace(/[^0-9a-zA-Z]/g, '_')}`);
      this.scalars.set(key, name);
    }
    return name;
  }

  // -- layout ------------------------------------------------------------------------------------------------

  private toNchw(a: Act, where: string): Act {
    if (a.layout === 'nchw') return a;
    if (a.shape.length !== 4) throw new ConversionError(where, `expected a 4-D tensor, got rank ${a.shape.length}`);
    const key = `nchw:${a.name}`;
    let v = this.relayout.get(key);
    if (!v) {
      const name = this.emit('Transpose', [a.name], `${a.name}/nchw`, { perm: { ints: TO_NCHW } });
      v = { kind: 'act', name, shape: a.shape, layout: 'nchw' };
      this.relayout.set(key, v);
    }
    return v;
  }

  private toTf(a: Act): Act {
    if (a.layout === 'nhwc') return a;
    const key = `nhwc:${a.name}`;
    let v = this.relayout.get(key);
    if (!v) {
      const name = this.emit('Transpose', [a.name], `${a.name}/nhwc`, { perm: { ints: TO_NHWC } });
      v = { kind: 'act', name, shape: a.shape, layout: 'nhwc' };
      this.relayout.set(key, v);
    }
    return v;
  }

  /** Re-lay-out a constant operand to broadcast against an NCHW tensor (right-aligned to rank 4, then permuted). */
  private constForNchw(t: HostTensor, where: string): HostTensor {
    if (numel(t.shape) === 1) return { ...t, shape: [] };
    if (t.shape.length > 4) throw new ConversionError(where, `cannot broadcast a rank-${t.shape.length} constant against NCHW`);
    const r4 = { ...t, shape: [...new Array<number>(4 - t.shape.length).fill(1), ...t.shape] };
    return permuteHost(r4, TO_NCHW);
  }

  private act(v: Val, where: string): Act {
    if (v.kind !== 'act') throw new ConversionError(where, 'expected a runtime tensor, got a constant');
    return v;
  }

  private constant(v: Val, where: string, what: string): HostTensor {
    if (v.kind !== 'const') throw new ConversionError(where, `${what} must be a constant`);
    return v.t;
  }

  private constInts(v: Val, where: string, what: string): number[] {
    return Array.from(this.constant(v, where, what).data, Number);
  }

  /** Whether keeping `kept` logical axes of an NCHW tensor leaves them in logical order (so the result is plain). */
  private static keepsOrder(kept: number[]): boolean {
    const phys = kept.map((a) => NHWC_TO_NCHW[a]);
    return phys.every((p, i) => i === 0 || p > phys[i - 1]);
  }

  // -- driver ------------------------------------------------------------------------------------------------

  convertNode(n: TfNode): void {
    const ins: Val[] = [];
    for (const ref of n.input ?? []) {
      const r = parseRef(ref);
      if (r.control) continue;
      if (r.index !== 0) throw new ConversionError(n.name, `uses output ${r.index} of ${r.node}; only first outputs are supported`);
      const v = this.values.get(r.node);
      if (!v) throw new ConversionError(n.name, `input ${r.node} was not converted`);
      ins.push(v);
    }
    this.values.set(n.name, this.dispatch(n, ins));
  }

  valueOf(node: string): Val {
    const v = this.values.get(node);
    if (!v) throw new ConversionError(node, 'was not converted');
    return v;
  }

  private dispatch(n: TfNode, ins: Val[]): Val {
    const op = n.op;
    if (op === 'Const') {
      const t = this.weights.get(n.name);
      if (!t) throw new ConversionError(n.name, 'Const node has no weight in the weights manifest');
      return { kind: 'const', t };
    }
    if (op === 'Placeholder') return this.placeholder(n);
    if (PASS_THROUGH.includes(op)) return ins[0];
    if (CONV_OPS.includes(op)) return this.conv(n, ins);
    if (op in BINARY) return this.binary(n, ins[0], ins[1], BINARY[op]);
    if (isActivation(op)) return this.activation(n, op, ins[0], n.name, ins[1]);
    if (op in UNARY) return this.unary(n, ins[0], UNARY[op].onnx, UNARY[op].fold);
    switch (op) {
      case 'Rsqrt': {
        const s = this.unary(n, ins[0], 'Sqrt', Math.sqrt);
        return this.unary(n, s, 'Reciprocal', (x) => 1 / x);
      }
      case 'Square':
        return this.binary(n, ins[0], ins[0], BINARY.Mul);
      case 'AvgPool':
      case 'MaxPool':
        return this.pool(n, ins);
      case 'Mean':
      case 'Max':
        return this.reduce(n, ins, op === 'Mean' ? 'ReduceMean' : 'ReduceMax');
      case 'Sum':
        return this.reduce(n, ins, 'ReduceSum');
      case 'Squeeze':
        return this.squeeze(n, ins);
      case 'MatMul':
      case '_FusedMatMul':
        return this.matmul(n, ins);
      case 'Pad':
      case 'PadV2':
      case 'MirrorPad':
        return this.pad(n, ins);
      case 'ConcatV2':
        return this.concat(n, ins);
      case 'Reshape':
        return this.reshape(n, ins);
      case 'Softmax':
        return this.softmax(n, ins);
      case 'ResizeBilinear':
        return this.resizeBilinear(n, ins);
    }
    throw new UnsupportedOpsError([{ op, nodes: [n.name] }]);
  }

  // -- ops ---------------------------------------------------------------------------------------------------

  private placeholder(n: TfNode): Act {
    if (n.name !== this.opts.inputNode)
      throw new ConversionError(n.name, `the cut subgraph needs a second input placeholder (input is ${this.opts.inputNode})`);
    const dims = (n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
    if (dims.length !== 4) throw new ConversionError(n.name, `input placeholder must be 4-D NHWC, has shape [${dims.join(',')}]`);
    const h = this.opts.inputSize?.height ?? dims[1];
    const w = this.opts.inputSize?.width ?? dims[2];
    if (!(h > 0 && w > 0 && dims[3] > 0)) throw new ConversionError(n.name, 'input height/width/channels unknown: pass inputSize');
    // Sizes the TF converter folded into constants (ResizeBilinear) were computed at the static shape.
    if (dims[1] > 0 && dims[2] > 0) this.inputRatio = [h / dims[1], w / dims[2]];
    return { kind: 'act', name: this.opts.inputName, shape: [-1, h, w, dims[3]], layout: 'nhwc' };
  }

  private checkNhwc(n: TfNode): void {
    const df = attrString(n, 'data_format');
    if (df !== undefined && df !== 'NHWC') throw new ConversionError(n.name, `data_format ${df} is not supported (NHWC only)`);
  }

  /** Spatial pads for one axis per the node's padding attribute. */
  private pads(n: TfNode, inSize: number, k: number, s: number, d: number, axis: 1 | 2): [number, number] {
    const padding = attrString(n, 'padding') ?? 'VALID';
    if (padding === 'SAME') return samePadding(inSize, k, s, d);
    if (padding === 'VALID') return [0, 0];
    if (padding === 'EXPLICIT') {
      const e = attrInts(n, 'explicit_paddings') ?? [];
      if (e.length !== 8) throw new ConversionError(n.name, 'EXPLICIT padding needs 8 explicit_paddings');
      return [e[2 * axis], e[2 * axis + 1]];
    }
    throw new ConversionError(n.name, `padding ${padding} is not supported`);
  }

  /**
   * Parse fused_ops of a _Fused* node: an optional BiasAdd then at most one activation. Their operands follow the
   * node's first `firstArg` inputs: [bias][, prelu alpha].
   */
  private fused(n: TfNode, ins: Val[], firstArg: number): { bias?: HostTensor; act?: Activation; alpha?: Val } {
    const ops = attrStrings(n, 'fused_ops');
    const args = ins.slice(firstArg, firstArg + (attrInt(n, 'num_args') ?? 0));
    const hasBias = ops[0] === 'BiasAdd';
    const rest = ops.slice(hasBias ? 1 : 0);
    if (rest.length > 1) throw new ConversionError(n.name, `unsupported fused_ops sequence ${ops.join(', ')}`);
    const act = rest[0];
    if (act !== undefined && !isActivation(act))
      throw new ConversionError(n.name, `fused op ${act} is not supported (fused_ops: ${ops.join(', ')})`);
    return {
      bias: hasBias ? this.constant(args[0], n.name, 'fused bias') : undefined,
      act,
      alpha: act === 'Prelu' ? args[hasBias ? 1 : 0] : undefined,
    };
  }

  private conv(n: TfNode, ins: Val[]): Act {
    this.checkNhwc(n);
    const depthwise = n.op.includes('Depthwise');
    const x = this.toNchw(this.act(ins[0], n.name), n.name);
    const filter = this.constant(ins[1], n.name, 'filter');
    if (filter.shape.length !== 4) throw new ConversionError(n.name, `filter must be 4-D, has shape [${filter.shape.join(',')}]`);
    const [kh, kw, fin, fout] = filter.shape;
    const [, inH, inW, inC] = x.shape;
    const strides = attrInts(n, 'strides') ?? [1, 1, 1, 1];
    const dil = attrInts(n, 'dilations') ?? [1, 1, 1, 1];
    if (strides[0] !== 1 || strides[3] !== 1) throw new ConversionError(n.name, 'strides over batch/channels are not supported');
    if (!(inH > 0 && inW > 0)) throw new ConversionError(n.name, 'spatial input size is unknown');
    const [pt, pb] = this.pads(n, inH, kh, strides[1], dil[1], 1);
    const [pl, pr] = this.pads(n, inW, kw, strides[2], dil[2], 2);
    let weight: HostTensor;
    let group: number;
    let outC: number;
    if (depthwise) {
      if (inC !== fin) throw new ConversionError(n.name, `depthwise filter expects ${fin} channels, input has ${inC}`);
      weight = depthwiseToOihw(filter);
      group = fin;
      outC = fin * fout;
    } else {
      if (inC % fin !== 0) throw new ConversionError(n.name, `filter expects ${fin} input channels, input has ${inC}`);
      weight = hwioToOihw(filter);
      group = inC / fin;
      outC = fout;
    }
    const f = n.op.startsWith('_Fused') || n.op.startsWith('Fused') ? this.fused(n, ins, 2) : {};
    const inputs = [x.name, this.initializer(weight, `${n.name}/W`)];
    if (f.bias) {
      if (numel(f.bias.shape) !== outC) throw new ConversionError(n.name, `bias has ${numel(f.bias.shape)} values for ${outC} channels`);
      inputs.push(this.initializer({ ...f.bias, shape: [outC] }, `${n.name}/B`));
    }
    const name = this.emit('Conv', inputs, f.act ? `${n.name}/conv` : n.name, {
      dilations: { ints: [dil[1], dil[2]] },
      group: { i: group },
      kernel_shape: { ints: [kh, kw] },
      pads: { ints: [pt, pl, pb, pr] },
      strides: { ints: [strides[1], strides[2]] },
    });
    const outH = convOutputSize(inH, kh, strides[1], dil[1], pt, pb);
    const outW = convOutputSize(inW, kw, strides[2], dil[2], pl, pr);
    const y: Act = { kind: 'act', name, shape: [x.shape[0], outH, outW, outC], layout: 'nchw' };
    return f.act ? this.act(this.activation(n, f.act, y, n.name, f.alpha), n.name) : y;
  }

  private activation(n: TfNode, kind: Activation, input: Val, nameHint: string, alpha?: Val): Val {
    if (input.kind === 'const' && kind !== 'Prelu') {
      const selu = (x: number): number => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x));
      const fns: Record<Exclude<Activation, 'Prelu'>, (x: number) => number> = {
        Relu: (x) => Math.max(x, 0),
        Relu6: (x) => Math.min(Math.max(x, 0), 6),
        Elu: (x) => (x > 0 ? x : Math.expm1(x)),
        Selu: selu,
        LeakyRelu: (x) => (x > 0 ? x : x * (attrFloat(n, 'alpha') ?? 0.2)),
        Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
        Tanh: Math.tanh,
      };
      const fn = fns[kind];
      return { kind: 'const', t: { dtype: 'float32', shape: input.t.shape, data: Float32Array.from(input.t.data, fn) } };
    }
    const x = this.act(input, n.name);
    const out = (name: string): Act => ({ ...x, name });
    switch (kind) {
      case 'Relu6':
        return out(this.emit('Clip', [x.name, this.scalar(0), this.scalar(6)], nameHint));
      case 'LeakyRelu': {
        const a = attrFloat(n, n.op === 'LeakyRelu' ? 'alpha' : 'leakyrelu_alpha') ?? 0.2;
        return out(this.emit('LeakyRelu', [x.name], nameHint, { alpha: { f: a } }));
      }
      case 'Elu':
        return out(this.emit('Elu', [x.name], nameHint, { alpha: { f: 1 } }));
      case 'Prelu': {
        if (!alpha) throw new ConversionError(n.name, 'Prelu needs an alpha input');
        let slope = this.constant(alpha, n.name, 'Prelu alpha');
        if (x.layout === 'nchw') slope = this.constForNchw(slope, n.name);
        return out(this.emit('PRelu', [x.name, this.initializer(slope, `${n.name}/alpha`)], nameHint));
      }
      default:
        return out(this.emit(kind, [x.name], nameHint));
    }
  }

  private unary(n: TfNode, input: Val, onnx: string, fold: (x: number) => number): Val {
    if (input.kind === 'const')
      return { kind: 'const', t: { dtype: 'float32', shape: input.t.shape, data: Float32Array.from(input.t.data, fold) } };
    const x = this.act(input, n.name);
    return { ...x, name: this.emit(onnx, [x.name], n.name) };
  }

  private binary(n: TfNode, a: Val, b: Val, op: (typeof BINARY)[string]): Val {
    if (a === undefined || b === undefined) throw new ConversionError(n.name, 'needs two inputs');
    if (n.op === 'BiasAdd') this.checkNhwc(n);
    if (a.kind === 'const' && b.kind === 'const') return { kind: 'const', t: foldBinary(a.t, b.t, op.fold, n.name) };
    const acts = [a, b].filter((v): v is Act => v.kind === 'act');
    const layout: Layout = acts.some((v) => v.layout === 'nchw') && acts.every((v) => v.shape.length === 4) ? 'nchw' : 'nhwc';
    const maxActRank = Math.max(...acts.map((v) => v.shape.length));
    const operand = (v: Val, slot: string): { name: string; shape: number[] } => {
      if (v.kind === 'const') {
        // Single values become shared scalars unless they would raise the result's rank.
        if (numel(v.t.shape) === 1 && v.t.dtype === 'float32' && v.t.shape.length <= maxActRank)
          return { name: this.scalar(v.t.data[0]), shape: [] };
        const t = layout === 'nchw' ? this.constForNchw(v.t, n.name) : v.t;
        return { name: this.initializer(t, `${n.name}/${slot}`), shape: v.t.shape };
      }
      const r = layout === 'nchw' ? this.toNchw(v, n.name) : this.toTf(v);
      return { name: r.name, shape: r.shape };
    };
    const x = operand(a, 'x');
    const y = operand(b, 'y');
    const shape = broadcastShapes(x.shape, y.shape, n.name);
    if (layout === 'nchw' && shape.length !== 4) throw new ConversionError(n.name, 'broadcast changed the rank of an NCHW tensor');
    return { kind: 'act', name: this.emit(op.onnx, [x.name, y.name], n.name), shape, layout };
  }

  private pool(n: TfNode, ins: Val[]): Act {
    this.checkNhwc(n);
    const x = this.toNchw(this.act(ins[0], n.name), n.name);
    const k = attrInts(n, 'ksize') ?? [];
    const s = attrInts(n, 'strides') ?? [1, 1, 1, 1];
    if (k.length !== 4 || k[0] !== 1 || k[3] !== 1 || s[0] !== 1 || s[3] !== 1)
      throw new ConversionError(n.name, 'only spatial pooling windows are supported');
    const [, inH, inW, c] = x.shape;
    if (!(inH > 0 && inW > 0)) throw new ConversionError(n.name, 'spatial input size is unknown');
    const avg = n.op === 'AvgPool';
    const [pt, pb] = this.pads(n, inH, k[1], s[1], 1, 1);
    const [pl, pr] = this.pads(n, inW, k[2], s[2], 1, 2);
    const outH = convOutputSize(inH, k[1], s[1], 1, pt, pb);
    const outW = convOutputSize(inW, k[2], s[2], 1, pl, pr);
    let name: string;
    if (outH === 1 && outW === 1 && k[1] === inH && k[2] === inW && pt + pb + pl + pr === 0) {
      name = this.emit(avg ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], n.name);
    } else {
      // TF excludes padding from averages: ONNX count_include_pad = 0 (the default).
      name = this.emit(avg ? 'AveragePool' : 'MaxPool', [x.name], n.name, {
        kernel_shape: { ints: [k[1], k[2]] },
        pads: { ints: [pt, pl, pb, pr] },
        strides: { ints: [s[1], s[2]] },
      });
    }
    return { kind: 'act', name, shape: [x.shape[0], outH, outW, c], layout: 'nchw' };
  }

  /** One ONNX reduction; opset 13+ takes ReduceSum's axes as an int64 input, the others (until opset 18) as an attribute. */
  private reduceOp(onnx: 'ReduceMean' | 'ReduceMax' | 'ReduceSum', x: string, axes: number[], keep: boolean, nameHint: string): string {
    if (onnx === 'ReduceSum')
      return this.emit(onnx, [x, this.ints64(axes, `${nameHint}/axes`)], nameHint, { keepdims: { i: keep ? 1 : 0 } });
    return this.emit(onnx, [x], nameHint, { axes: { ints: axes }, keepdims: { i: keep ? 1 : 0 } });
  }

  private reduce(n: TfNode, ins: Val[], onnx: 'ReduceMean' | 'ReduceMax' | 'ReduceSum'): Act {
    let x = this.act(ins[0], n.name);
    const rank = x.shape.length;
    const axes = [...new Set(this.constInts(ins[1], n.name, 'reduction axes').map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
    if (axes.some((a) => a < 0 || a >= rank)) throw new ConversionError(n.name, `reduction axes out of range for rank ${rank}`);
    const keep = attrBool(n, 'keep_dims') ?? false;
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]);
    if (x.layout === 'nchw') {
      if (onnx !== 'ReduceSum' && keep && axes.length === 2 && axes[0] === 1 && axes[1] === 2) {
        const name = this.emit(onnx === 'ReduceMean' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], n.name);
        return { kind: 'act', name, shape, layout: 'nchw' };
      }
      if (keep || GraphConverter.keepsOrder(kept)) {
        const phys = axes.map((a) => NHWC_TO_NCHW[a]).sort((p, q) => p - q);
        const name = this.reduceOp(onnx, x.name, phys, keep, n.name);
        return { kind: 'act', name, shape, layout: keep ? 'nchw' : 'nhwc' };
      }
      x = this.toTf(x);
    }
    const name = this.reduceOp(onnx, x.name, axes, keep, n.name);
    return { kind: 'act', name, shape, layout: 'nhwc' };
  }

  private squeeze(n: TfNode, ins: Val[]): Val {
    const v = ins[0];
    const inShape = v.kind === 'const' ? v.t.shape : v.shape;
    const rank = inShape.length;
    let dims = (attrInts(n, 'squeeze_dims') ?? attrInts(n, 'axis') ?? []).map((a) => (a < 0 ? a + rank : a));
    if (dims.length === 0) dims = inShape.flatMap((d, i) => (d === 1 ? [i] : []));
    dims = [...new Set(dims)].sort((p, q) => p - q);
    for (const d of dims)
      if (inShape[d] !== 1 && inShape[d] !== -1) throw new ConversionError(n.name, `cannot squeeze axis ${d} of size ${inShape[d]}`);
    const kept = inShape.map((_, i) => i).filter((i) => !dims.includes(i));
    const shape = kept.map((i) => inShape[i]);
    if (v.kind === 'const') return { kind: 'const', t: { ...v.t, shape } };
    let x = v;
    let axes = dims;
    if (x.layout === 'nchw') {
      if (GraphConverter.keepsOrder(kept)) axes = dims.map((a) => NHWC_TO_NCHW[a]).sort((p, q) => p - q);
      else x = this.toTf(x);
    }
    const name = this.emit('Squeeze', [x.name, this.ints64(axes, `${n.name}/axes`)], n.name);
    return { kind: 'act', name, shape, layout: 'nhwc' };
  }

  private matmul(n: TfNode, ins: Val[]): Act {
    const a = this.toTf(this.act(ins[0], n.name));
    if (a.shape.length !== 2) throw new ConversionError(n.name, `MatMul input must be 2-D, has rank ${a.shape.length}`);
    const ta = attrBool(n, 'transpose_a') ?? false;
    const tb = attrBool(n, 'transpose_b') ?? false;
    const f = n.op === '_FusedMatMul' ? this.fused(n, ins, 2) : {};
    const b = ins[1];
    const bShape = b.kind === 'const' ? b.t.shape : b.shape;
    if (bShape.length !== 2) throw new ConversionError(n.name, 'MatMul weight must be 2-D');
    const m = ta ? a.shape[1] : a.shape[0];
    const outN = tb ? bShape[0] : bShape[1];
    const bName = b.kind === 'const' ? this.initializer(b.t, `${n.name}/W`) : this.toTf(b).name;
    const inputs = [a.name, bName];
    if (f.bias) inputs.push(this.initializer({ ...f.bias, shape: [numel(f.bias.shape)] }, `${n.name}/B`));
    const name = this.emit('Gemm', inputs, f.act ? `${n.name}/gemm` : n.name, { transA: { i: ta ? 1 : 0 }, transB: { i: tb ? 1 : 0 } });
    const y: Act = { kind: 'act', name, shape: [m, outN], layout: 'nhwc' };
    return f.act ? this.act(this.activation(n, f.act, y, n.name, f.alpha), n.name) : y;
  }

  private pad(n: TfNode, ins: Val[]): Act {
    const x = this.act(ins[0], n.name);
    const p = this.constant(ins[1], n.name, 'paddings');
    const rank = x.shape.length;
    if (p.shape.length !== 2 || p.shape[0] !== rank || p.shape[1] !== 2) throw new ConversionError(n.name, `paddings must be [${rank}, 2]`);
    const rows = Array.from({ length: rank }, (_, i) => [Number(p.data[2 * i]), Number(p.data[2 * i + 1])]);
    const phys = x.layout === 'nchw' ? TO_NCHW.map((a) => rows[a]) : rows;
    const inputs = [x.name, this.ints64([...phys.map((r) => r[0]), ...phys.map((r) => r[1])], `${n.name}/pads`)];
    let mode = 'constant';
    if (n.op === 'PadV2') {
      const c = this.constant(ins[2], n.name, 'pad value');
      inputs.push(this.scalar(c.data[0]));
    } else if (n.op === 'MirrorPad') {
      const m = attrString(n, 'mode');
      if (m !== 'REFLECT') throw new ConversionError(n.name, `MirrorPad mode ${m} has no ONNX equivalent (REFLECT only)`);
      mode = 'reflect';
    }
    const name = this.emit('Pad', inputs, n.name, { mode: { s: mode } });
    const shape = x.shape.map((d, i) => (d < 0 ? d : d + rows[i][0] + rows[i][1]));
    return { kind: 'act', name, shape, layout: x.layout };
  }

  private concat(n: TfNode, ins: Val[]): Val {
    const parts = ins.slice(0, -1);
    const rank = (parts[0].kind === 'const' ? parts[0].t.shape : parts[0].shape).length;
    let axis = this.constInts(ins[ins.length - 1], n.name, 'concat axis')[0];
    if (axis < 0) axis += rank;
    const acts = parts.filter((v): v is Act => v.kind === 'act');
    if (acts.length === 0) throw new ConversionError(n.name, 'concatenating constants is not supported');
    const layout: Layout = rank === 4 && acts.some((v) => v.layout === 'nchw') ? 'nchw' : 'nhwc';
    const names = parts.map((v, i) => {
      if (v.kind === 'const') return this.initializer(layout === 'nchw' ? permuteHost(v.t, TO_NCHW) : v.t, `${n.name}/part${i}`);
      return (layout === 'nchw' ? this.toNchw(v, n.name) : this.toTf(v)).name;
    });
    const shapes = parts.map((v) => (v.kind === 'const' ? v.t.shape : v.shape));
    const shape = shapes[0].map((d, i) =>
      i === axis ? (shapes.some((s) => s[i] < 0) ? -1 : shapes.reduce((acc, s) => acc + s[i], 0)) : d,
    );
    const name = this.emit('Concat', names, n.name, { axis: { i: layout === 'nchw' ? NHWC_TO_NCHW[axis] : axis } });
    return { kind: 'act', name, shape, layout };
  }

  private reshape(n: TfNode, ins: Val[]): Act {
    const x = this.toTf(this.act(ins[0], n.name));
    const target = this.constInts(ins[1], n.name, 'reshape shape');
    if (this.opts.reshapeKeepsBatch && target[0] === 1 && target.length === 3 && !target.includes(-1)) {
      // A head flattening [N, H, W, C] into [1, anchors, values]: keep N, and infer the anchors, which scale with
      // the input size when that was overridden.
      target[0] = 0;
      target[1] = -1;
    }
    // A kept batch (0) takes no part in inferring a -1: only the other dims do.
    const from = target[0] === 0 ? 1 : 0;
    const inner = x.shape.slice(from);
    const known = inner.every((d) => d >= 0) ? numel(inner) : -1;
    const rest = numel(target.slice(from).filter((d) => d !== -1));
    const shape = target.map((d, i) => (i < from ? x.shape[i] : d === -1 ? (known >= 0 ? known / rest : -1) : d));
    const name = this.emit('Reshape', [x.name, this.ints64(target, `${n.name}/shape`)], n.name);
    return { kind: 'act', name, shape, layout: 'nhwc' };
  }

  private softmax(n: TfNode, ins: Val[]): Act {
    const x = this.act(ins[0], n.name);
    const axis = x.layout === 'nchw' ? 1 : x.shape.length - 1;
    return { ...x, name: this.emit('Softmax', [x.name], n.name, { axis: { i: axis } }) };
  }

  /**
   * TF ResizeBilinear -> ONNX Resize (linear) with scales. A constant size was folded at the placeholder's static
   * shape (Keras UpSampling2D), so when the input size is overridden it is scaled by the same ratio.
   */
  private resizeBilinear(n: TfNode, ins: Val[]): Act {
    const x = this.toNchw(this.act(ins[0], n.name), n.name);
    const size = this.constInts(ins[1], n.name, 'resize size');
    if (size.length !== 2) throw new ConversionError(n.name, `resize size must have 2 values, has ${size.length}`);
    const [, inH, inW, c] = x.shape;
    if (!(inH > 0 && inW > 0)) throw new ConversionError(n.name, 'spatial input size is unknown');
    const out = size.map((d, i) => d * this.inputRatio[i]);
    if (!out.every((d) => Number.isInteger(d) && d > 0))
      throw new ConversionError(
        n.name,
        `resize size [${size.join(',')}] does not scale to the converted input size (gives [${out.join(',')}])`,
      );
    const scales = [resizeScale(inH, out[0]), resizeScale(inW, out[1])];
    const alignCorners = attrBool(n, 'align_corners') ?? false;
    const halfPixel = attrBool(n, 'half_pixel_centers') ?? false;
    if (alignCorners && halfPixel) throw new ConversionError(n.name, 'align_corners with half_pixel_centers is not valid in TF');
    // TF's legacy mapping (src = dst * in / out) is ONNX 'asymmetric'.
    const mode = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
    const scaleName = this.initializer(
      { dtype: 'float32', shape: [4], data: Float32Array.of(1, 1, scales[0], scales[1]) },
      `${n.name}/scales`,
    );
    const name = this.emit('Resize', [x.name, '', scaleName], n.name, {
      coordinate_transformation_mode: { s: mode },
      mode: { s: 'linear' },
    });
    return { kind: 'act', name, shape: [x.shape[0], out[0], out[1], c], layout: 'nchw' };
  }

  // -- output ------------------------------------------------------------------------------------------------

  /** Finish the graph at `v`: optional pooling, back to TF layout, output named as requested. */
  finish(v: Val, pool: Pool, where: string, outputName = this.opts.outputName): Act {
    let x = this.act(v, where);
    if (pool !== 'none') {
      if (x.shape.length !== 4) throw new ConversionError(where, `${pool} pooling needs a 4-D output, got rank ${x.shape.length}`);
      const shape = [x.shape[0], x.shape[3]];
      const avg = pool === 'global-avg';
      if (x.layout === 'nchw') {
        const pooled = this.emit(avg ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], `${where}/global_pool`);
        x = { kind: 'act', name: this.emit('Flatten', [pooled], `${where}/flatten`, { axis: { i: 1 } }), shape, layout: 'nhwc' };
      } else {
        const reduce = avg ? 'ReduceMean' : 'ReduceMax';
        x = {
          kind: 'act',
          name: this.emit(reduce, [x.name], `${where}/global_pool`, { axes: { ints: [1, 2] }, keepdims: { i: 0 } }),
          shape,
          layout: 'nhwc',
        };
      }
    }
    x = this.toTf(x);
    const producer = this.nodes.find((nd) => nd.outputs[0] === x.name);
    const consumed = this.nodes.some((nd) => nd.inputs.includes(x.name));
    if (producer && !consumed) {
      producer.outputs[0] = outputName;
      producer.name = outputName;
    } else {
      this.emit('Identity', [x.name], outputName);
      this.nodes[this.nodes.length - 1].outputs[0] = outputName;
    }
    return { ...x, name: outputName };
  }
}

/** Nodes needed to compute `output`, inputs before consumers. Throws if `output` does not exist. */
export function subgraphInOrder(nodes: Map<string, TfNode>, output: string): TfNode[] {
  if (!nodes.has(output)) throw new ConversionError(output, 'no such node in the graph');
  const order: TfNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: { name: string; expanded: boolean }[] = [{ name: output, expanded: false }];
  while (stack.length) {
    const top = stack.pop()!;
    const node = nodes.get(top.name);
    if (!node) throw new ConversionError(top.name, 'referenced as an input but not in the graph');
    if (top.expanded) {
      state.set(top.name, 'done');
      order.push(node);
      continue;
    }
    const st = state.get(top.name);
    if (st === 'done') continue;
    if (st === 'visiting') throw new ConversionError(top.name, 'the graph has a cycle');
    state.set(top.name, 'visiting');
    stack.push({ name: top.name, expanded: true });
    const deps = (node.input ?? []).map(parseRef).filter((r) => !r.control);
    for (let i = deps.length - 1; i >= 0; i--) if (state.get(deps[i].node) !== 'done') stack.push({ name: deps[i].node, expanded: false });
  }
  return order;
}

/**
 * Convert a tfjs graph model, cut at `opts.outputNode`, to an ONNX model (opset 17) taking NHWC float32 input.
 * Throws UnsupportedOpsError listing every unsupported op in the cut subgraph before converting anything.
 */
export function convertGraphModel(model: TfjsGraphModel, opts: ConvertOptions, weights?: Map<string, HostTensor>): ConvertResult {
  const graph = new Map(model.json.modelTopology.node.map((nd) => [nd.name, nd]));
  const more = opts.moreOutputs ?? [];
  const order = subgraphInOrder(graph, opts.outputNode);
  for (const m of more) {
    const seen = new Set(order.map((nd) => nd.name));
    order.push(...subgraphInOrder(graph, m.node).filter((nd) => !seen.has(nd.name)));
  }

  const unsupported = new Map<string, string[]>();
  for (const nd of order) if (!SUPPORTED_OPS.includes(nd.op)) unsupported.set(nd.op, [...(unsupported.get(nd.op) ?? []), nd.name]);
  if (unsupported.size) throw new UnsupportedOpsError([...unsupported].map(([op, nodes]) => ({ op, nodes })));

  const placeholders = order.filter((nd) => nd.op === 'Placeholder').map((nd) => nd.name);
  const inputNode = opts.inputNode ?? placeholders[0];
  if (!inputNode) throw new ConversionError(opts.outputNode, 'no input Placeholder feeds this node');
  if (!placeholders.includes(inputNode)) throw new ConversionError(inputNode, `is not an input of ${opts.outputNode}`);

  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'output';
  const conv = new GraphConverter(weights ?? decodeWeights(model), {
    inputName,
    outputName,
    inputNode,
    inputSize: opts.inputSize,
    stripPrefix: opts.stripPrefix ?? '',
    reshapeKeepsBatch: opts.reshapeKeepsBatch,
    moreOutputNames: more.map((m) => m.name),
  });
  const opCounts: Record<string, number> = {};
  for (const nd of order) {
    conv.convertNode(nd);
    opCounts[nd.op] = (opCounts[nd.op] ?? 0) + 1;
  }
  const input = conv.valueOf(inputNode) as Act;
  // Every output is finished before any is renamed into place, so a node one head consumes stays where it is.
  const out = conv.finish(conv.valueOf(opts.outputNode), opts.pool ?? 'none', opts.outputNode);
  const outs = more.map((m) => conv.finish(conv.valueOf(m.node), 'none', m.node, m.name));
  const inputShape: Dim[] = opts.anySpatialSize ? ['batch', 'height', 'width', input.shape[3]] : ['batch', ...input.shape.slice(1)];
  const shapeOf = (a: Act): Dim[] => ['batch', ...a.shape.slice(1).map((d) => (d < 0 ? null : d))];
  const declared = (shape: Dim[]): Dim[] =>
    opts.anySpatialSize ? shape.map((d, i) => (i === 0 || i === shape.length - 1 ? d : null)) : shape;
  const outputShape = shapeOf(out);
  const moreOutputShapes = outs.map(shapeOf);
  const modelIR: ModelIR = {
    irVersion: 8,
    opsetVersion: OPSET,
    producerName: 'shoebox-tfjs-convert',
    producerVersion: opts.producerVersion,
    docString: opts.docString,
    metadata: opts.metadata,
    graph: {
      name: opts.graphName ?? 'converted',
      nodes: conv.nodes,
      initializers: conv.initializers,
      inputs: [{ name: inputName, dtype: 'float32', shape: inputShape }],
      outputs: [
        { name: outputName, dtype: 'float32', shape: declared(outputShape) },
        ...more.map((m, i) => ({ name: m.name, dtype: 'float32' as const, shape: declared(moreOutputShapes[i]) })),
      ],
    },
  };
  // Only what the output needs (the cut subgraph can carry side branches).
  return { model: pruneModel(modelIR), inputShape, outputShape, moreOutputShapes, opCounts };
}
