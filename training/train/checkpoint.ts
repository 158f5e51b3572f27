/**
 * Training checkpoints: a JSON header plus a binary blob of named typed arrays, written atomically.
 *
 * Layout: "SBXCKPT1" | uint32 LE header length | header JSON (UTF-8) | zero padding to 8 bytes | blob.
 * The header holds the caller's metadata, a table of tensors (name, type, byte offset in the blob, element count)
 * and the blob's sha256, so a damaged file is rejected instead of silently resuming from garbage.
 */

import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export type CheckpointArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

export interface Checkpoint<M = unknown> {
  meta: M;
  tensors: Record<string, CheckpointArray>;
}

const MAGIC = new TextEncoder().encode('SBXCKPT1');

type ArrayType = 'float32' | 'float64' | 'int32' | 'uint32' | 'uint8';

interface TableEntry {
  name: string;
  type: ArrayType;
  offset: number;
  length: number;
}

interface Header<M> {
  meta: M;
  tensors: TableEntry[];
  sha256: string;
}

function typeOf(a: CheckpointArray): ArrayType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  return 'uint8';
}

const BYTES: Record<ArrayType, number> = { float32: 4, float64: 8, int32: 4, uint32: 4, uint8: 1 };

/** An aligned copy (Node Buffers may share a pooled ArrayBuffer at any offset). */
function view(type: ArrayType, bytes: Uint8Array, offset: number, length: number): CheckpointArray {
  const copy = new Uint8Array(length * BYTES[type]);
  copy.set(bytes.subarray(offset, offset + copy.length));
  switch (type) {
    case 'float32':
      return new Float32Array(copy.buffer);
    case 'float64':
      return new Float64Array(copy.buffer);
    case 'int32':
      return new Int32Array(copy.buffer);
    case 'uint32':
      return new Uint32Array(copy.buffer);
    case 'uint8':
      return copy;
  }
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Serialize a checkpoint to bytes. */
export function encodeCheckpoint<M>(c: Checkpoint<M>): Uint8Array {
  const table: TableEntry[] = [];
  let size = 0;
  for (const [name, a] of Object.entries(c.tensors)) {
    table.push({ name, type: typeOf(a), offset: size, length: a.length });
    size = align8(size + a.byteLength);
  }
  const blob = new Uint8Array(size);
  for (const e of table) {
    const a = c.tensors[e.name];
    blob.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), e.offset);
  }
  const sha256 = createHash('sha256').update(blob).digest('hex');
  const header = new TextEncoder().encode(JSON.stringify({ meta: c.meta, tensors: table, sha256 } satisfies Header<M>));
  const start = align8(MAGIC.length + 4 + header.length);
  const out = new Uint8Array(start + blob.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  out.set(blob, start);
  return out;
}

/** Parse checkpoint bytes; throws on a wrong magic, a truncated file or a checksum mismatch. */
export function decodeCheckpoint<M = unknown>(bytes: Uint8Array): Checkpoint<M> {
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) throw new Error('not a Shoebox training checkpoint');
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + len > bytes.length) throw new Error('truncated checkpoint header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + len))) as Header<M>;
  const blob = bytes.subarray(align8(MAGIC.length + 4 + len));
  if (createHash('sha256').update(blob).digest('hex') !== header.sha256) throw new Error('checkpoint data is corrupt (sha256 mismatch)');
  const tensors: Record<string, CheckpointArray> = {};
  for (const e of header.tensors) tensors[e.name] = view(e.type, blob, e.offset, e.length);
  return { meta: header.meta, tensors };
}

/** Write atomically: a temporary file in the same folder, fsync, rename over `file`, fsync the folder. */
export async function writeCheckpoint<M>(file: string, c: Checkpoint<M>): Promise<void> {
  const bytes = encodeCheckpoint(c);
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. Windows); the rename itself is still atomic.
  }
}

/** Read a checkpoint, or undefined if the file does not exist. */
export async function readCheckpoint<M = unknown>(file: string): Promise<Checkpoint<M> | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return decodeCheckpoint<M>(bytes);
}
