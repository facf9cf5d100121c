// Classroom-like scenes for the eval: several known and unknown people per 1080p frame, faces 24–96 px
// wide, moving a little, landscape and portrait, some stored rotated with rotation metadata. Planned
// here from the labeled photos (the held-out ones for known people), deterministic for a seed;
// drawn and encoded in scene-video.ts, scored in scene-score.ts. Ground truth (who, where, how wide)
// is known for every frame.
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";

export const FACE_WIDTHS = [24, 32, 48, 64, 96] as const;

/** How the scene is shot and stored: `rotate-90`/`rotate-180` store pixels turned, with metadata to undo it. */
export const SCENE_CASES = ["landscape", "portrait", "portrait rotate-90", "landscape rotate-180"] as const;
export type SceneCase = (typeof SCENE_CASES)[number];

/** A labeled photo with its face located: `name` is null for a stranger. */
export interface SourcePhoto {
  name: string | null;
  file: string;
  image: RgbImage;
  face: Box;
}

export interface PlacedFace {
  source: SourcePhoto;
  /** Face box width in the displayed frame, px. */
  width: number;
  /** Face box's top-left corner at time 0, in displayed coordinates. */
  x: number;
  y: number;
  /** Motion in px per second. */
  vx: number;
  vy: number;
}

export interface Scene {
  id: string;
  case: SceneCase;
  /** Displayed size (after rotation metadata is applied). */
  width: number;
  height: number;
  faces: PlacedFace[];
  seed: number;
}

export interface SceneVideo extends Scene {
  file: string;
  /** Known names in the scene, each once. */
  expected: string[];
}

export const SCENE_FPS = 4;
export const SCENE_SECONDS = 1.5;

/** Mulberry32: a small seeded generator, so that the same seed gives the same scenes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scene plans: each scene holds `knownPerScene` known people and `unknownPerScene` strangers. Known
 * people rotate through the list so that, over 2 × |FACE_WIDTHS| scenes of 6 people out of 12, each
 * person appears once at every width.
 */
export function planScenes(
  known: SourcePhoto[],
  unknown: SourcePhoto[],
  options: { scenes: number; knownPerScene: number; unknownPerScene: number; seed: number },
): Scene[] {
  const random = seededRandom(options.seed);
  const scenes: Scene[] = [];
  for (let k = 0; k < options.scenes; k++) {
    // Cases change every two scenes: consecutive scenes show the two halves of the people, so that
    // each case shows both halves (a case's figures are not one half's).
    const sceneCase = SCENE_CASES[Math.floor(k / 2) % SCENE_CASES.length] as SceneCase;
    const portrait = sceneCase.startsWith("portrait");
    const [width, height] = portrait ? [1080, 1920] : [1920, 1080];
    const people: { source: SourcePhoto; width: number }[] = [];
    for (let j = 0; j < options.knownPerScene; j++)
      people.push({
        source: known[(k * options.knownPerScene + j) % known.length] as SourcePhoto,
        width: FACE_WIDTHS[(k + j) % FACE_WIDTHS.length] as number,
      });
    for (let j = 0; j < options.unknownPerScene; j++)
      people.push({
        source: unknown[(k * options.unknownPerScene + j) % unknown.length] as SourcePhoto,
        width: FACE_WIDTHS[(k + j + 2) % FACE_WIDTHS.length] as number,
      });
    // One person per cell of a grid, placed at random inside it: nobody overlaps anybody.
    const columns = portrait ? 3 : 4;
    const rows = Math.ceil(people.length / columns);
    const cellW = width / columns;
    const cellH = height / rows;
    const cells = shuffle(
      Array.from({ length: columns * rows }, (_, i) => i),
      random,
    );
    const faces = people.map(({ source, width: faceWidth }, i): PlacedFace => {
      const cell = cells[i] as number;
      const extent = cropExtent(source, faceWidth);
      const slackX = Math.max(0, cellW - extent.width - 40);
      const slackY = Math.max(0, cellH - extent.height - 40);
      const left = (cell % columns) * cellW + 20 + random() * slackX;
      const top = Math.floor(cell / columns) * cellH + 20 + random() * slackY;
      return {
        source,
        width: faceWidth,
        x: Math.round(left + extent.faceX),
        y: Math.round(top + extent.faceY),
        vx: Math.round((random() - 0.5) * 24),
        vy: Math.round((random() - 0.5) * 12),
      };
    });
    scenes.push({
      id: `scene${String(k).padStart(2, "0")}`,
      case: sceneCase,
      width,
      height,
      faces,
      seed: options.seed + k,
    });
  }
  return scenes;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** The part of a photo pasted: the face with a margin of head and shoulders, within the photo. */
function cropRect(source: SourcePhoto): Box {
  const { face, image } = source;
  const side = 1.8 * Math.max(face.width, face.height);
  const cx = face.x + face.width / 2;
  const cy = face.y + face.height / 2;
  const x = Math.max(0, Math.round(cx - side / 2));
  const y = Math.max(0, Math.round(cy - side / 2));
  return {
    x,
    y,
    width: Math.min(image.width, Math.round(cx + side / 2)) - x,
    height: Math.min(image.height, Math.round(cy + side / 2)) - y,
  };
}

/** The pasted crop's size at this face width, and where the face sits in it. */
export function cropExtent(source: SourcePhoto, faceWidth: number) {
  const crop = cropRect(source);
  const scale = faceWidth / source.face.width;
  return {
    scale,
    crop,
    width: Math.round(crop.width * scale),
    height: Math.round(crop.height * scale),
    faceX: Math.round((source.face.x - crop.x) * scale),
    faceY: Math.round((source.face.y - crop.y) * scale),
  };
}

/** Where each face of the scene is at `seconds`, in displayed coordinates. */
export function facesAt(scene: Scene, seconds: number): { face: PlacedFace; box: Box }[] {
  return scene.faces.map((face) => ({
    face,
    box: {
      x: Math.round(face.x + face.vx * seconds),
      y: Math.round(face.y + face.vy * seconds),
      width: face.width,
      height: Math.round((face.source.face.height * face.width) / face.source.face.width),
    },
  }));
}
