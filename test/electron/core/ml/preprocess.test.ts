import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { createNormalizer, decodeRgb, preprocessImage, type PreprocessSpec } from '../../../../electron/core/ml/preprocess.js';

const W = 4;
const H = 3;
/** Channel c of pixel (x, y) of the generated 4x3 test image: all 36 values distinct. */
const px = (x: number, y: number, c: number): number => 20 * (y * W + x) + 5 * c + 3;

function rawImage(): Buffer {
  const b = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) b[(y * W + x) * 3 + c] = px(x, y, c);
  return b;
}

/** Lossless PNG of the test image, optionally tagged with an EXIF orientation. */
async function testPng(orientation?: number): Promise<Buffer> {
  const img = sharp(rawImage(), { raw: { width: W, height: H, channels: 3 } });
  return (orientation ? img.withMetadata({ orientation }) : img).png().toBuffer();
}

function spec(width: number, height: number, resize: 'cover' | 'fill', layout: 'NHWC' | 'NCHW' = 'NHWC'): PreprocessSpec {
  return {
    input: { name: 'input', layout, width, height, channels: 3, dtype: 'float32' },
    preprocess: { resize, range: [-1, 1], mean: [0.1, -0.2, 0.3], std: [0.5, 0.25, 2] },
  };
}

/** Hand computation of the normalized tensor: `source(x, y, c)` gives the 8-bit value at output pixel (x, y). */
function expected(s: PreprocessSpec, source: (x: number, y: number, c: number) => number): Float64Array {
  const { width, height, layout } = s.input;
  const { range, mean, std } = s.preprocess;
  const out = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = range[0] + ((range[1] - range[0]) * source(x, y, c)) / 255;
        const i = layout === 'NHWC' ? (y * width + x) * 3 + c : c * width * height + y * width + x;
        out[i] = (v - mean[c]) / std[c];
      }
    }
  }
  return out;
}

function assertClose(actual: Float32Array, want: Float64Array, tol = 1e-5): void {
  assert.equal(actual.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(actual[i] - want[i]) <= tol, `element ${i}: ${actual[i]} != ${want[i]}`);
  }
}

