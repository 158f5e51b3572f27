/**
 * The `shoebox` command line (plain Node; no Electron needed).
 *
 *   shoebox organize <folder> [--library <dir>] [--json <file>] [--device <d>] [--no-train] [--retrain]
 *                             [--train-steps <n>] [--albums auto|<n>] [--method propos|byol|moco] [--reorganize] [--wait]
 *                             [--no-objects] [--no-faces] [--finetune-backbone]
 *   shoebox serve <folder> [--library <dir>] [--port <n>] [--device <d>]
 *   shoebox check [--library <dir>]
 *   shoebox export <album> <folder> [--library <dir>] [--link] [--xmp] [--wait]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ApiEvent, Device, JobInfo, TrainingDecision } from '../core/api/contract.js';
import { DEVICES, TRAIN_STEPS_MAX, TRAIN_STEPS_MIN } from '../core/api/validate.js';
import { integrityCheck, openDatabase } from '../core/db/database.js';
import { ShoeboxError } from '../core/errors.js';
import { describeHolder, lockHolder, waitForLock } from '../core/lock.js';
import { defaultLibraryDir, libraryLayout } from '../core/paths.js';
import { DEFAULT_ENCODER_ID } from '../core/encoders.js';
import { DEFAULT_SETTINGS, LibraryService } from '../core/service.js';
import { libraryUsage } from '../core/versions.js';
import { ProgressPrinter } from './progress.js';

const USAGE = `Usage:
  shoebox organize <folder> [options]   scan and embed a photo folder, group it into albums, then refine them
  shoebox serve <folder> [options]      open the Shoebox UI in your browser (127.0.0.1 only)
  shoebox check [--library <dir>]       check the library database and show what the library folder holds
  shoebox export <album> <folder>       copy an album's photos (by name or id) into a folder; originals stay as they are

Options:
  --library <dir>        where Shoebox keeps its index, thumbnails and models
                         (default: ${defaultLibraryDir()})
  --json <file>          organize: write every photo's album, the albums and the errors as JSON
  --device <d>           auto | cpu | webgpu | cuda | dml | coreml (default: auto)
  --no-train             organize: no on-device training this time
  --no-objects           organize: do not look for objects (people, dogs, boats ...) this time
  --no-faces             organize: do not look for faces and people this time
  --retrain              organize: train now, even when nothing warrants it (new photos, corrections)
  --finetune-backbone    organize: a training round also fine-tunes the backbone's last block (slow on a CPU)
  --train-steps <n>      organize: train steps of a round (default ${DEFAULT_SETTINGS.trainSteps}; saved for this library)
  --albums auto|<n>      organize: number of albums (default: auto)
  --method <m>           organize: propos | byol | moco (default: propos)
  --encoder <id>         organize: backbone encoder models/<id>.json, saved for this library
                         (default: the bundled ${DEFAULT_ENCODER_ID})
  --reorganize           organize: re-cluster everything that is not pinned by your edits
  --wait                 organize: wait for another Shoebox using the library to finish, instead of exiting
  --port <n>             serve: port on 127.0.0.1 (0 picks a free one; default 0)
  --link                 export: hard links instead of copies where the folder is on the same disk
  --xmp                  export: write an XMP sidecar per photo with the album's name as a keyword
  -h, --help             this help
  -v, --version          print the version`;

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
      'no-objects': { type: 'boolean' },
      'no-faces': { type: 'boolean' },
      retrain: { type: 'boolean' },
      'finetune-backbone': { type: 'boolean' },
      'train-steps': { type: 'string' },
      wait: { type: 'boolean' },
      albums: { type: 'string' },
      method: { type: 'string' },
      encoder: { type: 'string' },
      reorganize: { type: 'boolean' },
      port: { type: 'string' },
      link: { type: 'boolean' },
      xmp: { type: 'boolean' },
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
  if (!(DEVICES as readonly string[]).includes(v)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}`);
  return v as Device;
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await fs.promises.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface OrganizeJson {
  photos: { path: string; album: number | null; status: 'ok' | 'error' }[];
  albums: { id: number; name: string; count: number }[];
  /** Whether this organize trained, and why (or why not). */
  training: TrainingDecision | null;
  errors: { path: string; code: string; message: string }[];
  device: string | null;
  model: string | null;
  timings: Record<string, number>;
  /** People with faces in this folder's photos; `name` null until named. */
  people: { id: number; name: string | null; count: number }[];
  /** Every face found, its box in the upright photo's pixels, its person (null: unknown) and quality (0..1). */
  faces: { path: string; box: [number, number, number, number]; person: number | null; quality: number }[];
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
        .all(root.id) as {
        rel_path: string;
        status: string;
        error_code: string | null;
        error_message: string | null;
        album_id: number | null;
      }[])
    : [];
  const status = svc.status();
  const albums = svc.db
    .prepare(
      `SELECT a.id, a.name, a.kind, COUNT(p.id) AS count FROM albums a JOIN album_members m ON m.album_id = a.id
         JOIN photos p ON p.id = m.photo_id AND p.status = 'ok' AND p.root_id = ?
        WHERE a.deleted_at IS NULL GROUP BY a.id ORDER BY a.kind = 'unsorted', count DESC, a.id`,
    )
    .all(root?.id ?? -1) as { id: number; name: string; kind: string; count: number }[];
  const faceRows = svc.db
    .prepare(
      `SELECT p.rel_path, p.width, p.height, f.x, f.y, f.w, f.h, f.person_id, f.quality FROM faces f JOIN photos p ON p.id = f.photo_id
        WHERE p.root_id = ? AND p.status = 'ok' ORDER BY p.rel_path, f.x`,
    )
    .all(root?.id ?? -1) as {
    rel_path: string;
    width: number | null;
    height: number | null;
    x: number;
    y: number;
    w: number;
    h: number;
    person_id: number | null;
    quality: number;
  }[];
  const people = svc.db
    .prepare(
      `SELECT pe.id, pe.name, COUNT(DISTINCT f.photo_id) AS count FROM people pe JOIN faces f ON f.person_id = pe.id
         JOIN photos p ON p.id = f.photo_id AND p.status = 'ok' AND p.root_id = ? GROUP BY pe.id ORDER BY pe.name IS NULL, count DESC, pe.id`,
    )
    .all(root?.id ?? -1) as { id: number; name: string | null; count: number }[];
  return {
    photos: rows.map((r) => ({
      path: r.rel_path,
      album: r.status === 'ok' ? r.album_id : null,
      status: r.status === 'ok' ? 'ok' : 'error',
    })),
    albums: albums.map(({ id, name, count }) => ({ id, name, count })),
    training: status.training.decision,
    errors: rows
      .filter((r) => r.status !== 'ok')
      .map((r) => ({ path: r.rel_path, code: r.error_code ?? 'ERROR', message: r.error_message ?? '' })),
    device: status.device,
    model: status.model ? `${status.model.id}@${status.model.version}` : null,
    timings,
    people,
    faces: faceRows.map((f) => {
      const w = f.width ?? 1;
      const h = f.height ?? 1;
      return {
        path: f.rel_path,
        box: [Math.round(f.x * w), Math.round(f.y * h), Math.round(f.w * w), Math.round(f.h * h)],
        person: f.person_id,
        quality: Number(f.quality.toFixed(3)),
      };
    }),
  };
}

