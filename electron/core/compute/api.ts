/**
 * CPU-heavy pure functions that run in a worker thread, so the thread serving the API stays responsive while a job
 * clusters a large library. Declared once here; the worker implements exactly this and the client is typed by it.
 */
import type { AlbumOptions, AlbumsResult, ApproxKnnOptions, KnnGraph } from '../cluster/index.js';

export interface ComputeApi {
  clusterIntoAlbums(vectors: Float32Array, n: number, dim: number, opts: AlbumOptions): AlbumsResult;
  knnApprox(data: Float32Array, n: number, dim: number, k: number, opts: ApproxKnnOptions): KnnGraph;
}

export type ComputeMethod = keyof ComputeApi;

export type ComputeRequest = { [M in ComputeMethod]: { method: M; args: Parameters<ComputeApi[M]> } }[ComputeMethod];

export type ComputeReply = { ok: true; value: unknown } | { ok: false; message: string };
