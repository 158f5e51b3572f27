/**
 * Photos with faces for tests: head-and-shoulders crops of two people (a man and a woman) from @vladmandic/human's
 * MIT-licensed sample collage, read from node_modules at test time, pasted onto textured backgrounds.
 */
import path from 'node:path';
import sharp from 'sharp';
import { findPackageDir } from '../../training/convert/encoders.js';
import { Rng } from '../../training/numeric/rng.js';

export const sampleCollage = (): string => path.join(findPackageDir('@vladmandic/human'), 'assets', 'samples.jpg');

/** Head-and-shoulders crops of two people in the collage's top row. */
const PEOPLE = {
  man: { left: 405, top: 5, width: 90, height: 110 },
  woman: { left: 185, top: 5, width: 90, height: 100 },
};

export interface Pasted {
  who: keyof typeof PEOPLE;
  x: number;
  y: number;
  size: number;
}

/** A 900x700 textured photo with the given people pasted in (their crop scaled to `size` px wide). */
export async function facePhoto(file: string, collage: string, seed: number, pasted: Pasted[]): Promise<void> {
  const rng = new Rng(seed);
  const noise = Buffer.from(Uint8Array.from({ length: 90 * 70 * 3 }, () => 40 + rng.int(160)));
  const layers = [];
  for (const p of pasted) {
    const c = PEOPLE[p.who];
    let img = sharp(collage).extract(c);
    if (seed % 2) img = img.flop();
    layers.push({ input: await img.resize(p.size).png().toBuffer(), left: p.x, top: p.y });
  }
  await sharp(noise, { raw: { width: 90, height: 70, channels: 3 } })
    .resize(900, 700)
    .blur(2)
    .composite(layers)
    .jpeg({ quality: 90 })
    .toFile(file);
}
