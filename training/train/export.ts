/**
 * Inference exports of a trained adapter: BatchNorm folded into the first linear layer (running statistics), output
 * L2-normalized. Either standalone (features [N, D] -> embedding [N, E]) or merged behind a backbone into one encoder.
 */

import { createHash } from 'node:crypto';
import type { EncoderManifest } from '../manifest.js';
import { decodeModel, encodeModel, type DType, type ModelIR, type NodeIR, type TensorData, type ValueInfoIR } from '../onnx/proto.js';
import { pruneModel } from '../onnx/prune.js';
import { OPSET } from '../graph/graph.js';
import { TRAIN_FEATURES, trainFeaturesModel, unitConstants, unitRowNodes } from './features.js';
import type { AdapterParams } from './model.js';
import { readInvertedResidual, withTrainedBlock, type BlockConvs } from './backbone.js';

/** The adapter as two affine layers: relu(x W1 + b1) W2 + b2. */
export interface FoldedAdapter {
  inputDim: number;
  hiddenDim: number;
  embedDim: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/** Added to the squared norm before the square root, as in training (a zero embedding stays zero). */
const NORM_EPS = 1e-12;

/** Fold inference-mode BatchNorm (running mean/variance) into the first linear layer. */
export function foldAdapter(params: AdapterParams): FoldedAdapter {
  const { inputDim: d, hiddenDim: h, embedDim: e, bnEps } = params.config;
  const w = params.weights;
  const scale = new Float64Array(h);
  const b1 = new Float32Array(h);
  for (let j = 0; j < h; j++) {
    scale[j] = w['bn.gamma'][j] / Math.sqrt(w['bn.var'][j] + bnEps);
    b1[j] = w['bn.beta'][j] - w['bn.mean'][j] * scale[j];
  }
  const w1 = new Float32Array(d * h);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < h; j++) w1[i * h + j] = w.w1[i * h + j] * scale[j];
  }
  return { inputDim: d, hiddenDim: h, embedDim: e, w1, b1, w2: Float32Array.from(w.w2), b2: Float32Array.from(w.b2) };
}

const WEIGHTS = ['w1', 'b1', 'w2', 'b2'] as const;
type WeightName = (typeof WEIGHTS)[number];

function weightShapes(f: Pick<FoldedAdapter, 'inputDim' | 'hiddenDim' | 'embedDim'>): Record<WeightName, number[]> {
  return { w1: [f.inputDim, f.hiddenDim], b1: [f.hiddenDim], w2: [f.hiddenDim, f.embedDim], b2: [f.embedDim] };
}

interface AdapterNodes {
  nodes: NodeIR[];
  initializers: TensorData[];
  /** Names the weights are read from (initializers, or inputs when weights are fed at run time). */
  weightNames: Record<WeightName, string>;
}

/**
 * The adapter's inference nodes reading `input` [N, D] and writing `output` [N, E]. Ops valid from opset 13 (Gemm
 * without C needs 11; ReduceSumSquare takes axes as an attribute before opset 18 and as an input from 18).
 */
