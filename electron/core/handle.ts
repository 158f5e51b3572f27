/**
 * What every client of the core holds: the API contract as calls and events, plus cached image paths. Implemented
 * in-process by LibraryService (service.ts) and across a worker thread by WorkerCore (service-client.ts).
 */
import type { ApiEvent, ApiMethod, ApiResult, ApiValue } from './api/contract.js';

export interface CoreHandle {
  /** Validates args at the boundary; never throws; errors come back as {ok:false,error}. */
  call<M extends ApiMethod>(method: M, args: unknown): Promise<ApiResult<ApiValue<M>>>;
  subscribe(listener: (e: ApiEvent) => void): () => void;
  /** Absolute path of a cached thumbnail/preview of a known photo (inside the library cache), or null. */
  imagePath(photoId: number, kind: 'thumb' | 'preview'): Promise<string | null>;
  close(): Promise<void>;
}

export interface CoreOptions {
  libraryDir: string;
  roots: string[];
  /** Run the core in a worker thread (Electron main process, browser-mode server). */
  inWorker?: boolean;
  /** Execution provider override; default from settings ('auto'). */
  device?: string;
  /** Organize in the background at start: a stat-only scan when nothing changed, new photos filed otherwise. */
  autoOrganize?: boolean;
  /** Who holds the library lock, as other processes are told (default "Shoebox"). */
  command?: string;
}