void describe('preprocess', () => {
  void it('cover: centre-crops 4x3 to 2x3 without resampling', async () => {
    const png = await testPng();
    for (const layout of ['NHWC', 'NCHW'] as const) {
      const s = spec(2, 3, 'cover', layout);
      assertClose(await preprocessImage(png, s), expected(s, (x, y, c) => px(x + 1, y, c)));
    }
  });

  void it('fill: stretches 4x3 to 8x6 (nearest kernel: every pixel becomes a 2x2 block)', async () => {
    const png = await testPng();
    for (const layout of ['NHWC', 'NCHW'] as const) {
      const s = spec(8, 6, 'fill', layout);
      const got = await preprocessImage(png, s, { kernel: 'nearest' });
      assertClose(got, expected(s, (x, y, c) => px(x >> 1, y >> 1, c)));
    }
  });

  void it('NHWC and NCHW hold the same values, transposed', async () => {
    const png = await testPng();
    const a = await preprocessImage(png, spec(4, 3, 'fill', 'NHWC'));
    const b = await preprocessImage(png, spec(4, 3, 'fill', 'NCHW'));
    for (let i = 0; i < 12; i++) for (let c = 0; c < 3; c++) assert.equal(a[i * 3 + c], b[c * 12 + i]);
  });

  void it('EXIF orientation 6 rotates 90 degrees clockwise before resizing', async () => {
    const png = await testPng(6);
    assert.equal((await sharp(png).metadata()).orientation, 6);
    // Displayed image is 3 wide, 4 high: displayed (x, y) comes from stored (y, H - 1 - x).
    const s = spec(3, 4, 'fill');
    assertClose(await preprocessImage(png, s), expected(s, (x, y, c) => px(y, H - 1 - x, c)));
  });

  void it('the default (antialiasing) kernel keeps a flat colour exact, in both resize modes', async () => {
    const flat = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 50, b: 7 } } }).png().toBuffer();
    const rgb = [200, 50, 7];
    for (const resize of ['cover', 'fill'] as const) {
      const s = spec(8, 8, resize);
      assertClose(await preprocessImage(flat, s), expected(s, (_x, _y, c) => rgb[c]), 1e-4);
    }
  });

  void it('transparent pixels become white, unless the caller says its inputs are opaque', async () => {
    // Fully transparent dark red: flattening shows the white background; `opaque` just drops alpha (faster).
    const png = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 120, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const s = spec(8, 8, 'fill');
    const flat = await decodeRgb(png, s);
    assert.deepEqual([...flat.data.subarray(0, 3)], [255, 255, 255]);
    const dropped = await decodeRgb(png, s, { opaque: true });
    assert.deepEqual([...dropped.data.subarray(0, 3)], [120, 0, 0]);
    // On an opaque image both paths give the same pixels.
    const jpg = await sharp({ create: { width: 30, height: 20, channels: 3, background: { r: 10, g: 200, b: 90 } } }).jpeg().toBuffer();
    assert.deepEqual([...(await decodeRgb(jpg, s, { opaque: true })).data], [...(await decodeRgb(jpg, s)).data]);
  });

  void it('greyscale becomes three equal channels', async () => {
    const grey = Buffer.from(Array.from({ length: W * H }, (_, i) => 17 * i + 5));
    const png = await sharp(grey, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 1);
    const { data } = await decodeRgb(png, spec(W, H, 'fill'));
    for (let i = 0; i < W * H; i++) assert.deepEqual([...data.subarray(3 * i, 3 * i + 3)], [grey[i], grey[i], grey[i]]);
  });

  void it('16-bit PNGs are scaled to 8 bits', async () => {
    const v16 = Uint16Array.from(rawImage(), (v) => v * 257);
    const png = await sharp(v16, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png).metadata()).depth, 'ushort');
    const { data } = await decodeRgb(png, spec(W, H, 'fill'));
    assert.deepEqual([...data], [...rawImage()]);
  });

  void it('alpha is flattened onto white', async () => {
    const rgba = Buffer.from([10, 20, 30, 255, 10, 20, 30, 0]);
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const { data } = await decodeRgb(png, spec(2, 1, 'fill'));
    assert.deepEqual([...data], [10, 20, 30, 255, 255, 255]);
  });

  void it('CMYK JPEGs decode to RGB', async () => {
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 30, g: 120, b: 220 } } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    assert.equal((await sharp(jpeg).metadata()).space, 'cmyk');
    const { data } = await decodeRgb(jpeg, spec(4, 4, 'cover'));
    assert.equal(data.length, 4 * 4 * 3);
    // Colour management may shift values a little; the hue must survive (blue > green > red).
    assert.ok(data[2] > data[1] && data[1] > data[0], `rgb ${data[0]},${data[1]},${data[2]}`);
  });

  void it('the normalizer writes at an offset and checks its input size', () => {
    const s = spec(2, 1, 'fill', 'NCHW');
    const norm = createNormalizer(s);
    const out = new Float32Array(4 + 6).fill(99);
    norm(Uint8Array.from([0, 255, 51, 102, 153, 204]), out, 4);
    assert.deepEqual([...out.subarray(0, 4)], [99, 99, 99, 99]);
    const bytes = [0, 255, 51, 102, 153, 204];
    assertClose(out.subarray(4), expected(s, (x, _y, c) => bytes[x * 3 + c]));
    assert.throws(() => norm(new Uint8Array(5), out, 0), RangeError);
  });

  void it('raw 0..255 NHWC input (the default encoder) is copied as is; any other mapping is applied', () => {
    const bytes = [0, 255, 51, 102, 153, 204];
    for (const pre of [
      { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] },
      { range: [0, 255], mean: [0, 0, 1], std: [1, 1, 1] },
      { range: [0, 255], mean: [0, 0, 0], std: [1, 2, 1] },
      { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
    ] as const) {
      const s: PreprocessSpec = { ...spec(2, 1, 'fill', 'NHWC'), preprocess: { resize: 'fill', range: [...pre.range], mean: [...pre.mean], std: [...pre.std] } };
      const norm = createNormalizer(s);
      const out = new Float32Array(3 + 6).fill(99);
      norm(Uint8Array.from(bytes), out, 3);
      assert.deepEqual([...out.subarray(0, 3)], [99, 99, 99]);
      assertClose(out.subarray(3), expected(s, (x, _y, c) => bytes[x * 3 + c]));
      assert.throws(() => norm(new Uint8Array(7), out, 0), RangeError);
    }
  });
});
