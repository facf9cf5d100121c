// Classroom-like scenes for the eval: known people and strangers in a 1080p frame (or a phone's
// portrait one, some stored rotated with metadata), faces 24–96 px wide in rows like a lecture hall's
// (small faces at the back), drifting slowly, each scene shot in one condition (conditions.ts).
// Planned here, deterministic for a seed; drawn and encoded in scene-video.ts, scored in
// scene-score.ts. Ground truth (who, where, how wide) is known for every frame.
import type { Box, RgbImage } from "../../functions/face-recognition/pipeline/engine/types.js";
import { CONDITION_SPECS, CONDITIONS, type Condition, cameraOffset } from "./conditions.js";

export const FACE_WIDTHS = [24, 32, 40, 48, 64, 96] as const;

/** How the scene is shot and stored: `rotate-90`/`rotate-180` store pixels turned, with metadata to undo it. */
export const SCENE_CASES = ["landscape", "portrait", "portrait rotate-90", "landscape rotate-180"] as const;
export type SceneCase = (typeof SCENE_CASES)[number];

/** A labeled photo with its face located: `name` is null for a stranger. */
export interface SourcePhoto {
  name: string | null;
  file: string;
  image: RgbImage;
  face: Box;
  /** Who a stranger is when they are a real person left out of the gallery (for reports only). */
  person?: string;
}

export interface PlacedFace {
  source: SourcePhoto;
  /** Face box width in the displayed frame, px (before a turn squeezes it). */
  width: number;
  /** Face box's top-left corner at time 0, in displayed coordinates (before camera motion). */
  x: number;
  y: number;
  /** Motion in px per second. */
  vx: number;
  vy: number;
  /** Share of the face's height, from its chin up, covered by a bar (a hand, a laptop, a scarf). */
  hidden?: number;
  /** A turned head: horizontal squeeze (0.7–0.85) and shear (px per row) of the face crop. */
  squeeze?: number;
  shear?: number;
}

export interface Scene {
  id: string;
  case: SceneCase;
  /** Displayed size (after rotation metadata is applied). */
  width: number;
  height: number;
  faces: PlacedFace[];
  seed: number;
  /** Shooting condition (conditions.ts); none: a plain lit hall at CRF 18 as before. */
  condition?: Condition;
  crf?: number;
  fps?: number;
  seconds?: number;
  /** Camera pan (px/s) and hand shake (px): the whole picture moves. */
  camera?: { vx: number; vy: number; shake: number };
  /** Raw RGB file of width × height behind the faces (backgrounds.ts); none: a synthetic one. */
  backdrop?: string;
  backdropKind?: string;
  /** Classroom scenes: the split of people it belongs to, and its gallery (name → enrolled photos). */
  split?: "tuning" | "test";
  roster?: { name: string; photos: string[] }[];
}

export interface SceneVideo extends Scene {
  file: string;
  /** Known names in the scene, each once. */
  expected: string[];
}

export const SCENE_FPS = 10;
export const SCENE_SECONDS = 3;

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

/** One person to place: the photo and the face width. */
export interface Seat {
  source: SourcePhoto;
  width: number;
}

/**
 * A scene in `condition`: its seats in rows (smallest faces at the top, the back of the hall), each
 * at a random spot of its own cell with room to drift and for the camera to move, so that no face
 * or head crop overlaps another for the whole clip. `occurrence` alternates portrait storage.
 */
