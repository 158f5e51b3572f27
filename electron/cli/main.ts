/**
 * The `shoebox` command line (plain Node; no Electron needed).
 *
 *   shoebox organize <folder> [--library <dir>] [--json <file>] [--device <d>] [--no-train] [--epochs <n>]
 *                             [--albums auto|<n>] [--method propos|byol|moco] [--reorganize]
 *   shoebox serve <folder> [--library <dir>] [--port <n>] [--device <d>]
 *   shoebox check [--library <dir>]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ApiEvent, Device, JobInfo } from '../core/api/contract.js';
import { integrityCheck, openDatabase } from '../core/db/database.js';
import { ShoeboxError } from '../core/errors.js';
import { defaultLibraryDir } from '../core/paths.js';
import { DEFAULT_MODEL_ID } from '../core/models.js';
import { LibraryService } from '../core/service.js';
import { ProgressPrinter } from './progress.js';

const USAGE = `Usage:
  shoebox organize <folder> [options]   scan, embed, train and cluster a photo folder into albums
  shoebox serve <folder> [options]      open the Shoebox UI in your browser (127.0.0.1 only)
  shoebox check [--library <dir>]       check the library database

Options:
  --library <dir>        where Shoebox keeps its index, thumbnails and models
                         (default: ${defaultLibraryDir()})
  --json <file>          organize: write every photo's album, the albums and the errors as JSON
  --device <d>           auto | cpu | webgpu | cuda | dml | coreml (default: auto)
  --no-train             organize: skip on-device training of the encoder
  --epochs <n>           organize: training epochs (default 120)
  --albums auto|<n>      organize: number of albums (default: auto)
  --method <m>           organize: propos | byol | moco (default: propos)
  --encoder <id>         organize: backbone encoder models/<id>.json, saved for this library
                         (default: the bundled ${DEFAULT_MODEL_ID})
  --reorganize           organize: re-cluster everything that is not pinned by your edits
  --port <n>             serve: port on 127.0.0.1 (0 picks a free one; default 0)
  -h, --help             this help
  -v, --version          print the version`;

const DEVICES: readonly string[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

class UsageError extends Error {}

function parse(argv: string[]): ReturnType<typeof parseOpts> {
  try {
    return parseOpts(argv);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function parseOpts(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      library: { type: 'string' },
      json: { type: 'string' },
      device: { type: 'string' },
      'no-train': { type: 'boolean' },
      epochs: { type: 'string' },
      albums: { type: 'string' },
      method: { type: 'string' },
      encoder: { type: 'string' },
      reorganize: { type: 'boolean' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

function intOpt(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function deviceOpt(v: string | undefined): Device | undefined {
  if (v === undefined) return undefined;
  if (!DEVICES.includes(v)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}`);
  return v as Device;
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await fs.promises.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface OrganizeJson {
  photos: { path: string; album: number | null; status: 'ok' | 'error' }[];
  albums: { id: number; name: string; count: number }[];
  errors: { path: string; code: string; message: string }[];
  device: string | null;
  model: string | null;
  timings: Record<string, number>;
}

/** The `--json` document for the photos under `folder`. */
export function organizeJson(svc: LibraryService, folder: string, timings: Record<string, number>): OrganizeJson {
  const real = fs.realpathSync(folder);
  const root = svc.db.prepare('SELECT id, path FROM roots WHERE path = ?').get(real) as { id: number; path: string } | undefined;
  const rows = root
    ? (svc.db
        .prepare(
          `SELECT p.rel_path, p.status, p.error_code, p.error_message, m.album_id FROM photos p
             LEFT JOIN album_members m ON m.photo_id = p.id WHERE p.root_id = ? AND p.status != 'missing' ORDER BY p.rel_path`,
        )
        .all(root.id) as { rel_path: string; status: string; error_code: string | null; error_message: string | null; album_id: number | null }[])
    : [];
  const status = svc.status();
  const albums = svc.db
    .prepare(
      `SELECT a.id, a.name, COUNT(p.id) AS count FROM albums a JOIN album_members m ON m.album_id = a.id
         JOIN photos p ON p.id = m.photo_id AND p.status = 'ok' AND p.root_id = ?
        WHERE a.deleted_at IS NULL GROUP BY a.id ORDER BY count DESC, a.id`,
    )
    .all(root?.id ?? -1) as { id: number; name: string; count: number }[];
  return {
    photos: rows.map((r) => ({ path: r.rel_path, album: r.status === 'ok' ? r.album_id : null, status: r.status === 'ok' ? 'ok' : 'error' })),
    albums,
    errors: rows
      .filter((r) => r.status !== 'ok')
      .map((r) => ({ path: r.rel_path, code: r.error_code ?? 'ERROR', message: r.error_message ?? '' })),
    device: status.device,
    model: status.model ? `${status.model.id}@${status.model.version}` : null,
    timings,
  };
}

