/**
 * Per-image failures of decoding and embedding: the core's FileError (errors.ts) with the codes an image decode can
 * give. A bad photo yields one of these and never crashes a run.
 */
import { FileError, type FileErrorCode } from '../errors.js';

export { FileError as ImageError } from '../errors.js';

/** Plain, serializable form of an image error (what crosses threads and lands in the database). */
export interface ImageErrorInfo {
  code: FileErrorCode;
  message: string;
}

/** Map a Node fs error to a FileError. */
export function fsImageError(e: unknown, file: string): FileError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = e instanceof Error ? e.message : String(e);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileError('NOT_FOUND', `no such file: ${file}`, { cause: e });
  return new FileError('UNREADABLE', `cannot read ${file}: ${why}`, { cause: e });
}

/** Map an error thrown by sharp/libvips to a FileError. */
export function decodeImageError(e: unknown, what: string): FileError {
  const why = e instanceof Error ? e.message : String(e);
  if (/exceeds pixel limit/i.test(why)) return new FileError('TOO_LARGE', `${what}: ${why}`, { cause: e });
  if (/Input file is missing|ENOENT/i.test(why)) return new FileError('NOT_FOUND', `${what}: ${why}`, { cause: e });
  if (/EACCES|EPERM|EISDIR|permission denied/i.test(why)) return new FileError('UNREADABLE', `${what}: ${why}`, { cause: e });
  if (/Input (Buffer|file) is empty/i.test(why)) return new FileError('EMPTY_FILE', `${what}: ${why}`, { cause: e });
  return new FileError('DECODE_FAILED', `${what}: ${why}`, { cause: e });
}
