/**
 * A small ONNX graph builder with static shapes and reverse-mode automatic differentiation.
 *
 * Every op records one ONNX node (opset {@link OPSET}; axes of Reduce*, Squeeze, Unsqueeze, Slice, Pad are int64
 * constant inputs) together with its vector-Jacobian product, so `g.grad(loss, params)` can append the backward pass
 * as more standard ONNX nodes. The result runs on a plain `InferenceSession` of any execution provider.
 *
 * ```ts
 * const g = new Graph('float32');
 * const x = g.input('x', [B, D]);
 * const W = g.param('W', [D, H]);
 * const loss = g.reduceMean(g.relu(g.matmul(x, W)));
 * const [dW] = g.grad(loss, [W]);
 * const model = g.toModel({ loss, dW });
 * ```
 */

import {
  dtypeCode,
  type AttrValue,
  type DType,
  type ModelIR,
  type NodeIR,
  type TensorData,
  type TypedArray,
  type ValueInfoIR,
} from '../onnx/proto.js';
import { broadcastShapes, formatShape, invertPerm, normAxes, normAxis, sameShape, sizeOf, type Shape } from './shape.js';

export type { Shape } from './shape.js';

/** ONNX opset every builder graph targets. */
export const OPSET = 18;

/** Floating point types a graph computes in. */
export type FloatDType = 'float32' | 'float64';

/** What created a tensor. Parameters are graph inputs that `grad` is usually asked about. */
export type TensorKind = 'input' | 'param' | 'const' | 'op';

/** A value in a graph: a name plus its static shape and element type. */
export class Tensor {
  /** Created by {@link Graph}; do not construct directly. */
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly kind: TensorKind,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  toString(): string {
    return `${this.name}:${this.dtype}${formatShape(this.shape)}`;
  }
}

/** A tensor or a plain number (turned into a scalar constant of the other operand's type). */
export type Operand = Tensor | number;

/**
 * Vector-Jacobian product of a node: given the gradient of its (single) output, returns the gradient of each input
 * whose `needs` flag is set (anything for the others). Gradients must have the input's exact shape.
 */
type Backward = (gy: Tensor, needs: readonly boolean[]) => readonly (Tensor | undefined)[];

/** A recorded ONNX node. */
export interface GraphNode {
  readonly op: string;
  /** `null` is an omitted optional input. */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly backward?: Backward;
  /** The tensors `backward` differentiates with respect to, if not `inputs` (composite ops). */
  readonly diffInputs?: readonly Tensor[];
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** A 2-D convolution's geometry (ONNX Conv attributes; NCHW). */
export interface ConvOptions {
  strides?: readonly [number, number];
  /** Top, left, bottom, right. */
  pads?: readonly [number, number, number, number];
  /** Channel groups: 1 a full convolution, the channel count a depthwise one. */
  group?: number;
}

export interface ToModelOptions {
  name?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

const FLOAT_TYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16']);

/** True for element types gradients flow through. */
export function isFloat(dtype: DType): boolean {
  return FLOAT_TYPES.has(dtype);
}

function typedArrayOf(dtype: DType, values: ArrayLike<number>): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
    case 'uint8':
      return Uint8Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'float16':
      throw new Error('float16 constants are not supported by the builder');
  }
}

/** Records nodes of one ONNX graph; see the module comment. */
export class Graph {
  /** Recorded nodes, in creation (hence topological) order. */
  readonly nodes: GraphNode[] = [];
  /** Declared graph inputs (parameters included), in declaration order. */
  readonly inputs: Tensor[] = [];
  /** The inputs declared with {@link param}. */
  readonly params: Tensor[] = [];

  private readonly initializers = new Map<string, TensorData>();
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, Tensor>();
  private readonly scopes: string[] = [];
  private counter = 0;
  /** > 0 while recording the inside of a composite op: its primitive nodes get no gradient rules. */
  private noGrad = 0;

  /** @param dtype the floating point type of parameters, constants made from numbers, and (default) inputs. */
  constructor(readonly dtype: FloatDType = 'float32') {}

  // -------------------------------------------------------------------------------------------------------------
  // Declarations

  /** Declare a graph input (fed at run time). */
  input(name: string, shape: Shape, dtype: DType = this.dtype): Tensor {
    return this.declare(name, shape, dtype, 'input');
  }

  /** Declare a trainable parameter: a graph input of the graph's float type, listed in {@link params}. */
  param(name: string, shape: Shape): Tensor {
    const t = this.declare(name, shape, this.dtype, 'param');
    this.params.push(t);
    return t;
  }

