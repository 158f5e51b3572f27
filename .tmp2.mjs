import sharp from 'sharp';
const W=4000,H=3000;
const grid = Buffer.alloc(6*4*3).map((_, i) => (i * 53) % 256);
const base = await sharp(grid, { raw: { width: 6, height: 4, channels: 3 } }).resize(W, H, { kernel: 'cubic', fit: 'fill' }).raw().toBuffer();
const j0 = await sharp(base, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
console.log('smooth only', j0.length);
for (const sig of [2, 4, 8]) {
  const noise = await sharp({ create: { width: W, height: H, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: sig } } }).raw().toBuffer();
  const b2 = Buffer.from(base); for (let i = 0; i < b2.length; i++) b2[i] = Math.max(0, Math.min(255, b2[i] + noise[i] - 128));
  const j = await sharp(b2, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const t0 = performance.now(); for (let k=0;k<3;k++) await sharp(j).resize(224,224).raw().toBuffer(); 
  console.log('sigma', sig, 'bytes', j.length, 'decode ms', ((performance.now()-t0)/3).toFixed(1));
}
const t0 = performance.now(); for (let k=0;k<3;k++) await sharp(j0).resize(224,224).raw().toBuffer(); console.log('smooth decode ms', ((performance.now()-t0)/3).toFixed(1));
