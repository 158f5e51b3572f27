/**
 * A backbone's last inverted-residual block (MobileNetV3: 1x1 expand, hard swish, depthwise, hard swish,
 * squeeze-excite, 1x1 project, residual add) as trainable graph ops: its weights read out of the converted encoder,
 * so that the block can be fine-tuned on the activations entering it and written back into one encoder.
 */
import { Graph, type Tensor } from '../graph/graph.js';
import { hardSwish, squeezeExcite } from '../graph/nn.js';
import type { ModelIR, NodeIR, TensorData } from '../onnx/proto.js';
import { pruneModel } from '../onnx/prune.js';

/** A convolution's weights [M, C/group, kh, kw] and bias [M], with its geometry. */
export interface ConvWeights {
  /** The encoder's initializer names of the weights and the bias (to write trained values back). */
  names?: { w: string; b: string };
  w: Float32Array;
  wShape: [number, number, number, number];
  b: Float32Array;
  pads: [number, number, number, number];
  group: number;
}

export interface BlockWeights {
  /** The block's input and output value names in the encoder. */
  input: string;
  output: string;
  expand: ConvWeights;
  depthwise: ConvWeights;
  seReduce: ConvWeights;
  seExpand: ConvWeights;
  project: ConvWeights;
  /** The 1/6 of hard swish and hard sigmoid as the converted model stores it (float16-rounded in the source). */
  hardScale: number;
}

/** The block parts, in order, as node-name fragments of the converted MobileNetV3. */
const PARTS = {
  expand: '/expand/',
  depthwise: '/depthwise/depthwise',
  seReduce: '/squeeze_excite/Conv/',
  seExpand: '/squeeze_excite/Conv_1/',
  project: '/project/',
} as const;

function floats(t: TensorData): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`${t.name}: expected float32 weights, got ${t.dtype}`);
  return Float32Array.from(t.data as Float32Array);
}

/**
 * Read block `prefix` (e.g. 'MobilenetV3/expanded_conv_14') out of a converted encoder: its five convolutions'
 * weights and the values entering and leaving it. Throws when the block is not the expected shape.
 */
export function readInvertedResidual(model: ModelIR, prefix: string): BlockWeights {
  const g = model.graph;
  const init = new Map(g.initializers.map((t) => [t.name, t]));
  const convs = g.nodes.filter((n) => n.opType === 'Conv' && n.outputs[0].startsWith(`${prefix}/`));
  const conv = (part: string): { node: NodeIR; weights: ConvWeights } => {
    const node = convs.find((n) => n.outputs[0].includes(part));
    if (!node) throw new Error(`${prefix}: no convolution ${part}`);
    const w = init.get(node.inputs[1]);
    const b = init.get(node.inputs[2] ?? '');
    if (!w || !b || w.dims.length !== 4) throw new Error(`${prefix}${part}: weights or bias are not constants`);
    const attr = node.attributes ?? {};
    const ints = (k: string, d: number[]): number[] => (attr[k] && 'ints' in attr[k] ? attr[k].ints : d);
    if (ints('strides', [1, 1]).some((s) => s !== 1) || ints('dilations', [1, 1]).some((d) => d !== 1))
      throw new Error(`${prefix}${part}: strided or dilated convolutions are not supported here`);
    const group = attr.group && 'i' in attr.group ? attr.group.i : 1;
    return {
      node,
      weights: {
        names: { w: w.name, b: b.name },
        w: floats(w),
        wShape: w.dims as [number, number, number, number],
        b: floats(b),
        pads: ints('pads', [0, 0, 0, 0]) as [number, number, number, number],
        group,
      },
    };
  };
  const expand = conv(PARTS.expand);
  const project = conv(PARTS.project);
  const add = g.nodes.find((n) => n.opType === 'Add' && n.inputs.includes(project.node.outputs[0]));
  if (!add || !add.inputs.includes(expand.node.inputs[0])) throw new Error(`${prefix}: no residual add of the block's input`);
  // hard_swish/mul multiplies the convolution by a scalar constant: that is the scale.
  const mul = g.nodes.find((n) => n.opType === 'Mul' && n.outputs[0] === `${prefix}/expand/hard_swish/mul`);
  const scale = mul?.inputs.map((i) => init.get(i)).find((t) => t && t.dims.length === 0);
  if (!scale) throw new Error(`${prefix}: no hard swish scale`);
  return {
    hardScale: (scale.data as Float32Array)[0],
    input: expand.node.inputs[0],
    output: add.outputs[0],
    expand: expand.weights,
    depthwise: conv(PARTS.depthwise).weights,
    seReduce: conv(PARTS.seReduce).weights,
    seExpand: conv(PARTS.seExpand).weights,
    project: project.weights,
  };
}

/** Trained weights of the convolutions a fine-tuning run trains (step.ts: expand and depthwise). */
export type BlockConvs = Record<'expand' | 'depthwise', { w: Float32Array; b: Float32Array }>;

