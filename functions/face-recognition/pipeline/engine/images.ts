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

/**
 * `region` (whole pixels) of `image` as an image of its own; the part outside `image` is black. A
 * few small crops cost far less than the whole frame as a tensor (a 1080p frame is 25 MB of int32).
 */
export function crop(image: RgbImage, region: Box): RgbImage {
  const x = Math.round(region.x);
  const y = Math.round(region.y);
  const width = Math.max(1, Math.round(region.width));
  const height = Math.max(1, Math.round(region.height));
  const rgb = Buffer.alloc(width * height * 3);
  const left = Math.max(0, x);
  const right = Math.min(image.width, x + width);
  if (right > left)
    for (let row = Math.max(0, y); row < Math.min(image.height, y + height); row++)
      image.rgb.copy(
        rgb,
        ((row - y) * width + (left - x)) * 3,
        (row * image.width + left) * 3,
        (row * image.width + right) * 3,
      );
  return { width, height, rgb };
}
