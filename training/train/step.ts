/**
 * Train-step graphs: one ONNX model computing forward + backward + optimizer update + EMA target update.
 *
 * Inputs: the carried state (online adapter, predictor, EMA target, BatchNorm running statistics, optimizer state),
 * the batch (stacked two-view features `x` [2B, D] and method-specific tensors) and scalar hyper-parameters.
 * Outputs: `<state>.next` for every state input, the loss terms and monitoring scalars. Run it with a plain
 * InferenceSession and feed the `.next` outputs back as the next step's inputs.
 */

import { Graph, type FloatDType, type Tensor } from '../graph/graph.js';
import { l2Normalize } from '../graph/nn.js';
import type { ModelIR } from '../onnx/proto.js';
import { hardSwish } from '../graph/nn.js';
import type { BlockWeights } from './backbone.js';
import { adamw, emaUpdate, globalNorm, sgd, type OptimizerUpdate, type ParamGroup } from '../optim/index.js';
import { byolLoss, mocoLoss, proposLoss, type PslNegatives } from '../losses/index.js';
import {
  adapterDims,
  BUFFER_PARTS,
  declareMlp,
  MLP_PARTS,
  mlpTrain,
  NO_DECAY_PARTS,
  predictorDims,
  updateRunningStats,
  type AdapterConfig,
  type MlpForward,
  type MlpPart,
  type MlpTensors,
} from './model.js';

export type Method = 'propos' | 'byol' | 'moco';

export type OptimizerConfig =
  | { kind: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number };

export interface TrainStepConfig {
  method: Method;
  adapter: AdapterConfig;
  /** Samples per step B (the graph takes 2B stacked view rows). */
  batchSize: number;
  /** ProPos: number of pseudo-label clusters K. */
  clusters: number;
  /** Temperature of PSL (ProPos) or InfoNCE (MoCo). */
  temperature: number;
  /** ProPos PSL negatives, see {@link PslNegatives}. */
  negatives: PslNegatives;
  /** MoCo: queue length Q. */
  queueSize: number;
  optimizer: OptimizerConfig;
  /** Learning-rate multiplier of the predictor (ProPos/BYOL: 10). */
  predictorLrScale: number;
  /** BatchNorm running-statistics momentum (PyTorch convention, default 0.1). */
  bnMomentum: number;
  dtype: FloatDType;
  /**
   * Fine-tune the backbone's last block too: `x` is then the activations entering it [2B, C, H, W], and the
   * adapter's features are the pooled depthwise activations and the pooled input, as the encoder's training
   * features are. Only the expand and depthwise convolutions shape those features, so only they train, at
   * `lrScale` times the learning rate; their EMA is the target's.
   */
  block?: { weights: BlockWeights; input: [number, number, number]; lrScale: number; unitParts?: boolean };
}

/** The block's convolutions that train (what the adapter's features depend on). */
export const BLOCK_PARTS = ['expand', 'depthwise'] as const;
export type BlockPart = (typeof BLOCK_PARTS)[number];
type BlockNet = Record<BlockPart, { w: Tensor; b: Tensor }>;

/** Which network a state tensor belongs to. */
export type StateRole = 'online' | 'predictor' | 'target' | 'optimizer';

/** A tensor carried between steps: fed as `name`, returned as `output`. */
export interface StateSpec {
  name: string;
  output: string;
  shape: number[];
  role: StateRole;
  /** For network tensors: which MLP part. */
  part?: MlpPart;
  /** For optimizer state: the initial fill value. */
  init?: number;
  /** For the backbone block's weights: their starting values (the encoder's). */
  initial?: Float32Array;
}

export interface TrainStepModel {
  model: ModelIR;
  config: TrainStepConfig;
  state: StateSpec[];
  /** Per-step batch inputs (besides `x`, method specific), with shapes. */
  batch: { name: string; shape: number[] }[];
  /** Scalar hyper-parameter inputs: lr, ema_momentum, and per method/optimizer step, lambda, sigma. */
  hyper: string[];
  /** Scalar outputs: `loss`, the loss terms, `grad_norm`, `embed_std`. */
  scalars: string[];
  /** Other outputs: MoCo's `keys` [2B, E] (unit-normalized target embeddings, for the queue). */
  extras: string[];
}

