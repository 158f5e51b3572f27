/**
 * Worker-thread entry for HEIC decoding (heic.ts starts and reuses it): libheif-js (WebAssembly) decodes the
 * primary image to packed 8-bit RGB(A), with the file's irot/imir/clap transforms applied, off the main thread.
 */
import { createRequire } from 'node:module';
import { parentPort, threadId } from 'node:worker_threads';
import type { HeicReply, HeicRequest } from './heic.js';

/** The part of libheif-js's embind API used here (its own .d.ts is not published for the wasm bundle). */
interface LibheifError {
  code: { value: number };
  subcode?: { value: number };
  message: string;
}
interface LibheifChannel {
  width: number;
  height: number;
  stride: number;
  bits_per_pixel: number;
  data: Uint8Array;
}
interface LibheifDecoded {
  image: object;
  channels: LibheifChannel[];
}
interface Libheif {
  HEAPU8: Uint8Array;
  heif_colorspace: { heif_colorspace_RGB: unknown };
  heif_chroma: { heif_chroma_interleaved_RGB: unknown; heif_chroma_interleaved_RGBA: unknown };
  heif_context_alloc(): object | null;
  heif_context_free(ctx: object): void;
  heif_context_read_from_memory(ctx: object, data: Uint8Array): LibheifError;
  heif_js_context_get_primary_image_handle(ctx: object): object | LibheifError;
  heif_image_handle_get_width(h: object): number;
  heif_image_handle_get_height(h: object): number;
  heif_image_handle_has_alpha_channel(h: object): number;
  heif_image_handle_is_premultiplied_alpha(h: object): number;
  heif_image_handle_release(h: object): void;
  heif_js_decode_image2(h: object, colorspace: unknown, chroma: unknown): LibheifDecoded | LibheifError | null;
  heif_image_release(img: object): void;
}

const port = parentPort;
if (!port) throw new Error('heic-worker must run in a worker thread');

let lib: Libheif | null = null;
let loadError: string | null = null;

/** Loaded on first use: the bundle embeds its .wasm, so nothing is read from disk by path. */
function libheif(): Libheif | null {
  if (lib || loadError) return lib;
  try {
    lib = createRequire(import.meta.url)('libheif-js/wasm-bundle') as Libheif;
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  return lib;
}

const isError = (v: unknown): v is LibheifError =>
  typeof v === 'object' && v !== null && 'code' in v && (v as LibheifError).code !== undefined;

function fail(id: number, stage: 'read' | 'handle' | 'decode', e: LibheifError, heapBytes: number): HeicReply {
  return {
    id,
    ok: false,
    kind: 'libheif',
    stage,
    code: e.code.value,
    subcode: e.subcode?.value ?? 0,
    message: String(e.message),
    heapBytes,
  };
}

function decode(req: HeicRequest): { reply: HeicReply; transfer: ArrayBuffer[] } {
  const m = libheif();
  if (!m) return { reply: { id: req.id, ok: false, kind: 'missing', message: loadError ?? 'libheif-js did not load' }, transfer: [] };
  const t0 = performance.now();
  const ctx = m.heif_context_alloc();
  if (!ctx) return { reply: { id: req.id, ok: false, kind: 'crash', message: 'could not allocate a HEIF context' }, transfer: [] };
  let handle: object | null = null;
  let img: object | null = null;
  try {
    const err = m.heif_context_read_from_memory(ctx, req.data);
    if (err.code.value !== 0) return { reply: fail(req.id, 'read', err, m.HEAPU8.length), transfer: [] };
    const h = m.heif_js_context_get_primary_image_handle(ctx);
    if (isError(h)) return { reply: fail(req.id, 'handle', h, m.HEAPU8.length), transfer: [] };
    handle = h;
    // Sizes include the file's transforms (a 90° irot swaps them); checked before any pixel is decoded.
    const width = m.heif_image_handle_get_width(h);
    const height = m.heif_image_handle_get_height(h);
    if (!(width > 0 && height > 0) || width * height > req.maxPixels) {
      return { reply: { id: req.id, ok: false, kind: 'too-large', width, height, heapBytes: m.HEAPU8.length }, transfer: [] };
    }
    const alpha = m.heif_image_handle_has_alpha_channel(h) !== 0;
    const premultiplied = alpha && m.heif_image_handle_is_premultiplied_alpha(h) !== 0;
    const chroma = alpha ? m.heif_chroma.heif_chroma_interleaved_RGBA : m.heif_chroma.heif_chroma_interleaved_RGB;
    const out = m.heif_js_decode_image2(h, m.heif_colorspace.heif_colorspace_RGB, chroma);
    if (!out || isError(out)) {
      const e = out ?? { code: { value: -1 }, message: 'decoder returned nothing' };
      return { reply: fail(req.id, 'decode', e, m.HEAPU8.length), transfer: [] };
    }
    img = out.image;
    const ch = out.channels[0];
    const channels = alpha ? 4 : 3;
    if (!ch || ch.bits_per_pixel !== 8 || ch.width <= 0 || ch.height <= 0 || ch.stride < ch.width * channels) {
      const what = ch ? `${ch.bits_per_pixel}-bit ${ch.width}x${ch.height}` : 'no pixel plane';
      return {
        reply: fail(req.id, 'decode', { code: { value: 4 }, message: `unexpected decoder output (${what})` }, m.HEAPU8.length),
        transfer: [],
      };
    }
    // The plane is a view into the wasm heap, rows padded to `stride`: copy it packed into a buffer of our own.
    const row = ch.width * channels;
    const data = new Uint8Array(row * ch.height);
    for (let y = 0; y < ch.height; y++) data.set(ch.data.subarray(y * ch.stride, y * ch.stride + row), y * row);
    const reply: HeicReply = {
      id: req.id,
      ok: true,
      width: ch.width,
      height: ch.height,
      channels,
      premultiplied,
      data: data.buffer,
      threadId,
      heapBytes: m.HEAPU8.length,
      ms: performance.now() - t0,
    };
    return { reply, transfer: [data.buffer] };
  } catch (e) {
    // A wasm trap (out of memory, unreachable) leaves the module in an unknown state: the pool retires this worker.
    return { reply: { id: req.id, ok: false, kind: 'crash', message: e instanceof Error ? e.message : String(e) }, transfer: [] };
  } finally {
    try {
      if (img) m.heif_image_release(img);
      if (handle) m.heif_image_handle_release(handle);
      m.heif_context_free(ctx);
    } catch {
      // freeing after a trap can throw too; the worker is retired anyway
    }
  }
}

port.on('message', (req: HeicRequest) => {
  const { reply, transfer } = decode(req);
  port.postMessage(reply, transfer);
});
