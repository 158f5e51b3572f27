/**
 * One library, one writer: a lock file in the library folder, shared by the desktop app, `shoebox serve` and the
 * CLI. It is created atomically (O_EXCL) and names its holder; a lock whose process is gone (same host) is stale and
 * taken over, so a crash never locks a library for good.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { ShoeboxError } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** What holds it, e.g. "shoebox serve" or "Shoebox (desktop app)". */
  command: string;
  since: number;
  token: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The current holder of the lock at `file`, or null when it is free (or held by a process that is gone). */
export function lockHolder(file: string): LockHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') throw new Error('not a lock');
    if (h.host === os.hostname() && !pidAlive(h.pid)) return null;
    return h;
  } catch {
    // Half-written by a process that died while creating it: stale once it is older than a few seconds.
    try {
      return Date.now() - fs.statSync(file).mtimeMs > 5000 ? null : { pid: 0, host: '?', command: 'another Shoebox', since: Date.now(), token: '' };
    } catch {
      return null;
    }
  }
}

export function describeHolder(h: LockHolder): string {
  const where = h.host === os.hostname() ? `process ${h.pid}` : `process ${h.pid} on ${h.host}`;
  return `${h.command} (${where}, since ${new Date(h.since).toLocaleString()})`;
}

/** Locks held by this process, by file: a second service on the same library in this process is refused too. */
const held = new Map<string, string>();
let exitHook = false;

export class LibraryLock {
  private released = false;

  private constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {}

  /** Take the lock or throw BUSY naming who holds it. */
  static acquire(file: string, command: string): LibraryLock {
    const holder: LockHolder = { pid: process.pid, host: os.hostname(), command, since: Date.now(), token: randomUUID() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx');
        try {
          fs.writeFileSync(fd, JSON.stringify(holder));
        } finally {
          fs.closeSync(fd);
        }
        held.set(file, holder.token);
        if (!exitHook) {
          exitHook = true;
          // Best effort on a normal exit; a crash leaves a stale lock that the next process takes over.
          process.once('exit', () => {
            for (const [f, token] of held) releaseFile(f, token);
          });
        }
        return new LibraryLock(file, holder);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const current = lockHolder(file);
        if (current) {
          throw new ShoeboxError(
            'BUSY',
            `This library is in use by ${describeHolder(current)}. Close it first, or use another library folder (--library).`,
          );
        }
        // Stale: remove it and try again (another process may win the race; then we report it).
        try {
          fs.rmSync(file, { force: true });
        } catch {
          // gone already
        }
      }
    }
    throw new ShoeboxError('BUSY', `Could not lock ${file}: another process keeps taking it`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.file);
    releaseFile(this.file, this.holder.token);
  }
}

function releaseFile(file: string, token: string): void {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    if (h.token === token) fs.rmSync(file, { force: true });
  } catch {
    // already gone or not ours
  }
}

/** Wait until the lock at `file` is free (or `timeoutMs` passes); returns whether it is free. */
export async function waitForLock(file: string, timeoutMs: number, onWait?: (h: LockHolder) => void): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const h = lockHolder(file);
    if (!h) return true;
    if (!told) {
      onWait?.(h);
      told = true;
    }
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}