  /** A constant tensor stored as an initializer. */
  constant(values: ArrayLike<number>, shape: Shape, dtype: DType = this.dtype, name?: string): Tensor {
    if (values.length !== sizeOf(shape)) {
      throw new Error(`constant: ${values.length} values for shape ${formatShape(shape)}`);
    }
    const t = new Tensor(this, this.uniqueName(name ?? 'const'), [...shape], dtype, 'const');
    this.initializers.set(t.name, { name: t.name, dtype, dims: [...shape], data: typedArrayOf(dtype, values) });
    return t;
  }

  /** A scalar constant (cached, so repeated numbers share one initializer). */
  scalar(value: number, dtype: DType = this.dtype): Tensor {
    return this.cachedConst(`${dtype}:${value}`, [value], [], dtype);
  }

  /** A tensor of `shape` filled with one value (an Expand of a cached scalar: no large initializer). */
  full(shape: Shape, value: number, dtype: DType = this.dtype): Tensor {
    return this.expand(this.scalar(value, dtype), shape);
  }

  /** Run `fn` with `name/` prefixed to the names of the tensors it creates (names of inputs are kept as given). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Elementwise arithmetic (numpy broadcasting; gradients are summed back to each operand's shape)

  add(a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    return this.binary('Add', x, y, (gy, needs) => [
      needs[0] ? this.unbroadcast(gy, x.shape) : undefined,
      needs[1] ? this.unbroadcast(gy, y.shape) : undefined,
    ]);
  }

  sub(a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    return this.binary('Sub', x, y, (gy, needs) => [
      needs[0] ? this.unbroadcast(gy, x.shape) : undefined,
      needs[1] ? this.unbroadcast(this.neg(gy), y.shape) : undefined,
    ]);
  }

  mul(a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    return this.binary('Mul', x, y, (gy, needs) => [
      needs[0] ? this.unbroadcast(this.mul(gy, y), x.shape) : undefined,
      needs[1] ? this.unbroadcast(this.mul(gy, x), y.shape) : undefined,
    ]);
  }

  div(a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    const out: Tensor = this.binary('Div', x, y, (gy, needs) => [
      needs[0] ? this.unbroadcast(this.div(gy, y), x.shape) : undefined,
      // d(x/y)/dy = -(x/y)/y
      needs[1] ? this.unbroadcast(this.neg(this.div(this.mul(gy, out), y)), y.shape) : undefined,
    ]);
    return out;
  }

  neg(x: Tensor): Tensor {
    return this.unary('Neg', x, (gy) => this.neg(gy));
  }

  relu(x: Tensor): Tensor {
    const y: Tensor = this.unary('Relu', x, (gy) => this.where(this.greater(y, 0), gy, 0));
    return y;
  }

  /** Clip to [min, max] (either bound optional); the gradient passes where min <= x <= max. */
  clip(x: Tensor, min?: number, max?: number): Tensor {
    const lo = min === undefined ? null : this.scalar(min, x.dtype);
    const hi = max === undefined ? null : this.scalar(max, x.dtype);
    const inputs = hi ? [x, lo, hi] : lo ? [x, lo] : [x];
    return this.emit('Clip', inputs, x.shape, x.dtype, {}, (gy) => {
      let inside: Tensor | undefined;
      if (lo) inside = this.greaterOrEqual(x, lo);
      if (hi) inside = inside ? this.and(inside, this.lessOrEqual(x, hi)) : this.lessOrEqual(x, hi);
      return [inside ? this.where(inside, gy, 0) : gy];
    });
  }

  sqrt(x: Tensor): Tensor {
    const y: Tensor = this.unary('Sqrt', x, (gy) => this.div(this.mul(gy, 0.5), y));
    return y;
  }

  exp(x: Tensor): Tensor {
    const y: Tensor = this.unary('Exp', x, (gy) => this.mul(gy, y));
    return y;
  }

  log(x: Tensor): Tensor {
    return this.unary('Log', x, (gy) => this.div(gy, x));
  }

  /** x ** p for a constant exponent p. */
  pow(x: Tensor, p: number): Tensor {
    return this.emit('Pow', [x, this.scalar(p, x.dtype)], x.shape, x.dtype, {}, (gy) => {
      if (p === 0) return [this.mul(gy, 0)];
      const dpow = p === 1 ? gy : p === 2 ? this.mul(gy, x) : this.mul(gy, this.pow(x, p - 1));
      return [p === 1 ? gy : this.mul(dpow, p)];
    });
  }

  /** Elementwise choice; `cond` is boolean. */
  where(cond: Tensor, a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    const shape = broadcastShapes(cond.shape, broadcastShapes(x.shape, y.shape));
    return this.emit('Where', [cond, x, y], shape, x.dtype, {}, (gy, needs) => [
      undefined,
      needs[1] ? this.unbroadcast(this.where(cond, gy, 0), x.shape) : undefined,
      needs[2] ? this.unbroadcast(this.where(cond, 0, gy), y.shape) : undefined,
    ]);
  }