function adapterNodes(input: string, output: string, prefix: string, opset: number, weights: FoldedAdapter | null): AdapterNodes {
  if (opset < 13) throw new Error(`adapter export needs opset >= 13, got ${opset}`);
  const n = (s: string): string => `${prefix}${s}`;
  const weightNames = Object.fromEntries(WEIGHTS.map((k) => [k, n(k)])) as Record<WeightName, string>;
  const initializers: TensorData[] = [];
  if (weights) {
    const shapes = weightShapes(weights);
    for (const k of WEIGHTS) initializers.push({ name: weightNames[k], dtype: 'float32', dims: shapes[k], data: weights[k] });
  }
  const scalar = (name: string, v: number): TensorData => ({ name: n(name), dtype: 'float32', dims: [], data: Float32Array.of(v) });
  initializers.push(scalar('eps', NORM_EPS));
  const reduceInputs = [n('y')];
  const reduceAttrs: NodeIR['attributes'] = { keepdims: { i: 1 } };
  if (opset >= 18) {
    initializers.push({ name: n('axes'), dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) });
    reduceInputs.push(n('axes'));
  } else reduceAttrs.axes = { ints: [1] };
  const nodes: NodeIR[] = [
    { opType: 'Gemm', inputs: [input, weightNames.w1, weightNames.b1], outputs: [n('h')], name: n('fc1') },
    { opType: 'Relu', inputs: [n('h')], outputs: [n('a')], name: n('relu') },
    { opType: 'Gemm', inputs: [n('a'), weightNames.w2, weightNames.b2], outputs: [n('y')], name: n('fc2') },
    { opType: 'ReduceSumSquare', inputs: reduceInputs, outputs: [n('sq')], name: n('sumsq'), attributes: reduceAttrs },
    { opType: 'Add', inputs: [n('sq'), n('eps')], outputs: [n('sq_eps')], name: n('add_eps') },
    { opType: 'Sqrt', inputs: [n('sq_eps')], outputs: [n('norm')], name: n('norm') },
    { opType: 'Div', inputs: [n('y'), n('norm')], outputs: [output], name: n('normalize') },
  ];
  return { nodes, initializers, weightNames };
}

export interface AdapterExportOptions {
  inputName?: string;
  outputName?: string;
  /** Batch dimension: a fixed size or a symbolic name (default 'N'). */
  batch?: number | string;
  /** Stored as model metadata. */
  metadata?: Record<string, string>;
  /**
   * The input's parts (channels each, summing to D) to scale to unit length per row first, for an adapter trained
   * on features whose manifest says `unitParts`: the library stores them plain (features.ts).
   */
  unitParts?: readonly number[];
}

/** Standalone inference model: `features` [N, D] -> unit-norm `embedding` [N, E] (opset {@link OPSET}). */
export function exportAdapterModel(params: AdapterParams, opts: AdapterExportOptions = {}): ModelIR {
  const folded = foldAdapter(params);
  const { inputName = 'features', outputName = 'embedding', batch = 'N' } = opts;
  const scale = opts.unitParts ? unitPartsNodes(inputName, 'adapter/scaled', 'adapter/parts/', opts.unitParts, folded.inputDim) : null;
  const body = adapterNodes(scale ? 'adapter/scaled' : inputName, outputName, 'adapter/', OPSET, folded);
  if (scale) {
    body.nodes.unshift(...scale.nodes);
    body.initializers.push(...scale.initializers);
  }
  return {
    opsetVersion: OPSET,
    irVersion: 8,
    producerName: 'shoebox',
    docString: 'Shoebox embedding adapter (BatchNorm folded, L2-normalized output)',
    metadata: opts.metadata,
    graph: {
      name: 'adapter',
      nodes: body.nodes,
      initializers: body.initializers,
      inputs: [{ name: inputName, dtype: 'float32', shape: [batch, folded.inputDim] }],
      outputs: [{ name: outputName, dtype: 'float32', shape: [batch, folded.embedDim] }],
    },
  };
}

/** Slice `x` [N, D] into `parts`, scale each to unit length per row, concatenate them again as `out`. */
function unitPartsNodes(x: string, out: string, pre: string, parts: readonly number[], dim: number): { nodes: NodeIR[]; initializers: TensorData[] } {
  if (parts.reduce((a, b) => a + b, 0) !== dim) throw new Error(`unit parts ${parts.join('+')} do not make the adapter's ${dim} inputs`);
  const initializers: TensorData[] = [...unitConstants(pre, OPSET)];
  const nodes: NodeIR[] = [];
  const i64 = (name: string, v: number): TensorData => ({ name, dtype: 'int64', dims: [1], data: BigInt64Array.of(BigInt(v)) });
  let at = 0;
  const outs = parts.map((d, i) => {
    initializers.push(i64(`${pre}start${i}`, at), i64(`${pre}end${i}`, at + d));
    at += d;
    nodes.push({
      opType: 'Slice',
      inputs: [x, `${pre}start${i}`, `${pre}end${i}`, `${pre}axes`],
      outputs: [`${pre}part${i}`],
      name: `${pre}part${i}`,
    });
    nodes.push(...unitRowNodes(`${pre}part${i}`, `${pre}unit${i}`, pre, String(i), OPSET));
    return `${pre}unit${i}`;
  });
  nodes.push({ opType: 'Concat', inputs: outs, outputs: [out], name: `${pre}concat`, attributes: { axis: { i: 1 } } });
  return { nodes, initializers };
}

