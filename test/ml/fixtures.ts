/**
 * Test/bench fixtures for the ML pipeline: a small synthetic image encoder with the same interface as the real one
 * (NHWC or NCHW float32 input `input`, output `embedding` [N, dim]), its manifest, and generated images.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { EncoderManifest } from '../../training/manifest.js';
import { encodeModel, type NodeIR, type TensorData } from '../../training/onnx/proto.js';
import { sha256Hex } from '../../electron/core/ml/embedder.js';
import { DEFAULT_ENCODER_ID } from '../../training/models.js';

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

function weights(name: string, dims: number[], scale: number, rand: () => number): TensorData {
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => rand() * scale) };
}

export interface SyntheticEncoderOptions {
  width?: number;
  height?: number;
  dim?: number;
  layout?: 'NHWC' | 'NCHW';
  /** Fixed batch size instead of a symbolic one. */
  batch?: number;
  seed?: number;
}

/**
 * A conv/pool/matmul net: [Transpose] -> Conv 3x3/2 (3->16) -> Relu -> Conv 3x3/2 (16->32) -> Relu
 * -> GlobalAveragePool -> Flatten -> MatMul (32->dim) + bias. Returns the ONNX bytes and a matching manifest.
 */
export function syntheticEncoder(opts: SyntheticEncoderOptions = {}): { manifest: EncoderManifest; bytes: Uint8Array } {
  const { width = 32, height = 24, dim = 24, layout = 'NHWC', batch, seed = 7 } = opts;
  const rand = rng(seed);
  const nodes: NodeIR[] = [];
  let x = 'input';
  if (layout === 'NHWC') {
    nodes.push({ opType: 'Transpose', inputs: [x], outputs: ['nchw'], attributes: { perm: { ints: [0, 3, 1, 2] } } });
    x = 'nchw';
  }
  const conv = { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } };
  nodes.push(
    { opType: 'Conv', inputs: [x, 'w1', 'b1'], outputs: ['c1'], attributes: conv },
    { opType: 'Relu', inputs: ['c1'], outputs: ['r1'] },
    { opType: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], attributes: conv },
    { opType: 'Relu', inputs: ['c2'], outputs: ['r2'] },
    { opType: 'GlobalAveragePool', inputs: ['r2'], outputs: ['gap'] },
    { opType: 'Flatten', inputs: ['gap'], outputs: ['flat'], attributes: { axis: { i: 1 } } },
    { opType: 'MatMul', inputs: ['flat', 'w3'], outputs: ['mm'] },
    { opType: 'Add', inputs: ['mm', 'b3'], outputs: ['embedding'] },
  );
  const n = batch ?? 'N';
  const bytes = encodeModel({
    opsetVersion: 17,
    graph: {
      name: 'synthetic_encoder',
      nodes,
      initializers: [
        weights('w1', [16, 3, 3, 3], 0.5, rand),
        weights('b1', [16], 0.1, rand),
        weights('w2', [32, 16, 3, 3], 0.2, rand),
        weights('b2', [32], 0.1, rand),
        weights('w3', [32, dim], 0.5, rand),
        weights('b3', [dim], 0.1, rand),
      ],
      inputs: [{ name: 'input', dtype: 'float32', shape: layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width] }],
      outputs: [{ name: 'embedding', dtype: 'float32', shape: [n, dim] }],
    },
  });
  const manifest: EncoderManifest = {
    id: 'synthetic',
    version: '1',
    file: 'synthetic.onnx',
    sha256: sha256Hex(bytes),
    opset: 17,
    input: { name: 'input', layout, width, height, channels: 3, dtype: 'float32' },
    preprocess: { resize: 'cover', range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    output: { name: 'embedding', dim },
    source: { package: 'shoebox-test', version: '0', license: 'MIT' },
  };
  return { manifest, bytes };
}

/** Repository root (works from both `test/ml` sources and `dist/test/ml`). */
export const repoRoot = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));

/**
 * The real default model's manifest path, or null when the converter has not produced it yet.
 * SHOEBOX_ENCODER_MANIFEST points at another manifest (e.g. a model built into a scratch folder).
 */
export function defaultModelManifest(): string | null {
  const override = process.env.SHOEBOX_ENCODER_MANIFEST;
  if (override) return existsSync(override) ? override : null;
  return bundledManifest(DEFAULT_ENCODER_ID);
}

/** A bundled model's manifest path (`models/<id>.json`), or null when its ONNX file has not been built. */
export function bundledManifest(id: string): string | null {
  const p = `${repoRoot}models/${id}.json`;
  return existsSync(p) && existsSync(`${repoRoot}models/${id}.onnx`) ? p : null;
}

/** A JPEG with smooth random colour fields and some texture, like a (small) photo. */
export async function photoLikeJpeg(width: number, height: number, seed: number, quality = 90): Promise<Buffer> {
  const rand = rng(seed);
  const gw = 8;
  const gh = 6;
  const grid = Buffer.alloc(gw * gh * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = Math.round(127.5 + 127.5 * rand());
  const base = await sharp(grid, { raw: { width: gw, height: gh, channels: 3 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .raw()
    .toBuffer();
  const noise = await sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 24 } } })
    .raw()
    .toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i] + ((noise[i] - 128) >> 1)));
  return sharp(base, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}