  // Comparisons and logic (boolean results; no gradient).

  greater(a: Operand, b: Operand): Tensor {
    return this.compare('Greater', a, b);
  }

  greaterOrEqual(a: Operand, b: Operand): Tensor {
    return this.compare('GreaterOrEqual', a, b);
  }

  less(a: Operand, b: Operand): Tensor {
    return this.compare('Less', a, b);
  }

  lessOrEqual(a: Operand, b: Operand): Tensor {
    return this.compare('LessOrEqual', a, b);
  }

  equal(a: Operand, b: Operand): Tensor {
    return this.compare('Equal', a, b);
  }

  and(a: Tensor, b: Tensor): Tensor {
    return this.emit('And', [a, b], broadcastShapes(a.shape, b.shape), 'bool', {});
  }

  /** Convert the element type; differentiable between float types. */
  cast(x: Tensor, dtype: DType): Tensor {
    if (x.dtype === dtype) return x;
    const back = isFloat(x.dtype) && isFloat(dtype);
    return this.emit('Cast', [x], x.shape, dtype, { to: { i: dtypeCode(dtype) } }, back ? (gy) => [this.cast(gy, x.dtype)] : undefined);
  }

  identity(x: Tensor): Tensor {
    return this.unary('Identity', x, (gy) => gy);
  }

  /** Identity that blocks gradients (the value is treated as a constant by {@link grad}). */
  stopGradient(x: Tensor): Tensor {
    return this.emit('Identity', [x], x.shape, x.dtype, {});
  }

