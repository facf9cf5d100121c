// Box geometry shared by the small-face search, the tracker and the eval.
import type { Box } from "./types.js";

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** The share of `a`'s area that lies inside `b`. */
export function insideShare(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : (w * h) / (a.width * a.height);
}

/** Whether two boxes are one face: they overlap (IoU above `threshold`) or one lies mostly inside the other. */
function sameFace(a: Box, b: Box, threshold = 0.3): boolean {
  return iou(a, b) > threshold || insideShare(a, b) > 0.6 || insideShare(b, a) > 0.6;
}

/**
 * One box per face from overlapping passes: the highest-scoring first; a box on the same face as a
 * kept one (as a face cut by a tile's edge is) is dropped.
 */
export function mergeBoxes<T extends { box: Box; score: number }>(found: T[], threshold = 0.3): T[] {
  const kept: T[] = [];
  for (const f of [...found].sort((a, b) => b.score - a.score))
    if (!kept.some((k) => sameFace(k.box, f.box, threshold))) kept.push(f);
  return kept;
}

export function scaleBox(box: Box, factor: number, offsetX = 0, offsetY = 0): Box {
  return {
    x: offsetX + box.x * factor,
    y: offsetY + box.y * factor,
    width: box.width * factor,
    height: box.height * factor,
  };
}

/**
 * Square regions of side `tile` (or the image's side, when smaller) covering a width × height
 * image, neighbours overlapping by at least `overlap` px, so that a face of up to `overlap` px
 * lies whole in some tile. Edge tiles are moved inwards rather than cut.
 */
export function tiles(width: number, height: number, tile: number, overlap: number): Box[] {
  const starts = (length: number, side: number) => {
    if (length <= side) return [0];
    const count = Math.ceil((length - overlap) / (side - overlap));
    const step = (length - side) / (count - 1);
    return Array.from({ length: count }, (_, i) => Math.round(i * step));
  };
  const w = Math.min(tile, width);
  const h = Math.min(tile, height);
  return starts(height, h).flatMap((y) => starts(width, w).map((x) => ({ x, y, width: w, height: h })));
}

/** A square `spread` times the box's size around it, within a width × height image. */
export function squareAround(box: Box, width: number, height: number, spread: number): Box {
  const side = spread * Math.max(box.width, box.height);
  const x = Math.max(0, Math.round(box.x + box.width / 2 - side / 2));
  const y = Math.max(0, Math.round(box.y + box.height / 2 - side / 2));
  return {
    x,
    y,
    width: Math.min(width, Math.round(box.x + box.width / 2 + side / 2)) - x,
    height: Math.min(height, Math.round(box.y + box.height / 2 + side / 2)) - y,
  };
}