/**
 * The same inference graph with the folded weights as inputs `w1`, `b1`, `w2`, `b2` (fed per run), so one session
 * can embed with changing weights during training.
 */
export function adapterInferenceModelWithWeightInputs(
  dims: Pick<FoldedAdapter, 'inputDim' | 'hiddenDim' | 'embedDim'>,
  batch: number | string = 'N',
): ModelIR {
  const body = adapterNodes('features', 'embedding', '', OPSET, null);
  const shapes = weightShapes(dims);
  return {
    opsetVersion: OPSET,
    irVersion: 8,
    producerName: 'shoebox',
    graph: {
      name: 'adapter-inference',
      nodes: body.nodes,
      initializers: body.initializers,
      inputs: [
        { name: 'features', dtype: 'float32', shape: [batch, dims.inputDim] },
        ...WEIGHTS.map((k): ValueInfoIR => ({ name: body.weightNames[k], dtype: 'float32', shape: shapes[k] })),
      ],
      outputs: [{ name: 'embedding', dtype: 'float32', shape: [batch, dims.embedDim] }],
    },
  };
}

export interface MergeOptions {
  /** Name of the merged model's output (default 'embedding'). */
  outputName?: string;
  metadata?: Record<string, string>;
}

/**
 * One model: `backbone` followed by the trained adapter, reading the backbone's `backboneOutputName` (flattened to
 * [N, D]) and producing unit-norm `embedding` [N, E]. The backbone's inputs, opset and nodes are kept as they are;
 * its other outputs are dropped. Adapter names are prefixed with `adapter/` (and made unique if needed).
 */
export function mergeEncoder(backbone: ModelIR, params: AdapterParams, backboneOutputName: string, opts: MergeOptions = {}): ModelIR {
  const src = backbone.graph;
  const outInfo = src.outputs.find((o) => o.name === backboneOutputName);
  const produced = outInfo ?? src.valueInfo?.find((v) => v.name === backboneOutputName);
  if (!produced && !src.nodes.some((nd) => nd.outputs.includes(backboneOutputName))) {
    throw new Error(`backbone has no tensor named ${backboneOutputName}`);
  }
  const dtype: DType = produced?.dtype ?? 'float32';
  if (dtype !== 'float32') throw new Error(`backbone output ${backboneOutputName} is ${dtype}, expected float32`);
  const features = produced?.shape?.slice(1).reduce<number | null>((n, d) => (typeof d === 'number' && n !== null ? n * d : null), 1);
  if (typeof features === 'number' && features !== params.config.inputDim) {
    throw new Error(`backbone output ${backboneOutputName} has ${features} features, adapter expects ${params.config.inputDim}`);
  }
  const used = new Set<string>([
    ...src.nodes.flatMap((nd) => [...nd.inputs, ...nd.outputs, nd.name ?? '']),
    ...src.initializers.map((t) => t.name),
    ...src.inputs.map((t) => t.name),
  ]);
  let prefix = 'adapter/';
  for (let i = 2; [...used].some((s) => s.startsWith(prefix)); i++) prefix = `adapter${i}/`;
  const outputName = opts.outputName ?? 'embedding';
  if (used.has(outputName)) throw new Error(`backbone already uses the name ${outputName}`);
  const opset = backbone.opsetVersion;
  const flat = `${prefix}features`;
  const body = adapterNodes(flat, outputName, prefix, opset, foldAdapter(params));
  const flatten: NodeIR = {
    opType: 'Flatten',
    inputs: [backboneOutputName],
    outputs: [flat],
    name: `${prefix}flatten`,
    attributes: { axis: { i: 1 } },
  };
  const batchDim = src.inputs[0]?.shape?.[0] ?? 'N';
  return {
    ...backbone,
    producerName: backbone.producerName ?? 'shoebox',
    metadata: { ...backbone.metadata, ...opts.metadata },
    graph: {
      ...src,
      nodes: [...src.nodes, flatten, ...body.nodes],
      initializers: [...src.initializers, ...body.initializers],
      outputs: [{ name: outputName, dtype: 'float32', shape: [batchDim, params.config.embedDim] }],
    },
  };
}

