import sharp from 'sharp';
const W = 4000, H = 3000;
const grid = Buffer.from(Array.from({ length: 6 * 4 * 3 }, (_, i) => (i * 97) % 256));
const base = await sharp(grid, { raw: { width: 6, height: 4, channels: 3 } }).resize(W, H, { kernel: 'cubic', fit: 'fill' }).raw().toBuffer();
const row = (b) => [...b.subarray((1500 * W + 2000) * 3, (1500 * W + 2000) * 3 + 24)];
console.log('base', row(base));
const base2 = await sharp(grid, { raw: { width: 6, height: 4, channels: 3 } }).resize(W, H, { kernel: 'cubic', fit: 'fill' }).composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><circle cx="10" cy="10" r="5" fill="red"/></svg>`) }]).raw().toBuffer();
console.log('base+svg', row(base2));
