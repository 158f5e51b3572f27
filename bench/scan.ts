/**
 * bench:scan — cold scan (hash + EXIF + thumbnail + index) of camera-sized JPEGs vs a bare sharp loop doing the
 * same thumbnail work with the same concurrency, plus a no-change rescan.
 *
 *   node dist/bench/scan.js [--count 2000] [--width 4000] [--height 3000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { JobInfo } from '../electron/core/api/contract.js';
import { openDatabase } from '../electron/core/db/database.js';
import { JobContext } from '../electron/core/jobs.js';
import { scanLibrary } from '../electron/core/library/scanner.js';
import { encodeThumbnail, THUMB_SIZE } from '../electron/core/library/thumbs.js';
import { CACHE, argValue, writeResult } from './common.js';

const count = Number(argValue('--count', '2000'));
const width = Number(argValue('--width', '4000'));
const height = Number(argValue('--height', '3000'));
const concurrency = Number(argValue('--concurrency', String(2 * os.availableParallelism())));

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Camera-like content: a smooth random scene (upscaled coarse noise + shapes) with fine grain, some rotated via EXIF. */
async function generate(dir: string): Promise<void> {
  const marker = path.join(dir, `.complete-${count}-${width}x${height}`);
  if (fs.existsSync(marker)) return;
  // A larger complete set serves a smaller run (the first `count` files are used).
  const larger = fs.existsSync(dir) && fs.readdirSync(dir).some((f) => {
    const m = /^\.complete-(\d+)-(\d+)x(\d+)$/.exec(f);
    return m !== null && Number(m[1]) >= count && Number(m[2]) === width && Number(m[3]) === height;
  });
  if (larger) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  console.error(`generating ${count} ${width}x${height} JPEGs into ${dir} (once)…`);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const r = rng(i + 1);
    const cw = 48;
    const ch = 36;
    const coarse = Buffer.alloc(cw * ch * 3);
    const base = [r() * 255, r() * 255, r() * 255];
    for (let k = 0; k < cw * ch; k++) for (let c = 0; c < 3; c++) coarse[3 * k + c] = Math.max(0, Math.min(255, base[c] + (r() - 0.5) * 120));
    const svg = Buffer.from(
      `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${Array.from({ length: 6 }, () => {
        const x = Math.round(r() * width);
        const y = Math.round(r() * height);
        const rad = Math.round((0.05 + r() * 0.2) * width);
        return `<circle cx="${x}" cy="${y}" r="${rad}" fill="rgb(${Math.round(r() * 255)},${Math.round(r() * 255)},${Math.round(r() * 255)})" fill-opacity="0.6"/>`;
      }).join('')}</svg>`,
    );
    let img = sharp(coarse, { raw: { width: cw, height: ch, channels: 3 } })
      .resize(width, height, { kernel: 'cubic' })
      .composite([{ input: svg }])
      .jpeg({ quality: 88 });
    const exif: Record<string, Record<string, string>> = {
      IFD0: { Make: 'Bench', Model: `Camera ${i % 3}` },
      IFD2: { DateTimeOriginal: `2024:${String((i % 12) + 1).padStart(2, '0')}:${String((i % 28) + 1).padStart(2, '0')} 12:00:00` },
    };
    img = img.withExif(exif);
    if (i % 5 === 0) img = img.withMetadata({ orientation: 6 });
    await img.toFile(path.join(dir, `IMG_${String(i).padStart(5, '0')}.jpg`));
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++);
    }),
  );
  fs.writeFileSync(marker, '');
}

/** The same thumbnail work as the scanner, in a bare loop: read, decode with shrink-on-load, resize, JPEG, write. */
async function bareLoop(files: string[], outDir: string): Promise<number> {
  fs.mkdirSync(outDir, { recursive: true });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const i = next++;
        const buf = await fs.promises.readFile(files[i]);
        const out = await encodeThumbnail(
          sharp(buf, { limitInputPixels: 150_000_000, failOn: 'error', sequentialRead: true })
            .rotate()
            .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'outside', withoutEnlargement: true, fastShrinkOnLoad: true }),
        ).toBuffer();
        await fs.promises.writeFile(path.join(outDir, `${i}.jpg`), out);
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

function ctx(): JobContext {
  const info: JobInfo = { id: 'bench', kind: 'scan', state: 'running', stage: null, done: 0, total: 0, rate: 0, etaSec: null, message: '', startedAt: Date.now(), finishedAt: null };
  return new JobContext(info, new AbortController(), () => {});
}

async function main(): Promise<void> {
  const dir = path.join(CACHE, `scan-${width}x${height}`);
  await generate(dir);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().slice(0, count).map((f) => path.join(dir, f));
  const bytes = files.reduce((a, f) => a + fs.statSync(f).size, 0);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-bench-scan-'));
  try {
    // Warm the page cache so both contenders read from memory, then alternate runs: bare, scan, bare, scan.
    for (const f of files) fs.readFileSync(f);
    // The library root holds exactly the files the bare loop reads (links to the cached photos).
    const root = path.join(work, 'photos');
    fs.mkdirSync(root);
    for (const f of files) fs.symlinkSync(f, path.join(root, path.basename(f)));
    const bareRuns: number[] = [];
    const coldRuns: number[] = [];
    let cold: Awaited<ReturnType<typeof scanLibrary>> | null = null;
    let rescanSec = NaN;
    let re: Awaited<ReturnType<typeof scanLibrary>> | null = null;
    for (let r = 0; r < 2; r++) {
      bareRuns.push(await bareLoop(files, path.join(work, `bare${r}`)));
      fs.rmSync(path.join(work, `bare${r}`), { recursive: true, force: true });
      const lib = path.join(work, `lib${r}`);
      const db = openDatabase(lib);
      db.prepare('INSERT INTO roots(path, added_at) VALUES (?, ?)').run(root, Date.now());
      let t0 = performance.now();
      cold = await scanLibrary(db, { cacheDir: path.join(lib, 'cache'), concurrency }, ctx());
      coldRuns.push((performance.now() - t0) / 1000);
      if (r === 0) {
        t0 = performance.now();
        re = await scanLibrary(db, { cacheDir: path.join(lib, 'cache'), concurrency }, ctx());
        rescanSec = (performance.now() - t0) / 1000;
      }
      db.close();
      fs.rmSync(lib, { recursive: true, force: true });
    }
    const coldSec = Math.min(...coldRuns);
    const bareBest = Math.min(...bareRuns);
    const scanRate = files.length / coldSec;
    const bareRate = files.length / bareBest;
    const result = {
      inputs: { files: files.length, width, height, megabytes: Math.round(bytes / 2 ** 20), concurrency, exifRotated: Math.ceil(files.length / 5) },
      coldScan: { seconds: coldRuns, filesPerSec: scanRate, summary: cold, note: 'fresh library each run; best of two runs' },
      bareSharpLoop: { seconds: bareRuns, filesPerSec: bareRate, note: 'read + decode (shrink-on-load) + rotate + resize + JPEG + write; best of two runs' },
      ratio: scanRate / bareRate,
      target: { ratio: 0.85, rescanSeconds: 2 },
      noChangeRescan: { seconds: rescanSec, unchanged: re?.unchanged, processed: re?.processed },
    };
    console.error(
      `cold scan ${scanRate.toFixed(1)} files/s, bare sharp ${bareRate.toFixed(1)} files/s, ratio ${(scanRate / bareRate).toFixed(3)}; no-change rescan ${rescanSec.toFixed(2)} s`,
    );
    writeResult('scan', result);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
