/**
 * Minimal ONNX protobuf encoder/decoder.
 *
 * Covers the subset of onnx.proto that Shoebox writes and reads: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto (raw_data and the typed repeated fields), ValueInfoProto with tensor types.
 * Written from the public onnx.proto field numbers; no code generator, no runtime dependency.
 */

export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint8Array
  | Int8Array;

export interface TensorData {
  name: string;
  dtype: DType;
  dims: number[];
  /** float16 is stored as raw uint16 bits; bool as uint8. */
  data: TypedArray;
}

export type AttrValue =
  | { f: number }
  | { i: number }
  | { s: string }
  | { t: TensorData }
  | { g: GraphIR }
  | { floats: number[] }
  | { ints: number[] }
  | { strings: string[] };

export interface NodeIR {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttrValue>;
}

export type Dim = number | string | null;

export interface ValueInfoIR {
  name: string;
  dtype: DType;
  shape: Dim[] | null;
}

export interface GraphIR {
  name: string;
  nodes: NodeIR[];
  initializers: TensorData[];
  inputs: ValueInfoIR[];
  outputs: ValueInfoIR[];
  valueInfo?: ValueInfoIR[];
}

export interface ModelIR {
  graph: GraphIR;
  opsetVersion: number;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

const DTYPE_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};
const CODE_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]));

export function dtypeCode(d: DType): number {
  return DTYPE_CODE[d];
}

export function dtypeFromCode(c: number): DType {
  const d = CODE_DTYPE.get(c);
  if (!d) throw new Error(`unsupported ONNX tensor data type ${c}`);
  return d;
}