export function layoutScene(id: string, seats: Seat[], condition: Condition, occurrence: number, seed: number): Scene {
  const spec = CONDITION_SPECS[condition];
  const random = seededRandom(seed);
  const [width, height] = spec.portrait ? [1080, 1920] : [1920, 1080];
  const sceneCase: SceneCase = spec.portrait ? (occurrence % 2 === 0 ? "portrait" : "portrait rotate-90") : "landscape";
  const camera = { ...spec.pan, shake: spec.shake };
  const moved = SCENE_SECONDS * Math.max(Math.abs(camera.vx), Math.abs(camera.vy)) + camera.shake;
  const margin = 40 + Math.ceil(moved);
  const perRow = spec.portrait ? 3 : 4;
  const rows = Math.max(1, Math.ceil(seats.length / perRow));
  const order = seats.map((seat, slot) => ({ seat, slot })).sort((a, b) => a.seat.width - b.seat.width);
  const bandH = (height - 2 * margin) / rows;
  const faces: PlacedFace[] = [];
  for (let r = 0; r < rows; r++) {
    const members = shuffle(
      order.slice(Math.floor((r * seats.length) / rows), Math.floor(((r + 1) * seats.length) / rows)),
      random,
    );
    const cellW = (width - 2 * margin) / Math.max(1, members.length);
    members.forEach(({ seat, slot }, j) => {
      const turn = spread(slot + occurrence, spec.turned);
      const squeeze = turn ? 0.7 + 0.15 * random() : undefined;
      const extent = cropExtent(seat.source, seat.width);
      // Cells keep 30 px on each side: two neighbours drifting towards each other never meet.
      const slackX = Math.max(0, cellW - extent.width - 60);
      const slackY = Math.max(0, bandH - extent.height - 60);
      const left = margin + j * cellW + 30 + random() * slackX;
      const top = margin + r * bandH + 30 + random() * slackY;
      const face: PlacedFace = {
        source: seat.source,
        width: seat.width,
        x: Math.round(left + extent.faceX * (squeeze ?? 1)),
        y: Math.round(top + extent.faceY),
        vx: Math.round((random() - 0.5) * 16),
        vy: Math.round((random() - 0.5) * 6),
      };
      if (spread(slot + occurrence, spec.hidden)) face.hidden = 0.25 + 0.15 * random();
      if (squeeze !== undefined) {
        face.squeeze = squeeze;
        face.shear = (random() < 0.5 ? -1 : 1) * (0.03 + 0.05 * random());
      }
      faces[slot] = face;
    });
  }
  return {
    id,
    case: sceneCase,
    width,
    height,
    faces,
    seed,
    condition,
    crf: spec.crf,
    fps: SCENE_FPS,
    seconds: SCENE_SECONDS,
    camera,
  };
}

/** Whether item `i` is among a `share` of items spread evenly (0.5: every other one). */
function spread(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

/**
 * Scene plans: each scene holds `knownPerScene` known people and `unknownPerScene` strangers, in
 * the conditions in turn. Known people rotate through the list; each time the list comes round,
 * their widths shift by one, so that over 6 rounds each person appears once at every width.
 */
export function planScenes(
  known: SourcePhoto[],
  unknown: SourcePhoto[],
  options: { scenes: number; knownPerScene: number; unknownPerScene: number; seed: number },
): Scene[] {
  const scenes: Scene[] = [];
  const widths = FACE_WIDTHS.length;
  for (let k = 0; k < options.scenes; k++) {
    const condition = CONDITIONS[k % CONDITIONS.length] as Condition;
    const round = Math.floor((k * options.knownPerScene) / Math.max(1, known.length));
    const seats: Seat[] = [];
    for (let j = 0; j < options.knownPerScene; j++)
      seats.push({
        source: known[(k * options.knownPerScene + j) % known.length] as SourcePhoto,
        width: FACE_WIDTHS[(round + j) % widths] as number,
      });
    for (let j = 0; j < options.unknownPerScene; j++)
      seats.push({
        source: unknown[(k * options.unknownPerScene + j) % unknown.length] as SourcePhoto,
        width: FACE_WIDTHS[(k + 2 * j + 1) % widths] as number,
      });
    const occurrence = Math.floor(k / CONDITIONS.length);
    scenes.push(layoutScene(`scene${String(k).padStart(2, "0")}`, seats, condition, occurrence, options.seed + k));
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

/** Where each face of the scene is at `seconds`, in displayed coordinates (camera motion included). */
export function facesAt(scene: Scene, seconds: number): { face: PlacedFace; box: Box }[] {
  const { dx, dy } = cameraOffset(scene.camera, seconds);
  return scene.faces.map((face) => ({
    face,
    box: {
      x: Math.round(face.x + face.vx * seconds) + dx,
      y: Math.round(face.y + face.vy * seconds) + dy,
      width: Math.round(face.width * (face.squeeze ?? 1)),
      height: Math.round((face.source.face.height * face.width) / face.source.face.width),
    },
  }));
}
