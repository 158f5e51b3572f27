/** Per-image failure reasons: a bad photo yields one of these and never crashes a run. */
export type ImageErrorCode =
  /** The path does not exist. */
  | 'NOT_FOUND'
  /** The path exists but cannot be read (permissions, a directory, I/O error). */
  | 'UNREADABLE'
  /** Zero bytes. */
  | 'EMPTY_FILE'
  /** Declared pixel count over the limit (decompression-bomb guard); rejected from the header, before decoding. */
  | 'TOO_LARGE'
  /** Not an image, an unsupported format, or corrupt / truncated data. */
  | 'DECODE_FAILED';

/** Plain, serializable form of an image error (what crosses IPC and lands in the database). */
export interface ImageErrorInfo {
  code: ImageErrorCode;
  message: string;
}

/** Typed error for one image. */
export class ImageError extends Error implements ImageErrorInfo {
  constructor(
    public readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImageError';
  }

  toJSON(): ImageErrorInfo {
    return { code: this.code, message: this.message };
  }
}

/** Map a Node fs error to an ImageError. */
export function fsImageError(e: unknown, file: string): ImageError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = e instanceof Error ? e.message : String(e);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ImageError('NOT_FOUND', `no such file: ${file}`, { cause: e });
  return new ImageError('UNREADABLE', `cannot read ${file}: ${why}`, { cause: e });
}

/** Map an error thrown by sharp/libvips to an ImageError. */
export function decodeImageError(e: unknown, what: string): ImageError {
  const why = e instanceof Error ? e.message : String(e);
  if (/exceeds pixel limit/i.test(why)) return new ImageError('TOO_LARGE', `${what}: ${why}`, { cause: e });
  if (/Input file is missing|ENOENT/i.test(why)) return new ImageError('NOT_FOUND', `${what}: ${why}`, { cause: e });
  if (/EACCES|EPERM|EISDIR|permission denied/i.test(why)) return new ImageError('UNREADABLE', `${what}: ${why}`, { cause: e });
  if (/Input (Buffer|file) is empty/i.test(why)) return new ImageError('EMPTY_FILE', `${what}: ${why}`, { cause: e });
  return new ImageError('DECODE_FAILED', `${what}: ${why}`, { cause: e });
}