export function typedArrayFor(d: DType, buf: ArrayBuffer, byteOffset: number, length: number): TypedArray {
  switch (d) {
    case 'float32':
      return new Float32Array(buf, byteOffset, length);
    case 'float64':
      return new Float64Array(buf, byteOffset, length);
    case 'float16':
      return new Uint16Array(buf, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, length);
    case 'int32':
      return new Int32Array(buf, byteOffset, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, length);
    case 'int8':
      return new Int8Array(buf, byteOffset, length);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

class Writer {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private pos = 0;
  length = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = new Uint8Array(Math.max(1 << 16, n));
    this.pos = 0;
  }

  byte(b: number): void {
    this.ensure(1);
    this.cur[this.pos++] = b;
    this.length++;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (typeof v === 'number' && v >= 0 && v < 0x80000000) {
      let n = v;
      while (n >= 0x80) {
        this.byte((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      this.byte(n);
      return;
    }
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.cur.set(b, this.pos);
    this.pos += b.length;
    this.length += b.length;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    out.set(this.cur.subarray(0, this.pos), off);
    return out;
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function writeString(w: Writer, field: number, s: string | undefined): void {
  if (s === undefined || s === '') return;
  const b = utf8.encode(s);
  w.tag(field, 2);
  w.varint(b.length);
  w.bytes(b);
}

function writeBytesField(w: Writer, field: number, b: Uint8Array): void {
  w.tag(field, 2);
  w.varint(b.length);
  w.bytes(b);
}

function writeInt(w: Writer, field: number, v: number | bigint): void {
  w.tag(field, 0);
  w.varint(v);
}

function writeMessage(w: Writer, field: number, fn: (w: Writer) => void): void {
  const inner = new Writer();
  fn(inner);
  writeBytesField(w, field, inner.finish());
}

function typedBytes(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeTensor(w: Writer, t: TensorData): void {
  for (const d of t.dims) writeInt(w, 1, d);
  writeInt(w, 2, DTYPE_CODE[t.dtype]);
  writeString(w, 8, t.name);
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) {
    throw new Error(`tensor ${t.name}: ${t.data.length} elements for dims [${t.dims.join(',')}]`);
  }
  // Little-endian hosts only (all platforms Shoebox ships on).
  writeBytesField(w, 9, typedBytes(t.data));
}

function writeValueInfo(w: Writer, v: ValueInfoIR): void {
  writeString(w, 1, v.name);
  writeMessage(w, 2, (tw) => {
    writeMessage(tw, 1, (tt) => {
      writeInt(tt, 1, DTYPE_CODE[v.dtype]);
      if (v.shape) {
        writeMessage(tt, 2, (sw) => {
          for (const d of v.shape ?? []) {
            writeMessage(sw, 1, (dw) => {
              if (typeof d === 'number') writeInt(dw, 1, d);
              else if (typeof d === 'string') writeString(dw, 2, d);
            });
          }
        });
      }
    });
  });
}

function writeAttribute(w: Writer, name: string, a: AttrValue): void {
  writeString(w, 1, name);
  if ('f' in a) {
    w.tag(2, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, a.f, true);
    w.bytes(b);
    writeInt(w, 20, 1);
  } else if ('i' in a) {
    writeInt(w, 3, a.i);
    writeInt(w, 20, 2);
  } else if ('s' in a) {
    writeBytesField(w, 4, utf8.encode(a.s));
    writeInt(w, 20, 3);
  } else if ('t' in a) {
    writeMessage(w, 5, (tw) => writeTensor(tw, a.t));
    writeInt(w, 20, 4);
  } else if ('g' in a) {
    writeMessage(w, 6, (gw) => writeGraph(gw, a.g));
    writeInt(w, 20, 5);
  } else if ('floats' in a) {
    const b = new Uint8Array(4 * a.floats.length);
    const dv = new DataView(b.buffer);
    a.floats.forEach((f, i) => dv.setFloat32(4 * i, f, true));
    writeBytesField(w, 7, b);
    writeInt(w, 20, 6);
  } else if ('ints' in a) {
    const inner = new Writer();
    for (const i of a.ints) inner.varint(i);
    writeBytesField(w, 8, inner.finish());
    writeInt(w, 20, 7);
  } else {
    for (const s of a.strings) writeBytesField(w, 9, utf8.encode(s));
    writeInt(w, 20, 8);
  }
}

function writeNode(w: Writer, n: NodeIR): void {
  for (const i of n.inputs) {
    // Empty strings are meaningful (omitted optional input) and must be kept positionally.
    const b = utf8.encode(i);
    w.tag(1, 2);
    w.varint(b.length);
    w.bytes(b);
  }
  for (const o of n.outputs) writeBytesField(w, 2, utf8.encode(o));
  writeString(w, 3, n.name);
  writeString(w, 4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) writeMessage(w, 5, (aw) => writeAttribute(aw, k, v));
  writeString(w, 7, n.domain);
}

function writeGraph(w: Writer, g: GraphIR): void {
  for (const n of g.nodes) writeMessage(w, 1, (nw) => writeNode(nw, n));
  writeString(w, 2, g.name);
  for (const t of g.initializers) writeMessage(w, 5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) writeMessage(w, 11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) writeMessage(w, 12, (vw) => writeValueInfo(vw, v));
  for (const v of g.valueInfo ?? []) writeMessage(w, 13, (vw) => writeValueInfo(vw, v));
}

/** Serialize a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelIR): Uint8Array {
  const w = new Writer();
  writeInt(w, 1, m.irVersion ?? 8);
  writeString(w, 2, m.producerName ?? 'shoebox');
  writeString(w, 3, m.producerVersion);
  writeString(w, 6, m.docString);
  writeMessage(w, 7, (gw) => writeGraph(gw, m.graph));
  writeMessage(w, 8, (ow) => {
    writeInt(ow, 2, m.opsetVersion);
  });
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    writeMessage(w, 14, (mw) => {
      writeString(mw, 1, k);
      writeString(mw, 2, v);
    });
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

interface Field {
  field: number;
  wire: number;
  /** varint value (wire 0), or fixed32/64 raw bytes / length-delimited payload. */
  int?: bigint;
  bytes?: Uint8Array;
}

function* fields(b: Uint8Array): Generator<Field> {
  let p = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= b.length) throw new Error('truncated protobuf varint');
      const byte = b[p++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (p < b.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { field, wire, int: readVarint() };
    else if (wire === 1) {
      yield { field, wire, bytes: b.subarray(p, p + 8) };
      p += 8;
    } else if (wire === 2) {
      const len = Number(readVarint());
      if (p + len > b.length) throw new Error('truncated protobuf field');
      yield { field, wire, bytes: b.subarray(p, p + len) };
      p += len;
    } else if (wire === 5) {
      yield { field, wire, bytes: b.subarray(p, p + 4) };
      p += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

function packedVarints(b: Uint8Array): bigint[] {
  const out: bigint[] = [];
  let p = 0;
  while (p < b.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = b[p++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    out.push(result);
  }
  return out;
}

const i64 = (v: bigint): number => Number(BigInt.asIntN(64, v));
const str = (b: Uint8Array | undefined): string => (b ? utf8d.decode(b) : '');

function readTensor(b: Uint8Array): TensorData {
  const dims: number[] = [];
  let code = 1;
  let name = '';
  let raw: Uint8Array | undefined;
  const floatData: number[] = [];
  const int64Data: bigint[] = [];
  const int32Data: number[] = [];
  const doubleData: number[] = [];
  for (const f of fields(b)) {
    switch (f.field) {
      case 1:
        if (f.wire === 2) dims.push(...packedVarints(f.bytes!).map(i64));
        else dims.push(i64(f.int!));
        break;
      case 2:
        code = Number(f.int);
        break;
      case 4:
        if (f.wire === 2) {
          const dv = new DataView(f.bytes!.buffer, f.bytes!.byteOffset, f.bytes!.byteLength);
          for (let i = 0; i < f.bytes!.byteLength; i += 4) floatData.push(dv.getFloat32(i, true));
        } else floatData.push(new DataView(f.bytes!.buffer, f.bytes!.byteOffset, 4).getFloat32(0, true));
        break;
      case 5:
        if (f.wire === 2) int32Data.push(...packedVarints(f.bytes!).map((v) => Number(BigInt.asIntN(32, v))));
        else int32Data.push(Number(BigInt.asIntN(32, f.int!)));
        break;
      case 7:
        if (f.wire === 2) int64Data.push(...packedVarints(f.bytes!).map((v) => BigInt.asIntN(64, v)));
        else int64Data.push(BigInt.asIntN(64, f.int!));
        break;
      case 8:
        name = str(f.bytes);
        break;
      case 9:
        raw = f.bytes;
        break;
      case 10: {
        const dv = new DataView(f.bytes!.buffer, f.bytes!.byteOffset, f.bytes!.byteLength);
        for (let i = 0; i < f.bytes!.byteLength; i += 8) doubleData.push(dv.getFloat64(i, true));
        break;
      }
      default:
        break;
    }
  }
  const dtype = dtypeFromCode(code);
  const n = dims.reduce((a, c) => a * c, 1);
  let data: TypedArray;
  if (raw) {
    const copy = new Uint8Array(raw); // aligned copy
    data = typedArrayFor(dtype, copy.buffer, 0, n);
  } else if (dtype === 'float32') data = Float32Array.from(floatData);
  else if (dtype === 'float64') data = Float64Array.from(doubleData);
  else if (dtype === 'int64') data = BigInt64Array.from(int64Data);
  else if (dtype === 'int32') data = Int32Array.from(int32Data);
  else if (dtype === 'float16') data = Uint16Array.from(int32Data);
  else if (dtype === 'int8') data = Int8Array.from(int32Data);
  else data = Uint8Array.from(int32Data);
  if (data.length !== n) throw new Error(`tensor ${name}: ${data.length} elements for dims [${dims.join(',')}]`);
  return { name, dtype, dims, data };
}

function readValueInfo(b: Uint8Array): ValueInfoIR {
  let name = '';
  let dtype: DType = 'float32';
  let shape: Dim[] | null = null;
  for (const f of fields(b)) {
    if (f.field === 1) name = str(f.bytes);
    else if (f.field === 2) {
      for (const typeProto of fields(f.bytes!)) {
        if (typeProto.field !== 1) continue;
        for (const tt of fields(typeProto.bytes!)) {
          if (tt.field === 1) dtype = dtypeFromCode(Number(tt.int));
          else if (tt.field === 2) {
            shape = [];
            for (const df of fields(tt.bytes!)) {
              if (df.field !== 1) continue;
              let d: Dim = null;
              for (const dd of fields(df.bytes!)) {
                if (dd.field === 1) d = i64(dd.int!);
                else if (dd.field === 2) d = str(dd.bytes);
              }
              shape.push(d);
            }
          }
        }
      }
    }
  }
  return { name, dtype, shape };
}

function readAttribute(b: Uint8Array): [string, AttrValue] {
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let t: TensorData | undefined;
  let g: GraphIR | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  for (const f of fields(b)) {
    switch (f.field) {
      case 1:
        name = str(f.bytes);
        break;
      case 2:
        f32 = new DataView(f.bytes!.buffer, f.bytes!.byteOffset, 4).getFloat32(0, true);
        break;
      case 3:
        i = i64(f.int!);
        break;
      case 4:
        s = str(f.bytes);
        break;
      case 5:
        t = readTensor(f.bytes!);
        break;
      case 6:
        g = readGraph(f.bytes!);
        break;
      case 7:
        if (f.wire === 2) {
          const dv = new DataView(f.bytes!.buffer, f.bytes!.byteOffset, f.bytes!.byteLength);
          for (let k = 0; k < f.bytes!.byteLength; k += 4) floats.push(dv.getFloat32(k, true));
        } else floats.push(new DataView(f.bytes!.buffer, f.bytes!.byteOffset, 4).getFloat32(0, true));
        break;
      case 8:
        if (f.wire === 2) ints.push(...packedVarints(f.bytes!).map(i64));
        else ints.push(i64(f.int!));
        break;
      case 9:
        strings.push(str(f.bytes));
        break;
      case 20:
        type = Number(f.int);
        break;
      default:
        break;
    }
  }
  switch (type) {
    case 1:
      return [name, { f: f32 ?? 0 }];
    case 2:
      return [name, { i: i ?? 0 }];
    case 3:
      return [name, { s: s ?? '' }];
    case 4:
      if (!t) throw new Error(`attribute ${name}: missing tensor`);
      return [name, { t }];
    case 5:
      if (!g) throw new Error(`attribute ${name}: missing graph`);
      return [name, { g }];
    case 6:
      return [name, { floats }];
    case 7:
      return [name, { ints }];
    case 8:
      return [name, { strings }];
    default:
      throw new Error(`attribute ${name}: unsupported type ${type}`);
  }
}

function readNode(b: Uint8Array): NodeIR {
  const n: NodeIR = { opType: '', inputs: [], outputs: [] };
  for (const f of fields(b)) {
    if (f.field === 1) n.inputs.push(str(f.bytes));
    else if (f.field === 2) n.outputs.push(str(f.bytes));
    else if (f.field === 3) n.name = str(f.bytes);
    else if (f.field === 4) n.opType = str(f.bytes);
    else if (f.field === 5) {
      const [k, v] = readAttribute(f.bytes!);
      (n.attributes ??= {})[k] = v;
    } else if (f.field === 7) n.domain = str(f.bytes);
  }
  return n;
}

function readGraph(b: Uint8Array): GraphIR {
  const g: GraphIR = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  for (const f of fields(b)) {
    if (f.field === 1) g.nodes.push(readNode(f.bytes!));
    else if (f.field === 2) g.name = str(f.bytes);
    else if (f.field === 5) g.initializers.push(readTensor(f.bytes!));
    else if (f.field === 11) g.inputs.push(readValueInfo(f.bytes!));
    else if (f.field === 12) g.outputs.push(readValueInfo(f.bytes!));
    else if (f.field === 13) g.valueInfo!.push(readValueInfo(f.bytes!));
  }
  return g;
}

/** Parse ONNX protobuf bytes (the subset above; unknown fields are skipped). */
export function decodeModel(b: Uint8Array): ModelIR {
  let graph: GraphIR | undefined;
  let opsetVersion = 0;
  let irVersion = 0;
  let producerName: string | undefined;
  let producerVersion: string | undefined;
  let docString: string | undefined;
  const metadata: Record<string, string> = {};
  for (const f of fields(b)) {
    if (f.field === 1) irVersion = i64(f.int!);
    else if (f.field === 2) producerName = str(f.bytes);
    else if (f.field === 3) producerVersion = str(f.bytes);
    else if (f.field === 6) docString = str(f.bytes);
    else if (f.field === 7) graph = readGraph(f.bytes!);
    else if (f.field === 8) {
      let domain = '';
      let version = 0;
      for (const of of fields(f.bytes!)) {
        if (of.field === 1) domain = str(of.bytes);
        else if (of.field === 2) version = i64(of.int!);
      }
      if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
    } else if (f.field === 14) {
      let k = '';
      let v = '';
      for (const mf of fields(f.bytes!)) {
        if (mf.field === 1) k = str(mf.bytes);
        else if (mf.field === 2) v = str(mf.bytes);
      }
      metadata[k] = v;
    }
  }
  if (!graph) throw new Error('not an ONNX model: no graph');
  return { graph, opsetVersion, irVersion, producerName, producerVersion, docString, metadata };
}
