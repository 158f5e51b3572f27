/**
 * What a pipeline stage works on: the library's database and folder layout. Stages take this, not the service, so
 * they can run (and be tested) without jobs, events or the API.
 */
import type { Db } from './db/database.js';
import type { LibraryLayout } from './paths.js';

export interface Library {
  readonly libraryDir: string;
  readonly db: Db;
  readonly layout: LibraryLayout;
}