/** Rename a tensor throughout a model (so the merged model's output can take the backbone output's name). */
function renameTensor(m: ModelIR, from: string, to: string): string {
  const r = (x: string): string => (x === from ? to : x);
  for (const nd of m.graph.nodes) {
    nd.inputs = nd.inputs.map(r);
    nd.outputs = nd.outputs.map(r);
    if (nd.name === from) nd.name = to;
  }
  for (const v of [...m.graph.inputs, ...m.graph.outputs, ...(m.graph.valueInfo ?? [])]) v.name = r(v.name);
  return to;
}

export interface EncoderVersionFiles {
  /** The merged encoder (backbone + adapter), photos in, embedding out. */
  merged: Uint8Array;
  /** The adapter alone: the backbone's (training) features in, embedding out. */
  adapter: Uint8Array;
  manifest: EncoderManifest;
}

/**
 * A fine-tuned encoder version from a backbone and a trained adapter: the adapter alone, the merged model (pruned),
 * and its manifest (id `id`, version 1, the backbone's licences, `source.parent` = `parentKey`). The adapter reads
 * the backbone's training features when its manifest names them, else its embedding.
 */
export function encoderVersion(
  backbone: { manifest: EncoderManifest; model: Uint8Array },
  params: AdapterParams,
  opts: { id: string; parentKey: string; runId: number; notes: string; block?: { prefix: string; trained: BlockConvs } },
): EncoderVersionFiles {
  const features = backbone.manifest.trainFeatures;
  // The standalone adapter reads the library's stored (plain) features: it scales their parts itself.
  const unitParts = features?.unitParts ? features.partDims : undefined;
  const adapter = encodeModel(exportAdapterModel(params, { metadata: { shoebox_run: String(opts.runId) }, ...(unitParts ? { unitParts } : {}) }));
  const decoded = decodeModel(backbone.model);
  // A run that fine-tuned the backbone's last block writes it back first: one model, photos in, embedding out.
  const source = opts.block ? withTrainedBlock(decoded, readInvertedResidual(decoded, opts.block.prefix), opts.block.trained) : decoded;
  const backboneIr = features ? trainFeaturesModel(source, features) : source;
  const embedding = renameTensor(backboneIr, backbone.manifest.output.name, 'backbone_features');
  const merged = encodeModel(
    pruneModel(mergeEncoder(backboneIr, params, features ? TRAIN_FEATURES : embedding, { outputName: 'embedding' })),
  );
  const manifest: EncoderManifest = {
    ...backbone.manifest,
    id: opts.id,
    version: '1',
    file: `${opts.id}.onnx`,
    sha256: createHash('sha256').update(merged).digest('hex'),
    output: { name: 'embedding', dim: params.config.embedDim },
    source: {
      package: 'fine-tuned on this library',
      version: String(opts.runId),
      license: backbone.manifest.source.license,
      weightsLicense: backbone.manifest.source.weightsLicense,
      parent: opts.parentKey,
    },
    notes: opts.notes,
  };
  // The fine-tuned model's input to its adapter is internal to it; nothing else trains on it.
  delete manifest.trainFeatures;
  return { merged, adapter, manifest };
}