  /**
   * A composite op with a hand-written gradient: `forward` builds the value from primitive ops (their own gradient
   * rules are not used) and `vjp` maps the gradient of the value to the gradients of `inputs`. Use it where the
   * generic chain rule would emit many more nodes than a known closed form (e.g. batch normalization).
   */
  composite(inputs: readonly Tensor[], forward: () => Tensor, vjp: Backward): Tensor {
    this.noGrad++;
    let y: Tensor;
    try {
      y = forward();
    } finally {
      this.noGrad--;
    }
    const out = new Tensor(this, this.uniqueName('Composite'), y.shape, y.dtype, 'op');
    this.nodes.push({
      op: 'Identity',
      inputs: [y],
      outputs: [out],
      attributes: {},
      backward: this.noGrad > 0 ? undefined : vjp,
      diffInputs: inputs,
    });
    return out;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Linear algebra

  /** Matrix product of rank >= 2 tensors with broadcast batch dimensions. */
  matmul(a: Tensor, b: Tensor): Tensor {
    if (a.rank < 2 || b.rank < 2) throw new Error(`matmul needs rank >= 2, got ${a} and ${b}`);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) throw new Error(`matmul: inner dimensions differ: ${a} x ${b}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.emit('MatMul', [a, b], [...batch, m, n], a.dtype, {}, (gy, needs) => {
      if (a.rank === 2 && b.rank === 2) {
        return [
          needs[0] ? this.gemm(gy, b, undefined, { transB: true }) : undefined,
          needs[1] ? this.gemm(a, gy, undefined, { transA: true }) : undefined,
        ];
      }
      if (b.rank === 2) {
        // Fold a's batch dimensions into rows: two plain GEMMs, no transposes.
        const rows = this.reshape(gy, [-1, n]);
        return [
          needs[0] ? this.reshape(this.gemm(rows, b, undefined, { transB: true }), a.shape) : undefined,
          needs[1] ? this.gemm(this.reshape(a, [-1, k]), rows, undefined, { transA: true }) : undefined,
        ];
      }
      return [
        needs[0] ? this.unbroadcast(this.matmul(gy, this.transposeLast2(b)), a.shape) : undefined,
        needs[1] ? this.unbroadcast(this.matmul(this.transposeLast2(a), gy), b.shape) : undefined,
      ];
    });
  }

  /** alpha * op(A) op(B) + beta * C for 2-D A, B (op = optional transpose) and C broadcastable to the result. */
  gemm(a: Tensor, b: Tensor, c?: Tensor, opts: GemmOptions = {}): Tensor {
    const { transA = false, transB = false, alpha = 1, beta = 1 } = opts;
    if (a.rank !== 2 || b.rank !== 2) throw new Error(`gemm needs 2-D operands, got ${a} and ${b}`);
    const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (k !== k2) throw new Error(`gemm: inner dimensions differ: ${a} x ${b} (transA=${transA}, transB=${transB})`);
    if (c) broadcastShapes([m, n], c.shape);
    const attributes: Record<string, AttrValue> = {};
    if (transA) attributes.transA = { i: 1 };
    if (transB) attributes.transB = { i: 1 };
    if (alpha !== 1) attributes.alpha = { f: alpha };
    if (beta !== 1) attributes.beta = { f: beta };
    const inputs = c ? [a, b, c] : [a, b];
    return this.emit('Gemm', inputs, [m, n], a.dtype, attributes, (gy, needs) => {
      const o = (tA: boolean, tB: boolean): GemmOptions => ({ transA: tA, transB: tB, alpha });
      // Y = alpha op(A) op(B) + beta C; each case picks the GEMM that yields dA / dB in the stored layout.
      let da: Tensor | undefined;
      let db: Tensor | undefined;
      if (needs[0]) da = transA ? this.gemm(b, gy, undefined, o(transB, true)) : this.gemm(gy, b, undefined, o(false, !transB));
      if (needs[1]) db = transB ? this.gemm(gy, a, undefined, o(true, transA)) : this.gemm(a, gy, undefined, o(!transA, false));
      // Attributes are float32: scale by the value the forward pass used, also in float64 graphs.
      const dc = needs[2] && c ? this.unbroadcast(beta === 1 ? gy : this.mul(gy, Math.fround(beta)), c.shape) : undefined;
      return [da, db, dc];
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Convolution

  /** 2-D convolution, NCHW: x [N, C, H, W], w [M, C / group, kh, kw], optional bias [M]. */
  conv2d(x: Tensor, w: Tensor, b?: Tensor, opts: ConvOptions = {}): Tensor {
    const [sh, sw] = opts.strides ?? [1, 1];
    const [pt, pl, pb, pr] = opts.pads ?? [0, 0, 0, 0];
    const group = opts.group ?? 1;
    if (x.rank !== 4 || w.rank !== 4) throw new Error(`conv2d needs NCHW input and [M, C/group, kh, kw] weights, got ${x} and ${w}`);
    const [n, c, h, wd] = x.shape;
    const [m, cg, kh, kw] = w.shape;
    if (c % group !== 0 || m % group !== 0 || cg !== c / group) throw new Error(`conv2d: ${x} and ${w} do not fit group ${group}`);
    if (b && (b.rank !== 1 || b.shape[0] !== m)) throw new Error(`conv2d: bias ${b} is not [${m}]`);
    const ho = Math.floor((h + pt + pb - kh) / sh) + 1;
    const wo = Math.floor((wd + pl + pr - kw) / sw) + 1;
    if (!(ho >= 1 && wo >= 1)) throw new Error(`conv2d: kernel ${kh}x${kw} larger than the padded input ${formatShape(x.shape)}`);
    const geometry = { strides: { ints: [sh, sw] }, pads: { ints: [pt, pl, pb, pr] }, group: { i: group } };
    const attributes = { kernel_shape: { ints: [kh, kw] }, ...geometry };
    const pointwise = kh === 1 && kw === 1 && sh === 1 && sw === 1 && group === 1 && [pt, pl, pb, pr].every((v) => v === 0);
    return this.emit('Conv', b ? [x, w, b] : [x, w], [n, m, ho, wo], x.dtype, attributes, (gy, needs) => {
      const db = needs[2] ? this.reduceSum(gy, [0, 2, 3]) : undefined;
      if (pointwise) {
        // A 1x1 convolution is a matrix product over the pixels: two plain ones back.
        const rows = (t: Tensor, ch: number): Tensor => this.reshape(this.transpose(t, [0, 2, 3, 1]), [n * h * wd, ch]);
        const gr = rows(gy, m);
        const w2 = this.reshape(w, [m, c]);
        return [
          needs[0] ? this.transpose(this.reshape(this.matmul(gr, w2), [n, h, wd, c]), [0, 3, 1, 2]) : undefined,
          needs[1] ? this.reshape(this.gemm(gr, rows(x, c), undefined, { transA: true }), w.shape) : undefined,
          db,
        ];
      }
      let dx: Tensor | undefined;
      let dw: Tensor | undefined;
      // dx: the transposed convolution with the same weights, padded out to x's size where the strides dropped rows.
      if (needs[0]) {
        const outputPadding = [h - ((ho - 1) * sh + kh - pt - pb), wd - ((wo - 1) * sw + kw - pl - pr)];
        dx = this.emit('ConvTranspose', [gy, w], x.shape, x.dtype, { ...attributes, output_padding: { ints: outputPadding } });
      }
      // dw: per group, x correlated with gy: x's channels become the batch, gy's batch the input channels and the
      // strides dilations; rows past the kernel (strides that did not divide the input) are cut off.
      if (needs[1]) {
        const xs = this.reshape(this.transpose(this.reshape(x, [n, group, cg, h, wd]), [2, 1, 0, 3, 4]), [cg, group * n, h, wd]);
        const gs = this.transpose(gy, [1, 0, 2, 3]);
        const kh2 = h + pt + pb - (ho - 1) * sh;
        const kw2 = wd + pl + pr - (wo - 1) * sw;
        const corr = this.emit('Conv', [xs, gs], [cg, m, kh2, kw2], x.dtype, {
          kernel_shape: { ints: [ho, wo] },
          dilations: { ints: [sh, sw] },
          pads: { ints: [pt, pl, pb, pr] },
          group: { i: group },
        });
        dw = this.transpose(kh2 > kh || kw2 > kw ? this.slice(corr, [0, 0], [kh, kw], [2, 3]) : corr, [1, 0, 2, 3]);
      }
      return [dx, dw, db];
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reductions and normalization

  /** Sum over `axes` (all axes if omitted or empty). */
  reduceSum(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    return this.reduce('ReduceSum', x, axes, keepdims, 1);
  }

  /** Mean over `axes` (all axes if omitted or empty). */
  reduceMean(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    const ax = axes && axes.length > 0 ? normAxes(axes, x.rank) : x.shape.map((_, i) => i);
    const count = ax.reduce((n, a) => n * x.shape[a], 1);
    return this.reduce('ReduceMean', x, axes, keepdims, 1 / count);
  }

  /** Sum of squares over `axes` (all axes if omitted or empty): one pass instead of Mul + ReduceSum. */
  reduceSumSquare(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    return this.reduce('ReduceSumSquare', x, axes, keepdims, 2, x);
  }

  softmax(x: Tensor, axis = -1): Tensor {
    const ax = normAxis(axis, x.rank);
    const y: Tensor = this.emit('Softmax', [x], x.shape, x.dtype, { axis: { i: ax } }, (gy) => {
      const gyy = this.mul(gy, y);
      return [this.sub(gyy, this.mul(y, this.reduceSum(gyy, [ax], true)))];
    });
    return y;
  }

  logSoftmax(x: Tensor, axis = -1): Tensor {
    const ax = normAxis(axis, x.rank);
    const y: Tensor = this.emit('LogSoftmax', [x], x.shape, x.dtype, { axis: { i: ax } }, (gy) => [
      this.sub(gy, this.mul(this.exp(y), this.reduceSum(gy, [ax], true))),
    ]);
    return y;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Shape manipulation

  /** Permute axes (reverse them if `perm` is omitted). */
  transpose(x: Tensor, perm?: readonly number[]): Tensor {
    const p = perm ? perm.map((a) => normAxis(a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
    if (new Set(p).size !== x.rank || p.length !== x.rank) throw new Error(`transpose: bad permutation [${p.join(',')}]`);
    const inv = invertPerm(p);
    return this.emit(
      'Transpose',
      [x],
      p.map((a) => x.shape[a]),
      x.dtype,
      { perm: { ints: p } },
      (gy) => [this.transpose(gy, inv)],
    );
  }

  /** Reshape; one dimension may be -1 (inferred), 0 is not special. */
  reshape(x: Tensor, shape: readonly number[]): Tensor {
    const out = [...shape];
    const free = out.indexOf(-1);
    if (free >= 0) {
      const known = out.reduce((n, d, i) => (i === free ? n : n * d), 1);
      out[free] = known === 0 ? 0 : x.size / known;
    }
    if (sizeOf(out) !== x.size || out.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`reshape: cannot reshape ${x} to [${shape.join(',')}]`);
    }
    if (sameShape(out, x.shape)) return x;
    return this.emit('Reshape', [x, this.ints(out)], out, x.dtype, {}, (gy) => [this.reshape(gy, x.shape)]);
  }

  /** Insert size-1 axes; `axes` index the output. */
  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    const rank = x.rank + axes.length;
    const ax = normAxes(axes, rank);
    if (ax.length !== axes.length) throw new Error('unsqueeze: repeated axes');
    const out: number[] = [];
    let src = 0;
    for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[src++]);
    return this.emit('Unsqueeze', [x, this.ints(ax)], out, x.dtype, {}, (gy) => [this.reshape(gy, x.shape)]);
  }

  /** Remove size-1 axes (all of them if `axes` is omitted). */
  squeeze(x: Tensor, axes?: readonly number[]): Tensor {
    const ax = axes ? normAxes(axes, x.rank) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of ax) if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of ${x} is not 1`);
    const out = x.shape.filter((_, i) => !ax.includes(i));
    return this.emit('Squeeze', [x, this.ints(ax)], out, x.dtype, {}, (gy) => [this.reshape(gy, x.shape)]);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new Error('concat of nothing');
    const first = xs[0];
    const ax = normAxis(axis, first.rank);
    for (const x of xs) {
      if (x.rank !== first.rank || x.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
        throw new Error(`concat: ${x} does not match ${first} outside axis ${ax}`);
      }
    }
    const out = [...first.shape];
    out[ax] = xs.reduce((n, x) => n + x.shape[ax], 0);
    return this.emit('Concat', [...xs], out, first.dtype, { axis: { i: ax } }, (gy, needs) => {
      let offset = 0;
      return xs.map((x, i) => {
        const start = offset;
        offset += x.shape[ax];
        return needs[i] ? this.slice(gy, [start], [offset], [ax]) : undefined;
      });
    });
  }

