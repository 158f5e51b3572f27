import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The OS's per-user application-data folder for Shoebox's default library. */
export function defaultLibraryDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.SHOEBOX_LIBRARY) return path.resolve(env.SHOEBOX_LIBRARY);
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Shoebox');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Shoebox');
  return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'shoebox');
}

/** Files and folders inside a library folder. */
export interface LibraryLayout {
  db: string;
  /** The cross-process writer lock (lock.ts). */
  lock: string;
  cache: string;
  models: string;
  training: string;
  /** The last finished training round's state, which the next round starts from. */
  trainState: string;
}

export function libraryLayout(libraryDir: string): LibraryLayout {
  const training = path.join(libraryDir, 'training');
  return {
    db: path.join(libraryDir, 'library.db'),
    lock: path.join(libraryDir, 'library.lock'),
    cache: path.join(libraryDir, 'cache'),
    models: path.join(libraryDir, 'models'),
    training,
    trainState: path.join(training, 'state.ckpt'),
  };
}

/** True when `child` is `parent` or inside it (after resolving `..`). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Folder holding the bundled models (repo checkout or packaged app resources). */
export function bundledModelsDir(): string {
  if (process.env.SHOEBOX_MODELS) return path.resolve(process.env.SHOEBOX_MODELS);
  const resources = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath;
  if (resources && !resources.includes('node_modules')) return path.join(resources, 'models');
  // dist/electron/core/paths.js -> <repo>/models
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
}
