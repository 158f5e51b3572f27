import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { ImageError } from '../../../../electron/core/ml/errors.js';
import type { FileErrorCode as ImageErrorCode } from '../../../../electron/core/errors.js';
import { Embedder } from '../../../../electron/core/ml/embedder.js';
import { decodeRgb, type PreprocessSpec } from '../../../../electron/core/ml/preprocess.js';
import { photoLikeJpeg, syntheticEncoder } from '../../../../bench/fixtures/encoders.js';

const spec: PreprocessSpec = {
  input: { name: 'input', layout: 'NHWC', width: 32, height: 24, channels: 3, dtype: 'float32' },
  preprocess: { resize: 'cover', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
};

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A ~1 kB PNG whose header declares `side x side` RGB pixels (a decompression bomb, as far as the header goes). */
function pngBomb(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const firstRows = deflateSync(Buffer.alloc(4 * (side * 3 + 1))); // zeros compress ~1000:1
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', firstRows), pngChunk('IEND', Buffer.alloc(0))]);
}

async function codeOf(p: Promise<unknown>): Promise<ImageErrorCode> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ImageError, `expected ImageError, got ${String(e)}`);
    assert.ok(e.message.length > 0);
    return e.code;
  }
  assert.fail('expected a rejection');
}

void describe('bad inputs give typed errors', () => {
  let dir: string;
  const files: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-bad-'));
    const jpeg = await photoLikeJpeg(320, 240, 1);
    const put = async (name: string, data: Uint8Array | string): Promise<void> => {
      files[name] = path.join(dir, name);
      await writeFile(files[name], data);
    };
    await put('good.jpg', jpeg);
    await put('empty.jpg', new Uint8Array(0));
    await put('truncated.jpg', jpeg.subarray(0, jpeg.length >> 1));
    await put('text.jpg', 'this is not a JPEG, just text with the wrong extension\n');
    await put('bomb.png', pngBomb(30000));
    files.missing = path.join(dir, 'missing.jpg');
    files.folder = path.join(dir, 'folder.jpg');
    await mkdir(files.folder);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  void it('decodes the good file', async () => {
    assert.equal((await decodeRgb(files['good.jpg'], spec)).data.length, 32 * 24 * 3);
  });

  void it('zero-byte file -> EMPTY_FILE', async () => {
    assert.equal(await codeOf(decodeRgb(files['empty.jpg'], spec)), 'EMPTY_FILE');
    assert.equal(await codeOf(decodeRgb(new Uint8Array(0), spec)), 'EMPTY_FILE');
  });

  void it('truncated JPEG -> DECODE_FAILED', async () => {
    assert.equal(await codeOf(decodeRgb(files['truncated.jpg'], spec)), 'DECODE_FAILED');
  });

  void it('text file named .jpg -> DECODE_FAILED', async () => {
    assert.equal(await codeOf(decodeRgb(files['text.jpg'], spec)), 'DECODE_FAILED');
  });

  void it('30000x30000 PNG bomb -> TOO_LARGE, from the header, fast', async () => {
    const t0 = performance.now();
    assert.equal(await codeOf(decodeRgb(files['bomb.png'], spec)), 'TOO_LARGE');
    assert.ok(performance.now() - t0 < 1000, 'must be rejected before decoding');
    // A lower limit applies to ordinary images too.
    assert.equal(await codeOf(decodeRgb(files['good.jpg'], spec, { maxPixels: 320 * 240 - 1 })), 'TOO_LARGE');
  });

  void it('missing file -> NOT_FOUND; a directory -> UNREADABLE', async () => {
    assert.equal(await codeOf(decodeRgb(files.missing, spec)), 'NOT_FOUND');
    assert.equal(await codeOf(decodeRgb(files.folder, spec)), 'UNREADABLE');
  });

  void it('embedFiles reports each bad file and still embeds the good ones', async () => {
    const { manifest, bytes } = syntheticEncoder({ width: 32, height: 24 });
    const emb = await Embedder.fromModel(manifest, bytes, { device: 'cpu' });
    try {
      const names = ['good.jpg', 'empty.jpg', 'truncated.jpg', 'good.jpg', 'text.jpg', 'bomb.png', 'missing', 'folder'];
      const want: Array<ImageErrorCode | 'ok'> = ['ok', 'EMPTY_FILE', 'DECODE_FAILED', 'ok', 'DECODE_FAILED', 'TOO_LARGE', 'NOT_FOUND', 'UNREADABLE'];
      const got = new Map<number, ImageErrorCode | 'ok'>();
      for await (const r of emb.embedFiles(names.map((n) => files[n]), { batchSize: 2 })) {
        assert.ok(!got.has(r.index), `duplicate result for ${r.index}`);
        got.set(r.index, 'vector' in r ? 'ok' : r.error.code);
        if ('vector' in r) assert.equal(r.vector.length, manifest.output.dim);
      }
      assert.deepEqual(names.map((_, i) => got.get(i)), want);
    } finally {
      await emb.release();
    }
  });
});