async function organize(args: ReturnType<typeof parse>): Promise<number> {
  const [folder] = args.positionals.slice(1);
  if (!folder) throw new UsageError('organize needs a folder: shoebox organize <folder>');
  const libraryDir = path.resolve(args.values.library ?? defaultLibraryDir());
  const device = deviceOpt(args.values.device);
  const epochs = intOpt(args.values.epochs, 'epochs', 0, 1000);
  const albumsOpt = args.values.albums;
  let albums: 'auto' | number | undefined;
  if (albumsOpt !== undefined) albums = albumsOpt === 'auto' ? 'auto' : intOpt(albumsOpt, 'albums', 1, 1000);
  const method = args.values.method;
  if (method !== undefined && !['propos', 'byol', 'moco'].includes(method)) throw new UsageError('--method must be propos, byol or moco');

  const svc = new LibraryService(libraryDir);
  try {
    svc.addRoot(folder);
    if (args.values.encoder !== undefined) {
      const r = await svc.call('setSettings', { encoder: args.values.encoder });
      if (!r.ok) throw new UsageError(`--encoder: ${r.error.message}`);
    }
    const printer = new ProgressPrinter(process.stderr);
    const unsubscribe = svc.subscribe((e: ApiEvent) => {
      if (e.type === 'job-progress') printer.update(e.job);
    });
    const job = svc.organize({
      train: args.values['no-train'] ? false : undefined,
      epochs,
      albums,
      method: method as 'propos' | 'byol' | 'moco' | undefined,
      device,
      mode: args.values.reorganize ? 'full' : 'auto',
    });
    const onSigint = (): void => {
      process.stderr.write('\nCancelling…\n');
      svc.jobs.cancel(job.id);
    };
    process.once('SIGINT', onSigint);
    const info: JobInfo = await job.done;
    process.off('SIGINT', onSigint);
    unsubscribe();
    printer.done();
    const report = svc.report;
    const timings = report?.timings ?? {};
    if (args.values.json) {
      const doc = organizeJson(svc, folder, timings);
      await fs.promises.writeFile(path.resolve(args.values.json), JSON.stringify(doc, null, 2));
    }
    if (info.state !== 'done') {
      process.stderr.write(`shoebox: organize ${info.state}: ${info.error?.message ?? info.message}\n`);
      return info.state === 'cancelled' ? 130 : 1;
    }
    printSummary(svc, folder);
    return 0;
  } finally {
    await svc.close();
  }
}

function printSummary(svc: LibraryService, folder: string): void {
  const doc = organizeJson(svc, folder, svc.report?.timings ?? {});
  const r = svc.report;
  const lines = [
    `Organized ${fs.realpathSync(folder)}`,
    `  photos:  ${doc.photos.filter((p) => p.status === 'ok').length} ok, ${doc.errors.length} could not be read`,
    `  albums:  ${doc.albums.length}${doc.albums.length ? ` (${doc.albums.slice(0, 5).map((a) => `${a.name}: ${a.count}`).join(', ')}${doc.albums.length > 5 ? ', …' : ''})` : ''}`,
  ];
  if (r) {
    const s = r.scan;
    lines.push(`  scan:    ${s.added} new, ${s.updated} changed, ${s.moved} moved, ${s.missing} missing, ${s.unchanged} unchanged, ${s.duplicates} duplicate groups`);
    if (r.device) lines.push(`  device:  ${r.device}`);
    if (r.model) lines.push(`  model:   ${r.model}`);
    lines.push(`  time:    ${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(1)}s`).join(', ')}`);
  }
  for (const e of doc.errors.slice(0, 10)) lines.push(`  ! ${e.path}: ${e.code} ${e.message}`);
  if (doc.errors.length > 10) lines.push(`  ! … and ${doc.errors.length - 10} more (see --json)`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function serve(args: ReturnType<typeof parse>): Promise<number> {
  const [folder] = args.positionals.slice(1);
  if (!folder) throw new UsageError('serve needs a folder: shoebox serve <folder>');
  const libraryDir = path.resolve(args.values.library ?? defaultLibraryDir());
  const port = intOpt(args.values.port, 'port', 0, 65535) ?? 0;
  const device = deviceOpt(args.values.device);
  const abs = path.resolve(folder);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ShoeboxError('NOT_FOUND', `Folder ${abs} does not exist`);
  const { openCore } = await import('../core/service.js');
  const { startServer } = await import('../server/server.js');
  const core = await openCore({ libraryDir, roots: [abs], inWorker: true, device, autoOrganize: true });
  const rendererDir = fileURLToPath(new URL('../../renderer/', import.meta.url));
  const server = await startServer({ core, port, rendererDir });
  process.stdout.write(`Serving ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await core.close();
  return 0;
}

async function check(args: ReturnType<typeof parse>): Promise<number> {
  const libraryDir = path.resolve(args.values.library ?? defaultLibraryDir());
  if (!fs.existsSync(path.join(libraryDir, 'library.db'))) throw new ShoeboxError('NOT_FOUND', `No library at ${libraryDir}`);
  const db = openDatabase(libraryDir);
  const problems = integrityCheck(db);
  db.close();
  if (problems.length === 0) {
    process.stdout.write(`Library ${libraryDir} is healthy\n`);
    return 0;
  }
  for (const p of problems) process.stdout.write(`${p}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parse(argv);
    if (args.values.version) {
      process.stdout.write(`${await version()}\n`);
      return 0;
    }
    const cmd = args.positionals[0];
    if (args.values.help || !cmd) {
      process.stdout.write(`${USAGE}\n`);
      return args.values.help ? 0 : 2;
    }
    switch (cmd) {
      case 'organize':
        return await organize(args);
      case 'serve':
        return await serve(args);
      case 'check':
        return await check(args);
      default:
        throw new UsageError(`unknown command ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`shoebox: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`shoebox: ${msg}\n`);
    return 1;
  }
}