export interface Networks {
  online: MlpTensors;
  /** Absent for MoCo. */
  predictor?: MlpTensors;
  target: MlpTensors;
  /** With `block`: the online (trained) and target (EMA) block convolutions. */
  onlineBlock?: BlockNet;
  targetBlock?: BlockNet;
}

/** Declare the block's trainable convolutions named `<prefix>.block.<part>.w|b`, as parameters or plain inputs. */
function declareBlockNet(g: Graph, prefix: string, weights: BlockWeights, trainable: boolean): BlockNet {
  const net = {} as BlockNet;
  for (const part of BLOCK_PARTS) {
    const shape = weights[part].wShape;
    const make = (name: string, sh: readonly number[]): Tensor => (trainable ? g.param(name, sh) : g.input(name, sh));
    net[part] = { w: make(`${prefix}.block.${part}.w`, shape), b: make(`${prefix}.block.${part}.b`, [shape[0]]) };
  }
  return net;
}

/**
 * The adapter's input from the block's input maps: [pooled depthwise activations, pooled input], [rows, E + C];
 * with `unitParts` each of the two scaled to unit length per row, as the manifest's training features are.
 */
export function blockFeatures(g: Graph, x: Tensor, net: BlockNet, weights: BlockWeights, unitParts = false): Tensor {
  const k = weights.hardScale;
  const conv = (v: Tensor, part: BlockPart): Tensor =>
    g.conv2d(v, net[part].w, net[part].b, { pads: weights[part].pads, group: weights[part].group });
  const depthwise = hardSwish(g, conv(hardSwish(g, conv(x, 'expand'), k), 'depthwise'), k);
  const parts = [g.reduceMean(depthwise, [2, 3]), g.reduceMean(x, [2, 3])];
  const unit = (p: Tensor): Tensor => g.div(p, g.sqrt(g.add(g.reduceSumSquare(p, [1], true), 1e-12)));
  return g.concat(unitParts ? parts.map(unit) : parts, 1);
}

export interface Objective {
  loss: Tensor;
  /** Named loss terms (besides `loss`). */
  terms: Record<string, Tensor>;
  online: MlpForward;
  target: MlpForward;
  predictor?: MlpForward;
  /** Extra outputs, e.g. MoCo keys. */
  extras: Record<string, Tensor>;
  /** Inputs the objective declared (batch tensors and scalar hyper-parameters). */
  batchInputs: Tensor[];
  hyperInputs: Tensor[];
}

/**
 * Declare the method's batch inputs and build its loss on stacked two-view features `x` [2B, D].
 *
 * - byol:   BYOL(predictor(online(x)), target(x)).
 * - propos: PSA + lambda * PSL; inputs `noise` [2B, E], `labels` [2B, K] (one-hot), `mask` [K], scalars `lambda`,
 *           `sigma`.
 * - moco:   symmetric InfoNCE of online(x) vs target(x) with input `queue` [Q, E]; extra output `keys`.
 */
export function buildObjective(g: Graph, cfg: TrainStepConfig, nets: Networks, x: Tensor): Objective {
  const eps = cfg.adapter.bnEps;
  const rows = x.shape[0];
  const embed = cfg.adapter.embedDim;
  // With a block, each network reads the features its own block makes of the input maps.
  const features = (block: BlockNet | undefined): Tensor => (block && cfg.block ? blockFeatures(g, x, block, cfg.block.weights, cfg.block.unitParts) : x);
  const online = g.scope('online', () => mlpTrain(g, features(nets.onlineBlock), nets.online, 2, eps));
  const target = g.scope('target', () => mlpTrain(g, g.stopGradient(features(nets.targetBlock)), nets.target, 2, eps));
  const targetY = g.stopGradient(target.y);
  let predictor: MlpForward | undefined;
  const predict = (z: Tensor): Tensor => {
    if (!nets.predictor) throw new Error(`${cfg.method} has no predictor`);
    predictor = g.scope('predictor', () => mlpTrain(g, z, nets.predictor!, 2, eps));
    return predictor.y;
  };
  const batchInputs: Tensor[] = [];
  const hyperInputs: Tensor[] = [];
  const terms: Record<string, Tensor> = {};
  const extras: Record<string, Tensor> = {};
  let loss: Tensor;
  switch (cfg.method) {
    case 'byol':
      loss = g.scope('loss', () => byolLoss(g, predict(online.y), targetY));
      break;
    case 'propos': {
      const noise = g.input('noise', [rows, embed]);
      const labels = g.input('labels', [rows, cfg.clusters]);
      const mask = g.input('mask', [cfg.clusters]);
      const lambda = g.input('lambda', []);
      const sigma = g.input('sigma', []);
      batchInputs.push(noise, labels, mask);
      hyperInputs.push(lambda, sigma);
      const l = g.scope('loss', () =>
        proposLoss(g, {
          online: online.y,
          target: targetY,
          noise,
          sigma,
          predictor: predict,
          labels,
          mask,
          lambda,
          temperature: cfg.temperature,
          negatives: cfg.negatives,
        }),
      );
      loss = l.total;
      terms.psa = l.psa;
      terms.psl = l.psl;
      break;
    }
    case 'moco': {
      const queue = g.input('queue', [cfg.queueSize, embed]);
      batchInputs.push(queue);
      loss = g.scope('loss', () => mocoLoss(g, { queries: online.y, keys: targetY, queue, temperature: cfg.temperature }));
      extras.keys = l2Normalize(g, targetY);
      break;
    }
  }
  return { loss, terms, online, target, predictor, extras, batchInputs, hyperInputs };
}

