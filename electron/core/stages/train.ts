/** Train stage: placeholder until the trainer lands. */
import type { JobContext } from '../jobs.js';
import type { ModelInfo } from '../models.js';
import type { OrganizeOptions } from '../pipeline.js';
import type { LibraryService } from '../service.js';

export async function trainStage(
  _svc: LibraryService,
  _backbone: ModelInfo,
  _opts: OrganizeOptions,
  _ctx: JobContext,
): Promise<{ model: ModelInfo; device: string } | null> {
  return Promise.resolve(null);
}
