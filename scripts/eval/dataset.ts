// The labeled evaluation set, built from the shared data: a gallery enrolled from people/ with one
// photo per person held out; videos made with ffmpeg from the held-out photos, the group photos,
// the unknown people and the no-face media; each with the set of names it must yield.
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LabeledVideo {
  /** Short label for tables. */
  id: string;
  kind: "held-out" | "group" | "unknown" | "no-face" | "cse546" | "scene";
  file: string;
  expected: string[];
}

/** Group photos and who is in each, from the data's README (bbt2's background faces are unlabeled). */
export const GROUP_PHOTOS: Record<string, string[]> = {
  "bbt1.jpg": ["raj", "leonard", "howard", "sheldon"],
  "bbt2.jpg": ["leonard", "sheldon"],
  "bbt3.jpg": ["sheldon", "howard", "penny", "raj", "leonard"],
  "bbt4.jpg": ["amy", "raj", "bernadette", "leonard", "penny", "sheldon"],
  "bbt5.jpg": ["raj", "penny", "sheldon", "leonard", "howard"],
  "obama_and_biden_1.jpg": ["barack_obama", "joe_biden"],
  "obama_and_biden_2.jpg": ["barack_obama", "joe_biden"],
  "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
};

export interface Split {
  /** people/<name>/<photo> for enrollment, as a folder tree to enroll from. */
  enroll: { name: string; file: string }[];
  heldOut: { name: string; file: string }[];
}

/** Holds out each person's last photo; everyone keeps at least one photo to enroll. */
export async function splitPeople(dataDir: string): Promise<Split> {
  const split: Split = { enroll: [], heldOut: [] };
  const people = (await readdir(join(dataDir, "people"))).sort();
  for (const name of people) {
    const photos = (await readdir(join(dataDir, "people", name))).sort(byNumber);
    photos.forEach((photo, i) => {
      const entry = { name, file: join(dataDir, "people", name, photo) };
      if (i === photos.length - 1 && photos.length > 1) split.heldOut.push(entry);
      else split.enroll.push(entry);
    });
  }
  return split;
}

function byNumber(a: string, b: string): number {
  return Number.parseInt(a, 10) - Number.parseInt(b, 10) || a.localeCompare(b);
}

/**
 * A 2 s, 10 fps H.264 video of a still image, centred on a grey frame at least 640×360 (a tight
 * face crop is then a face in a scene, as in a real video), at most 1280 wide.
 */
export async function videoFromImage(image: string, out: string, seconds = 2): Promise<string> {
  const filter =
    "scale='min(1280,iw)':-2,pad='ceil(max(640,iw)/2)*2':'ceil(max(360,ih)/2)*2':(ow-iw)/2:(oh-ih)/2:color=gray,format=yuv420p";
  await run("ffmpeg", [
    "-v",
    "error",
    "-y",
    "-loop",
    "1",
    "-i",
    image,
    "-t",
    String(seconds),
    "-r",
    "10",
    "-vf",
    filter,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    out,
  ]);
  return out;
}

/** The probe videos (made in `workDir`) and what each must yield. */
export async function buildProbes(dataDir: string, split: Split, workDir: string): Promise<LabeledVideo[]> {
  const probes: LabeledVideo[] = [];
  const add = async (id: string, kind: LabeledVideo["kind"], image: string, expected: string[]) => {
    probes.push({
      id,
      kind,
      expected,
      file: await videoFromImage(image, join(workDir, `${id.replace(/\W+/g, "_")}.mp4`)),
    });
  };
  for (const photo of split.heldOut)
    await add(`${photo.name}/${basename(photo.file)}`, "held-out", photo.file, [photo.name]);
  for (const [photo, names] of Object.entries(GROUP_PHOTOS))
    await add(photo, "group", join(dataDir, "extra", photo), names);
  const extra = (await readdir(join(dataDir, "extra"))).sort();
  for (const photo of extra.filter((f) => f.startsWith("unknown_")))
    await add(photo, "unknown", join(dataDir, "extra", photo), []);
  await add("no_face_white.png", "no-face", join(dataDir, "extra", "no_face_white.png"), []);
  probes.push({
    id: "no_face_big_buck_bunny.mp4",
    kind: "no-face",
    file: join(dataDir, "videos", "no_face_big_buck_bunny.mp4"),
    expected: [],
  });
  return probes;
}

/** The 8 CSE546 clips and the person each must yield. */
export async function cse546Clips(dataDir: string): Promise<LabeledVideo[]> {
  const { readFile } = await import("node:fs/promises");
  const rows = (await readFile(join(dataDir, "cse546", "expected_person.csv"), "utf8")).trim().split("\n").slice(1);
  const clips = new Map<string, string>();
  for (const row of rows) {
    const [, person, , , sameAs] = row.split(",");
    if (sameAs && person) clips.set(sameAs.trim(), person);
  }
  return [...clips].sort().map(([file, person]) => ({
    id: basename(file, extname(file)),
    kind: "cse546" as const,
    file: join(dataDir, "cse546", file),
    expected: [person],
  }));
}

export interface Score {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
}

/** Identification precision and recall over (expected, found) name sets. */
export function score(results: { expected: string[]; found: string[] }[]): Score {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { expected, found } of results) {
    const want = new Set(expected);
    const got = new Set(found);
    for (const name of got) want.has(name) ? tp++ : fp++;
    for (const name of want) if (!got.has(name)) fn++;
  }
  return {
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
  };
}
