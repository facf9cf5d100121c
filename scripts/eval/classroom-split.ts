// The classroom eval's people, split by PERSON into a tuning part and a test part (seeded), and its
// scenes planned per part. Rules may be tuned on the tuning part only; the test part's figures
// decide. Each person's photos are split too: 1–2 enrolled (a class roster's), the others shown in
// scenes, so that no enrolled photo is ever in a scene. Each scene enrolls all but two of its part's
// people: those two appear as strangers, beside the part's own `extra/unknown_*` strangers.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { CONDITIONS, type Condition } from "./conditions.js";
import { FACE_WIDTHS, layoutScene, type Scene, type Seat, type SourcePhoto, seededRandom } from "./scenes.js";

/** The seed of the split and of the scenes: change it only to check that figures do not hinge on it. */
export const CLASSROOM_SEED = 22;
/** Scenes per part: 2 per condition, enough for each known person to meet every width and condition. */
export const SCENES_PER_PART = 12;

export interface PersonPhotos {
  name: string;
  /** Enrolled: the first 1 or 2 (2 when the person has 3 photos or more, leaving at least one). */
  gallery: string[];
  /** Shown in scenes, never enrolled. */
  scene: string[];
}

export interface SplitPart {
  name: "tuning" | "test";
  people: PersonPhotos[];
  /** `extra/unknown_*` photos: strangers to every gallery. */
  strangers: string[];
}

