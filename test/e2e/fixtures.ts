/**
 * Shared pieces of the end-to-end tests: a generated photo library, the built renderer, and launching browser mode.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startServer } from '../../electron/server/server.js';
import { FakeCore } from '../server/fake-core.js';

/** Repository root (this file runs from dist/test/e2e/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const RENDERER_DIR = path.join(REPO, 'dist', 'renderer');
export const RESULTS_DIR = path.join(REPO, 'test-results');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// --- photos -------------------------------------------------------------------------------------------------------

export interface PhotoGroup {
  name: 'red noise' | 'green stripes' | 'blue gradients';
  count: number;
}

/** Deterministic PRNG so every run generates the same library. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function render(group: PhotoGroup['name'], width: number, height: number, random: () => number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  const stripe = 4 + Math.floor(random() * 10);
  const vertical = random() < 0.5;
  const tilt = random();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (group === 'red noise') {
        px[o] = 170 + random() * 85;
        px[o + 1] = random() * 70;
        px[o + 2] = random() * 70;
      } else if (group === 'green stripes') {
        const on = Math.floor((vertical ? x : y) / stripe) % 2 === 0;
        px[o] = on ? 40 : 15;
        px[o + 1] = on ? 190 : 95;
        px[o + 2] = on ? 50 : 25;
      } else {
        const t = (tilt * x) / width + ((1 - tilt) * y) / height;
        px[o] = 10 + 50 * t;
        px[o + 1] = 30 + 110 * t;
        px[o + 2] = 120 + 135 * t;
      }
    }
  }
  return px;
}

/**
 * Writes `perGroup` JPEGs of each of three visually distinct groups, with varied sizes, interleaved under neutral
 * names (IMG_0001.jpg ...) so only their content tells them apart. Returns the file names by group.
 */
export async function generatePhotos(dir: string, perGroup = 80, seed = 7): Promise<Map<PhotoGroup['name'], string[]>> {
  await mkdir(dir, { recursive: true });
  const random = mulberry32(seed);
  const groups: PhotoGroup['name'][] = ['red noise', 'green stripes', 'blue gradients'];
  const byGroup = new Map<PhotoGroup['name'], string[]>(groups.map((g) => [g, []]));
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < perGroup * groups.length; i++) {
    const group = groups[i % groups.length];
    const width = 96 + Math.floor(random() * 128);
    const height = 72 + Math.floor(random() * 96);
    const name = `IMG_${String(i + 1).padStart(4, '0')}.jpg`;
    byGroup.get(group)!.push(name);
    const sub = i % 2 === 0 ? '' : 'more';
    jobs.push(
      mkdir(path.join(dir, sub), { recursive: true }).then(() =>
        sharp(render(group, width, height, random), { raw: { width, height, channels: 3 } })
          .jpeg({ quality: 85 })
          .toFile(path.join(dir, sub, name)),
      ),
    );
  }
  await Promise.all(jobs);
  return byGroup;
}

// --- renderer build -------------------------------------------------------------------------------------------------

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Builds dist/renderer with Vite unless it is newer than every renderer source (one build at a time). */
export async function ensureRendererBuilt(): Promise<void> {
  const index = path.join(RENDERER_DIR, 'index.html');
  const sources = Math.max(await newestMtime(path.join(REPO, 'renderer', 'src')), statSync(path.join(REPO, 'renderer', 'index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const lock = path.join(REPO, 'dist', '.renderer-build.lock');
  await mkdir(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
    const vite = path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

// --- browser mode ---------------------------------------------------------------------------------------------------

export interface BrowserMode {
  /** URL with the token, as printed by `shoebox serve`. */
  url: string;
  close(): Promise<void>;
}

/** Browser mode over the in-memory fake core (no CLI involved). */
export async function launchFake(folder: string, libraryDir: string): Promise<BrowserMode> {
  const core = await FakeCore.create({ cacheDir: path.join(libraryDir, 'cache'), roots: [folder], stepDelayMs: 4 });
  const server = await startServer({ core, port: 0, rendererDir: RENDERER_DIR });
  return {
    url: server.url,
    async close() {
      await server.close();
      await core.close();
    },
  };
}

/** Browser mode through the real CLI: `node bin/shoebox.js serve <folder> --library <dir> --port 0`. */
export async function launchCli(folder: string, libraryDir: string): Promise<BrowserMode> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(REPO, 'bin', 'shoebox.js'), 'serve', folder, '--library', libraryDir, '--port', '0'],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`shoebox serve printed no URL in 60 s\n${stderr}`)), 60_000);
    lines.on('line', (line) => {
      if (line.startsWith('Serving ')) {
        clearTimeout(timer);
        resolve(line.slice('Serving '.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shoebox serve exited with ${code}\n${stderr}`));
    });
  });
  return {
    url,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function saveArtifact(name: string, data: Buffer | string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, name);
  await writeFile(file, data);
  return file;
}
