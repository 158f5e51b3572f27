/**
 * Face embeddings: a unit vector per aligned face crop from the bundled face embedder (models/faceres.onnx, chosen
 * by bench/faces-embed.ts), so that faces of one person lie close together by cosine.
 */
import { readFile } from 'node:fs/promises';
import { Tensor } from 'onnxruntime-node';
import { normalizeFace, type FaceEmbedderManifest } from '../../../training/convert/faces.js';
import { readModelFile } from '../../../training/models.js';
import { createSessionWithFallback, type Device, type Provider, type ProviderSession } from './providers.js';

export const DEFAULT_FACE_EMBEDDER_ID = 'faceres';

function validate(raw: unknown): FaceEmbedderManifest {
  const m = raw as Partial<FaceEmbedderManifest> | null;
  const ok =
    m !== null &&
    typeof m === 'object' &&
    m.kind === 'face-embedder' &&
    typeof m.id === 'string' &&
    typeof m.file === 'string' &&
    /^[0-9a-f]{64}$/.test(m.sha256 ?? '') &&
    typeof m.input?.name === 'string' &&
    Number.isInteger(m.input?.width) &&
    m.input?.width === m.input?.height &&
    typeof m.output?.name === 'string' &&
    Number.isInteger(m.output?.dim) &&
    Array.isArray(m.preprocess?.mean);
  if (!ok) throw new Error('invalid face embedder manifest');
  return m as FaceEmbedderManifest;
}

export class FaceEmbedder {
  readonly size: number;
  readonly dim: number;
  private released = false;

  private constructor(
    readonly manifest: FaceEmbedderManifest,
    private readonly ps: ProviderSession,
  ) {
    this.size = manifest.input.width;
    this.dim = manifest.output.dim;
  }

  static async open(manifestPath: string, opts: { device?: Device } = {}): Promise<FaceEmbedder> {
    const manifest = validate(JSON.parse(await readFile(manifestPath, 'utf8')));
    const { bytes } = await readModelFile(manifestPath, manifest, 'face embedder');
    const s = manifest.input.width;
    const ps = await createSessionWithFallback(bytes, opts.device ?? 'auto', {
      probe: async (session) => {
        const out = (await session.run({ [manifest.input.name]: new Tensor('float32', new Float32Array(s * s * 3), [1, s, s, 3]) }))[
          manifest.output.name
        ];
        if (!out || out.dims[1] !== manifest.output.dim)
          throw new Error(`output "${manifest.output.name}" missing or not ${manifest.output.dim}-d`);
      },
    });
    return new FaceEmbedder(manifest, ps);
  }

  get provider(): Provider {
    return this.ps.provider;
  }

  /** Unit-length embeddings of aligned RGB crops (`size` x `size` each). */
  async embed(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (this.released) throw new Error('FaceEmbedder was released');
    if (crops.length === 0) return [];
    const s = this.size;
    const per = s * s * 3;
    const batch = new Float32Array(crops.length * per);
    crops.forEach((c, i) => normalizeFace(c, s, this.manifest.preprocess, batch, i * per));
    const out = (await this.ps.session.run({ [this.manifest.input.name]: new Tensor('float32', batch, [crops.length, s, s, 3]) }))[
      this.manifest.output.name
    ];
    const data = out.data as Float32Array;
    const vectors = crops.map((_, i) => {
      const v = Float32Array.from(data.subarray(i * this.dim, (i + 1) * this.dim));
      let n = 0;
      for (const x of v) n += x * x;
      n = Math.sqrt(n) || 1;
      for (let j = 0; j < v.length; j++) v[j] /= n;
      return v;
    });
    out.dispose();
    return vectors;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ps.release();
  }
}