/** The block's weights as graph tensors (parameters to train, or constants). */
export type BlockTensors = Record<keyof typeof PARTS, { w: Tensor; b: Tensor }>;

/** Declare the block's weights as parameters named `<name>.<part>.w|b`. */
export function declareBlock(g: Graph, name: string, weights: BlockWeights): BlockTensors {
  const out = {} as BlockTensors;
  for (const part of Object.keys(PARTS) as (keyof typeof PARTS)[]) {
    const c = weights[part];
    out[part] = { w: g.param(`${name}.${part}.w`, c.wShape), b: g.param(`${name}.${part}.b`, [c.wShape[0]]) };
  }
  return out;
}

export interface BlockForward {
  /** The block's output [N, C, H, W] (input plus the projected branch). */
  y: Tensor;
  /** The depthwise convolution's activations after hard swish [N, expanded, H, W] (what the adapter pools). */
  depthwise: Tensor;
}

/** The block on NCHW `x`, as the encoder computes it (batch-norm folded into the convolutions). */
export function invertedResidual(g: Graph, x: Tensor, t: BlockTensors, weights: BlockWeights): BlockForward {
  const conv = (v: Tensor, part: keyof typeof PARTS): Tensor =>
    g.conv2d(v, t[part].w, t[part].b, { pads: weights[part].pads, group: weights[part].group });
  const k = weights.hardScale;
  const expanded = hardSwish(g, conv(x, 'expand'), k);
  const depthwise = hardSwish(g, conv(expanded, 'depthwise'), k);
  const excited = squeezeExcite(g, depthwise, t.seReduce, t.seExpand, k);
  return { y: g.add(conv(excited, 'project'), x), depthwise };
}

/** Feeds of the block's weights for `declareBlock`'s parameters. */
export function blockFeeds(name: string, weights: BlockWeights): Record<string, { data: Float32Array; dims: number[] }> {
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const part of Object.keys(PARTS) as (keyof typeof PARTS)[]) {
    const c = weights[part];
    feeds[`${name}.${part}.w`] = { data: c.w, dims: [...c.wShape] };
    feeds[`${name}.${part}.b`] = { data: c.b, dims: [c.wShape[0]] };
  }
  return feeds;
}

/** A graph computing the block's pooled output (the encoder's embedding) from its input; for checks and export. */
export function blockModel(weights: BlockWeights, inputShape: readonly [number, number, number]): ModelIR {
  const g = new Graph('float32');
  const x = g.input('x', [1, ...inputShape]);
  const t = declareBlock(g, 'block', weights);
  const { y } = invertedResidual(g, x, t, weights);
  return g.toModel({ embedding: g.reduceMean(y, [2, 3]) }, { name: 'inverted-residual' });
}

/**
 * The encoder with the block's trained convolutions written in (`trained`: new weights and biases of the parts
 * named, shapes unchanged); everything else as it was. For the merged encoder a fine-tuning run exports.
 */
export function withTrainedBlock(
  model: ModelIR,
  weights: BlockWeights,
  trained: Partial<Record<keyof typeof PARTS, { w: Float32Array; b: Float32Array }>>,
): ModelIR {
  const replace = new Map<string, Float32Array>();
  for (const [part, t] of Object.entries(trained) as [keyof typeof PARTS, { w: Float32Array; b: Float32Array }][]) {
    const c = weights[part];
    if (!c.names) throw new Error(`${part}: the block was not read from this encoder`);
    if (t.w.length !== c.w.length || t.b.length !== c.b.length) throw new Error(`${part}: trained weights have other shapes`);
    replace.set(c.names.w, t.w);
    replace.set(c.names.b, t.b);
  }
  const initializers = model.graph.initializers.map((t) => {
    const data = replace.get(t.name);
    if (!data) return t;
    replace.delete(t.name);
    return { ...t, data: Float32Array.from(data) };
  });
  if (replace.size > 0) throw new Error(`the encoder has no initializer ${[...replace.keys()][0]}`);
  return { ...model, graph: { ...model.graph, initializers } };
}

/** Name of the output {@link blockInputModel} gives. */
export const BLOCK_INPUT = 'block_input';

/** The encoder cut before the block: its one output, `block_input`, is the activations entering it, flattened. */
export function blockInputModel(model: ModelIR, weights: BlockWeights): ModelIR {
  const g = model.graph;
  const flatten: NodeIR = {
    opType: 'Flatten',
    inputs: [weights.input],
    outputs: [BLOCK_INPUT],
    name: BLOCK_INPUT,
    attributes: { axis: { i: 1 } },
  };
  const output = { name: BLOCK_INPUT, dtype: 'float32' as const, shape: [g.inputs[0]?.shape?.[0] ?? 'N', null] };
  return pruneModel({ ...model, graph: { ...g, nodes: [...g.nodes, flatten], outputs: [output] } });
}
