import sharp from 'sharp';
import { decodeRgb } from './dist/electron/core/ml/preprocess.js';
const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#f00' } }).png().toBuffer();
const spec = { input: { name: 'input', layout: 'NHWC', width: 4, height: 3, channels: 3, dtype: 'float32' }, preprocess: { resize: 'cover', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] } };
console.log((await decodeRgb(new Uint8Array(png), spec)).data.slice(0, 6));
