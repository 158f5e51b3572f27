import type { ApiError, ErrorCode } from './api/contract.js';

/** An error that is meant to cross the API boundary with a code and a human message. */
export class ShoeboxError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShoeboxError';
  }
}

/**
 * Per-file problems found while scanning, decoding or embedding; stored on the photo row. NOT_FOUND: the path does
 * not exist (or vanished); UNREADABLE: it cannot be read (permissions, I/O); EMPTY_FILE: zero bytes; TOO_LARGE: over
 * the size or pixel limit (rejected before reading or decoding); DECODE_FAILED: not an image, or corrupt/truncated;
 * UNSUPPORTED: an image format this build cannot decode; NOT_A_FILE: a directory or special file.
 */
export type FileErrorCode =
  | 'EMPTY_FILE'
  | 'DECODE_FAILED'
  | 'TOO_LARGE'
  | 'UNREADABLE'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'NOT_A_FILE';

/** What went wrong with one file (scan) or image (decode, embed): stored on the photo row; a run carries on. */
export class FileError extends Error {
  constructor(
    public readonly code: FileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FileError';
  }

  toJSON(): { code: FileErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Map anything thrown to a serializable ApiError; internal details stay out of the message. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ShoeboxError) return { code: e.code, message: e.message };
  if (e instanceof FileError) return { code: 'INVALID_INPUT', message: e.message };
  if (e instanceof Error && e.name === 'AbortError') return { code: 'CANCELLED', message: 'Cancelled' };
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: message || 'Internal error' };
}

/** Classify a Node fs error for a file path. */
export function fileErrorFromFs(e: unknown, what: string): FileError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new FileError('NOT_FOUND', `${what} vanished before it could be read`);
  if (code === 'EACCES' || code === 'EPERM') return new FileError('UNREADABLE', `${what} cannot be read (permission denied)`);
  if (code === 'EISDIR') return new FileError('NOT_A_FILE', `${what} is a directory`);
  const msg = e instanceof Error ? e.message : String(e);
  return new FileError('UNREADABLE', `${what} cannot be read: ${msg}`);
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function abortError(): Error {
  const e = new Error('Cancelled');
  e.name = 'AbortError';
  return e;
}