  /** ONNX Slice with static starts/ends (clamped like ONNX) and positive steps. */
  slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor {
    const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank));
    const st = steps ?? ax.map(() => 1);
    if (starts.length !== ax.length || ends.length !== ax.length || st.length !== ax.length) {
      throw new Error('slice: starts, ends, axes and steps must have equal lengths');
    }
    const out = [...x.shape];
    const spans = ax.map((a, i) => {
      const dim = x.shape[a];
      const step = st[i];
      if (!Number.isInteger(step) || step <= 0) throw new Error('slice: only positive steps are supported');
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const start = clamp(starts[i]);
      const len = Math.max(0, Math.ceil((clamp(ends[i]) - start) / step));
      out[a] = len;
      return { axis: a, start, len, step, dim };
    });
    const inputs = [
      x,
      this.ints(spans.map((s) => s.start)),
      this.ints(spans.map((s) => s.start + s.len * s.step)),
      this.ints(ax),
      this.ints(st),
    ];
    return this.emit('Slice', inputs, out, x.dtype, {}, (gy) => {
      // Scatter back with zero padding; a step s becomes "pad each element with s-1 zeros" along that axis.
      let g = gy;
      for (const s of spans) {
        if (s.step === 1) continue;
        const shape = [...g.shape];
        g = this.pad(this.unsqueeze(g, [s.axis + 1]), s.axis + 1, 0, s.step - 1);
        shape[s.axis] = s.len * s.step;
        g = this.reshape(g, shape);
      }
      const pads = new Array<number>(2 * x.rank).fill(0);
      for (const s of spans) {
        pads[s.axis] = s.start;
        pads[x.rank + s.axis] = s.dim - s.start - s.len * s.step; // may be negative: crops the step padding
      }
      return [this.padAll(g, pads, x.shape)];
    });
  }

  /** Broadcast to `shape` (numpy rules, like ONNX Expand). */
  expand(x: Tensor, shape: Shape): Tensor {
    const out = broadcastShapes(x.shape, shape);
    if (sameShape(out, x.shape)) return x;
    return this.emit('Expand', [x, this.ints(out)], out, x.dtype, {}, (gy) => [this.unbroadcast(gy, x.shape)]);
  }

  /** Take entries of `x` along `axis` at integer `indices` (int32/int64; negative counts from the end). */
  gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new Error(`gather: indices must be integers, got ${indices}`);
    const a = normAxis(axis, x.rank);
    const out = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
    return this.emit('Gather', [x, indices], out, x.dtype, { axis: { i: a } }, (gy) => {
      // Scatter-add the incoming rows back to the positions they were read from.
      const n = indices.size;
      const rows = this.reshape(gy, [...x.shape.slice(0, a), n, ...x.shape.slice(a + 1)]);
      const idxShape = x.shape.map((_, i) => (i === a ? n : 1));
      const idx = this.expand(this.reshape(indices, idxShape), rows.shape);
      const zeros = this.full(x.shape, 0, x.dtype);
      return [this.emit('ScatterElements', [zeros, idx, rows], x.shape, x.dtype, { axis: { i: a }, reduction: { s: 'add' } }), undefined];
    });
  }

  /** Sum `g` (a broadcast result) back to `shape`. */
  unbroadcast(g: Tensor, shape: Shape): Tensor {
    if (sameShape(g.shape, shape)) return g;
    const lead = g.rank - shape.length;
    if (lead < 0) throw new Error(`unbroadcast: ${g} has lower rank than ${formatShape(shape)}`);
    const axes: number[] = [];
    for (let i = 0; i < g.rank; i++) {
      if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    }
    const summed = axes.length > 0 ? this.reduceSum(g, axes, true) : g;
    return this.reshape(summed, shape);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Autodiff

  /**
   * Reverse-mode gradients of `y` with respect to `wrt`, appended to the graph as nodes.
   * `y` must be a scalar unless `seed` (the gradient of some scalar with respect to `y`) is given.
   * Values reached only through {@link stopGradient} or non-float ops are constants. Tensors `y` does not depend
   * on get a zero gradient.
   */
  grad(y: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
    if (!seed && y.size !== 1) throw new Error(`grad: ${y} is not a scalar; pass a seed`);
    if (seed && !sameShape(seed.shape, y.shape)) throw new Error(`grad: seed ${seed} does not match ${y}`);
    const end = this.nodes.length;
    // Forward pass: which values depend on wrt (only those need gradients).
    const live = new Set<Tensor>(wrt);
    const diffInputs = (node: GraphNode): readonly (Tensor | null)[] => node.diffInputs ?? node.inputs;
    for (let i = 0; i < end; i++) {
      const node = this.nodes[i];
      if (node.backward && diffInputs(node).some((t) => t !== null && live.has(t))) {
        for (const o of node.outputs) if (isFloat(o.dtype)) live.add(o);
      }
    }
    const grads = new Map<Tensor, Tensor>();
    if (live.has(y)) grads.set(y, seed ?? this.full(y.shape, 1, y.dtype));
    for (let i = end - 1; i >= 0; i--) {
      const node = this.nodes[i];
      const gy = grads.get(node.outputs[0]);
      if (!gy || !node.backward) continue;
      const inputs = diffInputs(node);
      const needs = inputs.map((t) => t !== null && live.has(t));
      if (!needs.some(Boolean)) continue;
      const gin = node.backward(gy, needs);
      inputs.forEach((t, k) => {
        const gk = gin[k];
        if (!needs[k] || !t || !gk) return;
        if (!sameShape(gk.shape, t.shape)) {
          throw new Error(`internal: gradient of ${t} from ${node.op} has shape ${formatShape(gk.shape)}`);
        }
        const prev = grads.get(t);
        grads.set(t, prev ? this.add(prev, gk) : gk);
      });
    }
    return wrt.map((p) => grads.get(p) ?? this.full(p.shape, 0, p.dtype));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Export

  /**
   * Build an ONNX model computing `outputs` (keyed by output name). All declared inputs are kept, in declaration
   * order; only the nodes and initializers the outputs need are emitted. Intermediate shapes go into value_info.
   */
  toModel(outputs: Record<string, Tensor>, opts: ToModelOptions = {}): ModelIR {
    const nodes: NodeIR[] = [];
    const outputInfos: ValueInfoIR[] = [];
    const outputTensors = new Set<Tensor>();
    const aliases: NodeIR[] = [];
    const taken = new Set(Object.keys(outputs));
    // An op output is renamed to its output key (no copy); inputs, constants and tensors requested under a second
    // key get an Identity node.
    const rename = new Map<Tensor, string>();
    for (const [key, t] of Object.entries(outputs)) {
      if (t.graph !== this) throw new Error(`output ${key} belongs to another graph`);
      if (this.names.has(key) && key !== t.name) throw new Error(`output name ${key} is already a tensor name`);
      outputInfos.push({ name: key, dtype: t.dtype, shape: [...t.shape] });
      outputTensors.add(t);
      if (t.kind === 'op' && !rename.has(t)) rename.set(t, key);
      else if (rename.get(t) !== key)
        aliases.push({ opType: 'Identity', inputs: [rename.get(t) ?? t.name], outputs: [key], name: `output/${key}` });
    }
    const nameOf = (t: Tensor): string => rename.get(t) ?? t.name;
    // Dead code elimination: keep nodes on the way to an output.
    const needed = new Set<Tensor>(outputTensors);
    const keep = new Array<boolean>(this.nodes.length).fill(false);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (!node.outputs.some((o) => needed.has(o))) continue;
      keep[i] = true;
      for (const t of node.inputs) if (t) needed.add(t);
    }
    const valueInfo: ValueInfoIR[] = [];
    this.nodes.forEach((node, i) => {
      if (!keep[i]) return;
      const n: NodeIR = {
        opType: node.op,
        inputs: node.inputs.map((t) => (t ? nameOf(t) : '')),
        outputs: node.outputs.map(nameOf),
        name: node.outputs[0].name,
      };
      if (Object.keys(node.attributes).length > 0) n.attributes = { ...node.attributes };
      nodes.push(n);
      for (const o of node.outputs) {
        if (!taken.has(nameOf(o))) valueInfo.push({ name: o.name, dtype: o.dtype, shape: [...o.shape] });
      }
    });
    nodes.push(...aliases);
    const initializers = [...needed].flatMap((t) => (t.kind === 'const' ? [this.initializers.get(t.name)!] : []));
    return {
      opsetVersion: OPSET,
      irVersion: 8,
      producerName: 'shoebox',
      docString: opts.docString,
      metadata: opts.metadata,
      graph: {
        name: opts.name ?? 'graph',
        nodes,
        initializers,
        inputs: this.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
        outputs: outputInfos,
        valueInfo,
      },
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals

  private declare(name: string, shape: Shape, dtype: DType, kind: TensorKind): Tensor {
    if (this.names.has(name)) throw new Error(`duplicate tensor name ${name}`);
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${name}: bad shape ${formatShape(shape)}`);
    this.names.add(name);
    const t = new Tensor(this, name, [...shape], dtype, kind);
    this.inputs.push(t);
    return t;
  }

  private uniqueName(base: string): string {
    const prefix = this.scopes.length > 0 ? `${this.scopes.join('/')}/` : '';
    let name: string;
    do name = `${prefix}${base}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private cachedConst(key: string, values: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
    let t = this.constCache.get(key);
    if (!t) {
      const saved = this.scopes.splice(0); // constants are shared across scopes
      t = this.constant(values, shape, dtype);
      this.scopes.push(...saved);
      this.constCache.set(key, t);
    }
    return t;
  }

  /** An int64 vector constant (axes, shapes, pads, slice bounds). */
  private ints(values: readonly number[]): Tensor {
    return this.cachedConst(`int64:[${values.join(',')}]`, values, [values.length], 'int64');
  }

  private emit(
    op: string,
    inputs: readonly (Tensor | null)[],
    shape: Shape,
    dtype: DType,
    attributes: Record<string, AttrValue>,
    backward?: Backward,
  ): Tensor {
    for (const t of inputs) if (t && t.graph !== this) throw new Error(`${op}: ${t} belongs to another graph`);
    const out = new Tensor(this, this.uniqueName(op), [...shape], dtype, 'op');
    this.nodes.push({ op, inputs, outputs: [out], attributes, backward: this.noGrad > 0 ? undefined : backward });
    return out;
  }

  private operands(a: Operand, b: Operand): [Tensor, Tensor] {
    if (typeof a === 'number' && typeof b === 'number') throw new Error('at least one operand must be a tensor');
    const like = (typeof a === 'number' ? b : a) as Tensor;
    const x = typeof a === 'number' ? this.scalar(a, like.dtype) : a;
    const y = typeof b === 'number' ? this.scalar(b, like.dtype) : b;
    if (x.dtype !== y.dtype) throw new Error(`operand types differ: ${x} vs ${y}`);
    return [x, y];
  }

  private binary(op: string, x: Tensor, y: Tensor, backward: Backward): Tensor {
    return this.emit(op, [x, y], broadcastShapes(x.shape, y.shape), x.dtype, {}, backward);
  }

  private unary(op: string, x: Tensor, backward: (gy: Tensor) => Tensor): Tensor {
    return this.emit(op, [x], x.shape, x.dtype, {}, (gy) => [backward(gy)]);
  }

  private compare(op: string, a: Operand, b: Operand): Tensor {
    const [x, y] = this.operands(a, b);
    return this.emit(op, [x, y], broadcastShapes(x.shape, y.shape), 'bool', {});
  }

  /** A reduction whose input gradient is expand(gy) * scale (* factor, elementwise, when given). */
  private reduce(op: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean, scale: number, factor?: Tensor): Tensor {
    const ax = axes && axes.length > 0 ? normAxes(axes, x.rank) : x.shape.map((_, i) => i);
    const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const out = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
    return this.emit(op, [x, this.ints(ax)], out, x.dtype, { keepdims: { i: keepdims ? 1 : 0 } }, (gy) => {
      const g = this.reshape(gy, kept);
      if (factor) return [this.mul(this.mul(g, scale), factor)];
      const full = this.expand(g, x.shape);
      return [scale === 1 ? full : this.mul(full, scale)];
    });
  }

  private transposeLast2(x: Tensor): Tensor {
    const perm = x.shape.map((_, i) => i);
    perm.splice(-2, 2, x.rank - 1, x.rank - 2);
    return this.transpose(x, perm);
  }

  /** Zero-pad one axis (gradient-free helper used by slice's gradient). */
  private pad(x: Tensor, axis: number, before: number, after: number): Tensor {
    const pads = new Array<number>(2 * x.rank).fill(0);
    pads[axis] = before;
    pads[x.rank + axis] = after;
    const shape = [...x.shape];
    shape[axis] += before + after;
    return this.padAll(x, pads, shape);
  }

  private padAll(x: Tensor, pads: readonly number[], shape: Shape): Tensor {
    if (pads.every((p) => p === 0)) return x;
    return this.emit('Pad', [x, this.ints(pads)], shape, x.dtype, { mode: { s: 'constant' } });
  }
}
