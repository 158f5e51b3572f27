/**
 * Augmented views for self-supervised training, made with sharp (as in BYOL / ProPos):
 * random resized crop, horizontal flip, colour jitter (brightness, contrast, saturation, hue), random grayscale and
 * Gaussian blur. Each view is returned as packed RGB bytes at the encoder's input size; normalization to floats is
 * the encoder's business (its manifest).
 */
import sharp from 'sharp';

export interface AugmentOptions {
  /** Output size (the encoder's input). */
  width: number;
  height: number;
  /** Area fraction range of the random crop. */
  scale?: [number, number];
  /** Aspect-ratio range of the random crop. */
  ratio?: [number, number];
  /** Probability of colour jitter, and its strengths (BYOL: 0.8; 0.4, 0.4, 0.2, 0.1). */
  jitterP?: number;
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  grayscaleP?: number;
  blurP?: number;
  flipP?: number;
}

export const DEFAULT_AUGMENT: Required<Omit<AugmentOptions, 'width' | 'height'>> = {
  scale: [0.25, 1],
  ratio: [3 / 4, 4 / 3],
  jitterP: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.2,
  hue: 0.1,
  grayscaleP: 0.2,
  blurP: 0.5,
  flipP: 0.5,
};

/** A crop rectangle in source pixels. */
export interface Crop {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Random-resized-crop geometry (torchvision's algorithm: 10 tries, then a centre crop within the ratio range). */
export function randomCrop(srcW: number, srcH: number, scale: [number, number], ratio: [number, number], rand: () => number): Crop {
  const area = srcW * srcH;
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let i = 0; i < 10; i++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rand());
    const aspect = Math.exp(logR[0] + (logR[1] - logR[0]) * rand());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= srcW && h <= srcH) {
      return { left: Math.floor(rand() * (srcW - w + 1)), top: Math.floor(rand() * (srcH - h + 1)), width: w, height: h };
    }
  }
  const inRatio = srcW / srcH;
  let w = srcW;
  let h = srcH;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { left: Math.floor((srcW - w) / 2), top: Math.floor((srcH - h) / 2), width: w, height: h };
}

/**
 * Make one augmented view of an image (`srcW` x `srcH` after EXIF rotation, which thumbnails already have).
 * Returns `width * height * 3` RGB bytes.
 */
export async function augmentView(
  input: string | Buffer,
  srcW: number,
  srcH: number,
  opts: AugmentOptions,
  rand: () => number,
): Promise<Uint8Array> {
  const o = { ...DEFAULT_AUGMENT, ...opts };
  const crop = randomCrop(srcW, srcH, o.scale, o.ratio, rand);
  let img = sharp(input).rotate().extract(crop).resize(o.width, o.height, { fit: 'fill', kernel: 'linear' });
  if (rand() < o.flipP) img = img.flop();
  if (rand() < o.jitterP) {
    const u = (s: number): number => 1 + (2 * rand() - 1) * s;
    img = img.modulate({ brightness: u(o.brightness), saturation: u(o.saturation), hue: Math.round((2 * rand() - 1) * o.hue * 360) });
    const c = u(o.contrast);
    img = img.linear(c, 128 * (1 - c));
  }
  if (rand() < o.blurP) img = img.blur(0.3 + rand() * 1.7);
  const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  let rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels === 1) {
    const out = new Uint8Array(o.width * o.height * 3);
    for (let i = 0; i < o.width * o.height; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = rgb[i];
    rgb = out;
  }
  if (rand() < o.grayscaleP) {
    for (let i = 0; i < rgb.length; i += 3) {
      const y = Math.round(0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2]);
      rgb[i] = rgb[i + 1] = rgb[i + 2] = y;
    }
  }
  return rgb;
}