/** Mean over embedding dimensions of the batch std of unit-normalized embeddings, times sqrt(E): ~1 healthy, 0 collapsed. */
function embeddingSpread(g: Graph, z: Tensor): Tensor {
  const zn = l2Normalize(g, g.stopGradient(z));
  const centered = g.sub(zn, g.reduceMean(zn, [0], true));
  const std = g.sqrt(g.add(g.reduceMean(g.mul(centered, centered), [0]), 1e-12));
  return g.mul(g.reduceMean(std), Math.sqrt(z.shape[1]));
}

/** Build the complete train-step model for `cfg`. */
export function buildTrainStep(cfg: TrainStepConfig): TrainStepModel {
  const g = new Graph(cfg.dtype);
  const a = cfg.adapter;
  const nets: Networks = {
    online: declareMlp(g, 'online', adapterDims(a), true),
    predictor: cfg.method === 'moco' ? undefined : declareMlp(g, 'predictor', predictorDims(a), true),
    target: declareMlp(g, 'target', adapterDims(a), false),
  };
  const block = cfg.block;
  if (block) {
    const features = block.weights.depthwise.wShape[0] + block.input[0];
    if (features !== a.inputDim) throw new Error(`the block gives ${features} features, the adapter takes ${a.inputDim}`);
    nets.onlineBlock = declareBlockNet(g, 'online', block.weights, true);
    nets.targetBlock = declareBlockNet(g, 'target', block.weights, false);
  }
  const x = g.input('x', block ? [2 * cfg.batchSize, ...block.input] : [2 * cfg.batchSize, a.inputDim]);
  const lr = g.input('lr', []);
  const emaMomentum = g.input('ema_momentum', []);
  const stepCount = cfg.optimizer.kind === 'adamw' ? g.input('step', []) : undefined;
  const obj = buildObjective(g, cfg, nets, x);

  // Backward pass and optimizer.
  const trainableParts = MLP_PARTS.filter((p) => !BUFFER_PARTS.has(p));
  const decayParts = trainableParts.filter((p) => !NO_DECAY_PARTS.has(p));
  const noDecayParts = trainableParts.filter((p) => NO_DECAY_PARTS.has(p));
  const pick = (t: MlpTensors, parts: readonly MlpPart[]): Tensor[] => parts.map((p) => t[p]);
  const blockParams = nets.onlineBlock ? BLOCK_PARTS.flatMap((p) => [nets.onlineBlock![p].w, nets.onlineBlock![p].b]) : [];
  const params = [...pick(nets.online, trainableParts), ...(nets.predictor ? pick(nets.predictor, trainableParts) : []), ...blockParams];
  const grads = g.scope('grad', () => g.grad(obj.loss, params));
  const gradMap = new Map(params.map((p, i) => [p, grads[i]]));
  const groups: ParamGroup[] = [
    { name: 'online', params: pick(nets.online, decayParts) },
    { name: 'online/no-decay', params: pick(nets.online, noDecayParts), weightDecay: 0 },
  ];
  if (nets.onlineBlock && cfg.block) {
    const ob = nets.onlineBlock;
    groups.push(
      { name: 'block', params: BLOCK_PARTS.map((p) => ob[p].w), lrScale: cfg.block.lrScale },
      { name: 'block/no-decay', params: BLOCK_PARTS.map((p) => ob[p].b), lrScale: cfg.block.lrScale, weightDecay: 0 },
    );
  }
  if (nets.predictor) {
    groups.push(
      { name: 'predictor', params: pick(nets.predictor, decayParts), lrScale: cfg.predictorLrScale },
      { name: 'predictor/no-decay', params: pick(nets.predictor, noDecayParts), lrScale: cfg.predictorLrScale, weightDecay: 0 },
    );
  }
  const opt: OptimizerUpdate = g.scope('optimizer', () => {
    const o = cfg.optimizer;
    return o.kind === 'sgd'
      ? sgd(g, groups, gradMap, { lr, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay })
      : adamw(g, groups, gradMap, { lr, step: stepCount!, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
  });

  // EMA target: follows the freshly updated online parameters (BatchNorm statistics are tracked, not averaged).
  const emaNext = g.scope('ema', () =>
    emaUpdate(
      g,
      trainableParts.map((p) => ({ target: nets.target[p], online: opt.updated.get(nets.online[p])! })),
      emaMomentum,
    ),
  );
  const blockPairs = nets.onlineBlock
    ? BLOCK_PARTS.flatMap((p) =>
        (['w', 'b'] as const).map((k) => ({
          target: nets.targetBlock![p][k],
          online: opt.updated.get(nets.onlineBlock![p][k])!,
          part: p,
          k,
        })),
      )
    : [];
  const blockEma = g.scope('ema', () => emaUpdate(g, blockPairs, emaMomentum));

  // Outputs.
  const outputs: Record<string, Tensor> = {};
  const state: StateSpec[] = [];
  const carry = (input: Tensor, next: Tensor, role: StateRole, part?: MlpPart, init?: number): void => {
    const output = `${input.name}.next`;
    outputs[output] = next;
    state.push({ name: input.name, output, shape: [...input.shape], role, part, init });
  };
  const carryNetwork = (t: MlpTensors, f: MlpForward, role: StateRole, next: (p: MlpPart) => Tensor): void => {
    const stats = g.scope(`${role}/running`, () => updateRunningStats(g, t, f, cfg.bnMomentum));
    for (const p of MLP_PARTS) {
      const value = p === 'bn.mean' ? stats.mean : p === 'bn.var' ? stats.variance : next(p);
      carry(t[p], value, role, p);
    }
  };
  carryNetwork(nets.online, obj.online, 'online', (p) => opt.updated.get(nets.online[p])!);
  if (nets.predictor) carryNetwork(nets.predictor, obj.predictor!, 'predictor', (p) => opt.updated.get(nets.predictor![p])!);
  carryNetwork(nets.target, obj.target, 'target', (p) => emaNext[trainableParts.indexOf(p)]);
  blockPairs.forEach((pair, i) => {
    const initial = pair.k === 'w' ? cfg.block!.weights[pair.part].w : cfg.block!.weights[pair.part].b;
    const online = nets.onlineBlock![pair.part][pair.k];
    outputs[`${online.name}.next`] = opt.updated.get(online)!;
    state.push({ name: online.name, output: `${online.name}.next`, shape: [...online.shape], role: 'online', initial });
    carry(pair.target, blockEma[i], 'target');
    state[state.length - 1].initial = initial;
  });
  for (const s of opt.state) carry(s.input, s.output, 'optimizer', undefined, s.init);

  outputs.loss = obj.loss;
  Object.assign(outputs, obj.terms);
  outputs.grad_norm = g.scope('monitor', () => globalNorm(g, grads));
  outputs.embed_std = g.scope('monitor', () => embeddingSpread(g, obj.online.y));
  Object.assign(outputs, obj.extras);

  const hyper = [lr, emaMomentum, ...(stepCount ? [stepCount] : []), ...obj.hyperInputs].map((t) => t.name);
  const model = g.toModel(outputs, { name: `train-step/${cfg.method}`, docString: `Shoebox ${cfg.method} train step` });
  return {
    model,
    config: cfg,
    state,
    batch: obj.batchInputs.map((t) => ({ name: t.name, shape: [...t.shape] })),
    hyper,
    scalars: ['loss', ...Object.keys(obj.terms), 'grad_norm', 'embed_std'],
    extras: Object.keys(obj.extras),
  };
}
