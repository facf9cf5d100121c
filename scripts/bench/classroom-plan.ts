// The bench's classroom scenes, planned here and not by the eval (whose plans change as the eval
// does): a 1080p lecture hall, 5 known people and 4 strangers in three rows, small faces at the
// back, drifting slowly. Pure and seeded: the same photos and seed give the same plans (and cache key).
import { createHash } from "node:crypto";
import type { PlacedFace, Scene, SourcePhoto } from "../eval/scenes.js";
import { seededRandom } from "../eval/scenes.js";

/** What each scene is and how it is encoded (part of the cache key). */
export const CLASSROOM = {
  width: 1920,
  height: 1080,
  fps: 10,
  seconds: 3,
  crf: 28,
  known: 5,
  strangers: 4,
  seed: 22,
} as const;

/** Face widths per row, back (top of the frame) to front; each row holds three people. */
export const ROW_WIDTHS = [
  [24, 32],
  [40, 48],
  [64, 96],
] as const;
/** The vertical centre of each row's faces. */
const ROW_Y = [230, 540, 850] as const;
const PER_ROW = 3;
/** Drift, px per second at most either way: a slow camera or people shifting in their seats. */
const DRIFT_X = 8;
const DRIFT_Y = 4;

export interface PlannedFace {
  /** null: a stranger. */
  name: string | null;
  photo: string;
  width: number;
  /** The face's centre at time 0, px, and its drift in px per second. */
  cx: number;
  cy: number;
  vx: number;
  vy: number;
}

export interface ClassroomPlan {
  id: string;
  seed: number;
  faces: PlannedFace[];
}

/**
 * Scene k shows known people 5k…5k+4 and strangers 4k…4k+3 (in turn, so that every person appears
 * over a few scenes), shuffled over the nine seats; a seat's width alternates along its row and
 * from scene to scene, so that each person is seen at several widths.
 */
export function planClassroom(
  known: { name: string; file: string }[],
  strangers: string[],
  scenes: number,
  seed: number = CLASSROOM.seed,
): ClassroomPlan[] {
  if (known.length < CLASSROOM.known) throw new Error(`a classroom needs ${CLASSROOM.known} known people`);
  if (strangers.length < CLASSROOM.strangers) throw new Error(`a classroom needs ${CLASSROOM.strangers} strangers`);
  const random = seededRandom(seed);
  const cellWidth = CLASSROOM.width / PER_ROW;
  const plans: ClassroomPlan[] = [];
  for (let k = 0; k < scenes; k++) {
    const people: { name: string | null; photo: string }[] = [];
    for (let j = 0; j < CLASSROOM.known; j++) {
      const person = known[(k * CLASSROOM.known + j) % known.length] as { name: string; file: string };
      people.push({ name: person.name, photo: person.file });
    }
    for (let j = 0; j < CLASSROOM.strangers; j++)
      people.push({ name: null, photo: strangers[(k * CLASSROOM.strangers + j) % strangers.length] as string });
    const seats = shuffle(people, random);
    const faces = seats.map((person, seat): PlannedFace => {
      const row = Math.floor(seat / PER_ROW);
      const column = seat % PER_ROW;
      const widths = ROW_WIDTHS[row] as readonly number[];
      const width = widths[(column + k) % widths.length] as number;
      // The pasted crop reaches about 1.2 widths from the face's centre: the centre keeps that far
      // (and the drift) from its cell's edges, so that no one covers anyone.
      const slack = cellWidth / 2 - 1.2 * width - DRIFT_X * CLASSROOM.seconds;
      return {
        ...person,
        width,
        cx: Math.round((column + 0.5) * cellWidth + (random() - 0.5) * 2 * slack),
        cy: Math.round((ROW_Y[row] as number) + (random() - 0.5) * 40),
        vx: Math.round((random() - 0.5) * 2 * DRIFT_X),
        vy: Math.round((random() - 0.5) * 2 * DRIFT_Y),
      };
    });
    plans.push({ id: `hall${String(k).padStart(2, "0")}`, seed: seed + k, faces });
  }
  return plans;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * The folder name's hash: the plans, the encoding and what located the faces (a face's located box
 * sets its pasted scale). `version` changes when the drawing changes.
 */
export function planKey(plans: ClassroomPlan[], locator: string, version = 1): string {
  const text = JSON.stringify({ version, locator, encoding: CLASSROOM, plans });
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** The plan as the eval's Scene, for its frame composer: each face's box placed by its located photo. */
export function toScene(plan: ClassroomPlan, photos: Map<string, SourcePhoto>): Scene {
  const faces = plan.faces.map((face): PlacedFace => {
    const source = photos.get(face.photo);
    if (!source) throw new Error(`no located photo for ${face.photo}`);
    const height = (source.face.height * face.width) / source.face.width;
    return {
      source,
      width: face.width,
      x: Math.round(face.cx - face.width / 2),
      y: Math.round(face.cy - height / 2),
      vx: face.vx,
      vy: face.vy,
    };
  });
  return { id: plan.id, case: "landscape", width: CLASSROOM.width, height: CLASSROOM.height, faces, seed: plan.seed };
}

export interface NamedCount {
  /** Known people named / known people shown. */
  named: number;
  known: number;
  /** Names given that are nobody in the scene (a stranger, or someone absent, named). */
  wrong: number;
  /** Per face width: known people named / shown at that width. */
  byWidth: Map<number, { named: number; shown: number }>;
}

/** How many of the scene's known people the names found include, and how many names are wrong. */
export function countNamed(plan: ClassroomPlan, found: string[]): NamedCount {
  const got = new Set(found);
  const known = plan.faces.filter((f): f is PlannedFace & { name: string } => f.name !== null);
  const present = new Set(known.map((f) => f.name));
  const byWidth = new Map<number, { named: number; shown: number }>();
  for (const face of known) {
    const row = byWidth.get(face.width) ?? { named: 0, shown: 0 };
    row.shown++;
    if (got.has(face.name)) row.named++;
    byWidth.set(face.width, row);
  }
  return {
    named: [...present].filter((name) => got.has(name)).length,
    known: present.size,
    wrong: [...got].filter((name) => !present.has(name)).length,
    byWidth,
  };
}
