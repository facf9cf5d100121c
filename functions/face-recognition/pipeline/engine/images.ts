// RGB images on the CPU side: scaling by area averaging (a face shrunk 6× keeps its features
// rather than aliasing), for the first pass's smaller frame and the eval's composed scenes.
import type { Box, RgbImage } from "./types.js";

/**
 * `region` of `image` resampled to width × height, each new pixel the mean of the source pixels it
 * covers (`stepX`, `stepY`: source pixels per new pixel; by default the region's size over the new one).
 */
export function resample(
  image: RgbImage,
  region: Box,
  width: number,
  height: number,
  stepX = region.width / width,
  stepY = region.height / height,
): RgbImage {
  const rgb = Buffer.alloc(width * height * 3);
  const src = image.rgb;
  for (let y = 0; y < height; y++) {
    const y0 = region.y + Math.floor(y * stepY);
    const y1 = Math.max(y0 + 1, Math.min(region.y + region.height, region.y + Math.floor((y + 1) * stepY)));
    for (let x = 0; x < width; x++) {
      const x0 = region.x + Math.floor(x * stepX);
      const x1 = Math.max(x0 + 1, Math.min(region.x + region.width, region.x + Math.floor((x + 1) * stepX)));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = y0; sy < y1; sy++) {
        const row = Math.min(sy, image.height - 1) * image.width;
        for (let sx = x0; sx < x1; sx++) {
          const o = (row + Math.min(sx, image.width - 1)) * 3;
          r += src[o] as number;
          g += src[o + 1] as number;
          b += src[o + 2] as number;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return { width, height, rgb };
}

/** The image scaled down to `width`, its aspect kept. */
export function shrink(image: RgbImage, width: number): RgbImage {
  const height = Math.max(1, Math.round((image.height * width) / image.width));
  return resample(image, { x: 0, y: 0, width: image.width, height: image.height }, width, height);
}

/** The image in the middle of a grey canvas `margin` pixels wider on every side. */
export function padImage(image: RgbImage, margin: number): RgbImage {
  const width = image.width + 2 * margin;
  const height = image.height + 2 * margin;
  const rgb = Buffer.alloc(width * height * 3, 128);
  const row = image.width * 3;
  for (let y = 0; y < image.height; y++)
    image.rgb.copy(rgb, ((y + margin) * width + margin) * 3, y * row, (y + 1) * row);
  return { width, height, rgb };
}