async function organize(args: ReturnType<typeof parse>): Promise<number> {
  const [folder] = args.positionals.slice(1);
  if (!folder) throw new UsageError('organize needs a folder: shoebox organize <folder>');
  const abs = path.resolve(folder);
  // Checked before anything is created, so a typo leaves no empty library behind.
  if (!fs.existsSync(abs)) throw new ShoeboxError('NOT_FOUND', `Folder ${abs} does not exist`);
  if (!fs.statSync(abs).isDirectory()) throw new ShoeboxError('INVALID_INPUT', `${abs} is not a folder`);
  const libraryDir = path.resolve(args.values.library ?? defaultLibraryDir());
  const device = deviceOpt(args.values.device);
  const steps = intOpt(args.values['train-steps'], 'train-steps', TRAIN_STEPS_MIN, TRAIN_STEPS_MAX);
  const albumsOpt = args.values.albums;
  let albums: 'auto' | number | undefined;
  if (albumsOpt !== undefined) albums = albumsOpt === 'auto' ? 'auto' : intOpt(albumsOpt, 'albums', 1, 1000);
  const method = args.values.method;
  if (method !== undefined && !['propos', 'byol', 'moco'].includes(method)) throw new UsageError('--method must be propos, byol or moco');
  if (args.values['no-train'] && args.values.retrain) throw new UsageError('--no-train and --retrain contradict each other');

  if (args.values.wait) {
    await waitForLock(libraryLayout(libraryDir).lock, 24 * 3600 * 1000, (h) =>
      process.stderr.write(`Waiting for ${describeHolder(h)} to finish with ${libraryDir}…\n`),
    );
  }
  const started = performance.now();
  const printer = new ProgressPrinter(process.stderr);
  const svc = new LibraryService(libraryDir, {
    command: 'shoebox organize',
    hooks: {
      onAlbums: (phase, r) => {
        if (phase !== 'first') return;
        printer.note(`Albums ready after ${((performance.now() - started) / 1000).toFixed(1)} s: ${r.albums} albums`);
        if (args.values.json) writeJson(svc, folder, args.values.json, svc.report?.timings ?? {});
      },
    },
  });
  try {
    svc.addRoot(abs);
    if (args.values.encoder !== undefined) {
      const r = await svc.call('setSettings', { encoder: args.values.encoder });
      if (!r.ok) throw new UsageError(`--encoder: ${r.error.message}`);
    }
    if (steps !== undefined) {
      const r = await svc.call('setSettings', { trainSteps: steps });
      if (!r.ok) throw new UsageError(`--train-steps: ${r.error.message}`);
    }
    const unsubscribe = svc.subscribe((e: ApiEvent) => {
      if (e.type === 'job-progress') printer.update(e.job);
    });
    const job = svc.organize({
      ...(args.values['no-train'] ? { train: false } : {}),
      ...(args.values['no-objects'] ? { objects: false } : {}),
      ...(args.values['no-faces'] ? { faces: false } : {}),
      retrain: args.values.retrain ?? false,
      reorganize: args.values.reorganize ?? false,
      ...(args.values['finetune-backbone'] ? { finetuneBlock: true } : {}),
      ...(albums !== undefined ? { albums } : {}),
      ...(method !== undefined ? { method: method as 'propos' | 'byol' | 'moco' } : {}),
      ...(device !== undefined ? { device } : {}),
    });
    const onSigint = (): void => {
      process.stderr.write('\nCancelling… (albums already written stay; an interrupted training round resumes next time)\n');
      svc.jobs.cancel(job.id);
    };
    process.once('SIGINT', onSigint);
    const info: JobInfo = await job.done;
    process.off('SIGINT', onSigint);
    unsubscribe();
    printer.done();
    const timings = svc.report?.timings ?? {};
    if (args.values.json) writeJson(svc, folder, args.values.json, timings);
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

function writeJson(svc: LibraryService, folder: string, file: string, timings: Record<string, number>): void {
  fs.writeFileSync(path.resolve(file), JSON.stringify(organizeJson(svc, folder, timings), null, 2));
}

function printSummary(svc: LibraryService, folder: string): void {
  const doc = organizeJson(svc, folder, svc.report?.timings ?? {});
  const r = svc.report;
  const unsorted = svc.db.prepare(`SELECT id FROM albums WHERE kind = 'unsorted' AND deleted_at IS NULL`).get() as
    { id: number } | undefined;
  const real = doc.albums.filter((a) => a.id !== unsorted?.id);
  const inUnsorted = doc.albums.find((a) => a.id === unsorted?.id)?.count ?? 0;
  const shown = real.slice(0, 5).map((a) => `${a.name}: ${a.count}`);
  if (real.length > 5) shown.push(`and ${real.length - 5} more`);
  const lines = [
    `Organized ${fs.realpathSync(folder)}`,
    `  photos:  ${doc.photos.filter((p) => p.status === 'ok').length} ok, ${doc.errors.length} could not be read`,
    `  albums:  ${real.length}${shown.length ? ` (${shown.join(', ')})` : ''}${inUnsorted ? `; ${inUnsorted} photos in Unsorted` : ''}`,
  ];
  if (doc.training) lines.push(`  training: ${doc.training.message}`);
  if (r) {
    const s = r.scan;
    lines.push(
      `  scan:    ${s.added} new, ${s.updated} changed, ${s.moved} moved, ${s.missing} missing, ${s.unchanged} unchanged, ${s.duplicates} duplicate groups`,
    );
    if (r.device) lines.push(`  device:  ${r.device}`);
    if (r.model) lines.push(`  model:   ${r.model}`);
    lines.push(
      `  time:    ${Object.entries(r.timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
        .join(', ')}`,
    );
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
  const core = await openCore({ libraryDir, roots: [abs], inWorker: true, device, autoOrganize: true, command: 'shoebox serve' });
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
  // Read-only: a check never needs the writer lock, so it also works while the app or `serve` has the library open.
  const db = openDatabase(libraryDir, { readonly: true });
  try {
    const problems = integrityCheck(db);
    const out: string[] = [];
    const holder = lockHolder(libraryLayout(libraryDir).lock);
    out.push(`Library ${libraryDir}${holder ? ` (in use by ${describeHolder(holder)})` : ''}`);
    const usage = libraryUsage({ libraryDir, db, layout: libraryLayout(libraryDir) });
    out.push(`  ${formatBytes(usage.total)} in all:`);
    for (const p of usage.parts)
      out.push(
        `  ${formatBytes(p.bytes).padStart(10)}  ${p.name.padEnd(15)} ${p.what}${p.files > 1 ? ` (${p.files.toLocaleString('en-US')} files)` : ''}`,
      );
    if (usage.versions.length) {
      out.push('  refined encoder versions (the active one and the one before it are kept):');
      for (const v of usage.versions) out.push(`  ${formatBytes(v.bytes).padStart(10)}  ${v.key}${v.active ? ' (active)' : ''}`);
    }
    if (usage.vectors.length) {
      out.push('  stored vectors:');
      for (const v of usage.vectors.slice(0, 12))
        out.push(`  ${formatBytes(v.bytes).padStart(10)}  ${v.key} (${v.rows.toLocaleString('en-US')} photos)`);
    }
    out.push(problems.length === 0 ? 'The database is healthy' : `The database has ${problems.length} problem(s):`);
    for (const p of problems) out.push(`  ${p}`);
    process.stdout.write(out.join('\n') + '\n');
    return problems.length === 0 ? 0 : 1;
  } finally {
    db.close();
  }
}

/** `shoebox export <album> <folder>`: the album by id or by name (case-insensitive; a unique prefix will do). */
async function exportAlbum(args: ReturnType<typeof parse>): Promise<number> {
  const [albumArg, folder] = args.positionals.slice(1);
  if (!albumArg || !folder) throw new UsageError('export needs an album and a folder: shoebox export <album> <folder>');
  const libraryDir = path.resolve(args.values.library ?? defaultLibraryDir());
  if (!fs.existsSync(path.join(libraryDir, 'library.db'))) throw new ShoeboxError('NOT_FOUND', `No library at ${libraryDir}`);
  if (args.values.wait) {
    await waitForLock(libraryLayout(libraryDir).lock, 24 * 3600 * 1000, (h) =>
      process.stderr.write(`Waiting for ${describeHolder(h)} to finish with ${libraryDir}…\n`),
    );
  }
  const svc = new LibraryService(libraryDir, { command: 'shoebox export' });
  try {
    const list = (await svc.call('listAlbums', {})) as { ok: true; value: { id: number; name: string; count: number }[] };
    const all = list.value;
    const lower = albumArg.toLowerCase();
    const exact = all.filter((a) => String(a.id) === albumArg || a.name.toLowerCase() === lower);
    const matches = exact.length > 0 ? exact : all.filter((a) => a.name.toLowerCase().startsWith(lower));
    if (matches.length === 0)
      throw new ShoeboxError('NOT_FOUND', `No album called “${albumArg}”. Albums: ${all.map((a) => a.name).join(', ')}`);
    if (matches.length > 1)
      throw new ShoeboxError(
        'INVALID_INPUT',
        `“${albumArg}” could be ${matches.map((a) => `“${a.name}” (${a.id})`).join(', ')}: give its full name or id`,
      );
    const job = svc.exportAlbum({
      albumId: matches[0].id,
      folder: path.resolve(folder),
      mode: args.values.link ? 'link' : 'copy',
      xmp: args.values.xmp ?? false,
    });
    const printer = new ProgressPrinter(process.stderr);
    const unsubscribe = svc.subscribe((e: ApiEvent) => {
      if (e.type === 'job-progress' && e.job.id === job.id) printer.update(e.job);
    });
    const info = await job.done;
    unsubscribe();
    printer.done();
    process.stdout.write(`${info.message}\n`);
    return info.state === 'done' ? 0 : 1;
  } finally {
    await svc.close();
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
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
      case 'export':
        return await exportAlbum(args);
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