export interface ClassroomSplit {
  seed: number;
  tuning: SplitPart;
  test: SplitPart;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * People (each with their photo files) and strangers split in halves by a seeded shuffle of their
 * sorted names: the same seed gives the same split on any machine.
 */
export function splitClassroom(
  people: { name: string; photos: string[] }[],
  strangers: string[],
  seed = CLASSROOM_SEED,
): ClassroomSplit {
  const random = seededRandom(seed);
  const order = shuffled(
    [...people].sort((a, b) => a.name.localeCompare(b.name)),
    random,
  ).map(({ name, photos }): PersonPhotos => {
    const mine = shuffled([...photos].sort(), random);
    const enrolled = mine.length >= 3 ? 2 : 1;
    return { name, gallery: mine.slice(0, enrolled), scene: mine.slice(enrolled) };
  });
  const others = shuffled([...strangers].sort(), random);
  const half = Math.ceil(order.length / 2);
  const strangerHalf = Math.ceil(others.length / 2);
  return {
    seed,
    tuning: { name: "tuning", people: order.slice(0, half), strangers: others.slice(0, strangerHalf) },
    test: { name: "test", people: order.slice(half), strangers: others.slice(strangerHalf) },
  };
}

/**
 * The split with each person's gallery made of photos the engine enrolls: a photo it cannot
 * enroll (no face found) is shown instead, and the person's next photo tried, as long as one photo
 * is left to show. Deterministic for an engine; `enrolls` is asked once per photo tried.
 */
export async function settleGalleries(
  split: ClassroomSplit,
  enrolls: (name: string, file: string) => Promise<boolean>,
): Promise<ClassroomSplit> {
  const settle = async (person: PersonPhotos): Promise<PersonPhotos> => {
    const order = [...person.gallery, ...person.scene];
    const gallery: string[] = [];
    for (const file of order) {
      if (gallery.length === person.gallery.length || order.length - gallery.length <= 1) break;
      if (await enrolls(person.name, file)) gallery.push(file);
    }
    return { name: person.name, gallery, scene: order.filter((f) => !gallery.includes(f)) };
  };
  const part = async (p: SplitPart): Promise<SplitPart> => {
    const people: PersonPhotos[] = [];
    for (const person of p.people) people.push(await settle(person));
    return { ...p, people };
  };
  return { seed: split.seed, tuning: await part(split.tuning), test: await part(split.test) };
}

/** The shared data's people (people/<name>/<photo>) and strangers (extra/unknown_*), as files. */
export async function listClassroom(
  data: string,
): Promise<{ people: { name: string; photos: string[] }[]; strangers: string[] }> {
  const names = (await readdir(join(data, "people"))).sort();
  const people = [];
  for (const name of names)
    people.push({
      name,
      photos: (await readdir(join(data, "people", name))).map((f) => join(data, "people", name, f)),
    });
  const strangers = (await readdir(join(data, "extra")))
    .filter((f) => f.startsWith("unknown_"))
    .map((f) => join(data, "extra", f));
  return { people, strangers };
}

/** Which of a part's people a scene leaves out of its gallery (shown as strangers). */
export function leftOut(scene: number, people: number): number[] {
  // Pairs (0,1) (2,3) (4,5) in the first six scenes, (3,4) (5,0) (1,2) in the next six: nobody is
  // left out of both scenes of a condition, so every person is known in every condition.
  const m = scene % 3;
  const shift = Math.floor(scene / CONDITIONS.length) % 2 === 0 ? 0 : 3;
  return [(2 * m + shift) % people, (2 * m + 1 + shift) % people];
}

export interface ClassroomOptions {
  scenes: number;
  seed: number;
  /** The background of scene k (backgrounds.ts), for its orientation. */
  backdrop?: (scene: number, portrait: boolean) => { file: string; kind: string } | undefined;
}

/**
 * The part's scenes: every person of the part in every scene, all but two enrolled, plus the part's
 * strangers; conditions in turn. Person i is at width (i − k) mod 6 in scene k: with leftOut's
 * pairs, over 12 scenes each width has 8 known faces, every person meets every width as known,
 * and both scenes of a condition together show known faces at every width.
 * `photos` maps each file to its located face (locatePhoto).
 */
export function planClassroom(part: SplitPart, photos: Map<string, SourcePhoto>, options: ClassroomOptions): Scene[] {
  const located = (file: string) => {
    const photo = photos.get(file);
    if (!photo) throw new Error(`no face located in ${file}`);
    return photo;
  };
  const shown = new Map<string, number>();
  const scenes: Scene[] = [];
  const widths = FACE_WIDTHS.length;
  for (let k = 0; k < options.scenes; k++) {
    const condition = CONDITIONS[k % CONDITIONS.length] as Condition;
    const out = leftOut(k, part.people.length);
    const seats: Seat[] = [];
    const roster: { name: string; photos: string[] }[] = [];
    part.people.forEach((person, i) => {
      const n = shown.get(person.name) ?? 0;
      shown.set(person.name, n + 1);
      const photo = located(person.scene[n % person.scene.length] as string);
      // Nobody can be named from an empty gallery: such a person is a stranger everywhere.
      const known = !out.includes(i) && person.gallery.length > 0;
      seats.push({
        source: { ...photo, name: known ? person.name : null, person: person.name },
        width: FACE_WIDTHS[(((i - k) % widths) + widths) % widths] as number,
      });
      // Galleries of 1 and 2 photos in turn, for those who have 2 enrolled.
      if (known)
        roster.push({ name: person.name, photos: person.gallery.slice(0, 1 + ((i + k) % person.gallery.length)) });
    });
    for (const [j, file] of part.strangers.entries())
      seats.push({ source: located(file), width: FACE_WIDTHS[(k + 2 * j + 1) % FACE_WIDTHS.length] as number });
    const id = `${part.name}-${String(k).padStart(2, "0")}`;
    const seed = options.seed * 1000 + (part.name === "test" ? 500 : 0) + k;
    const scene = layoutScene(id, seats, condition, Math.floor(k / CONDITIONS.length), seed);
    const backdrop = options.backdrop?.(k, scene.height > scene.width);
    scenes.push({
      ...scene,
      split: part.name,
      roster,
      ...(backdrop ? { backdrop: backdrop.file, backdropKind: backdrop.kind } : { backdropKind: "synthetic" }),
    });
  }
  return scenes;
}
