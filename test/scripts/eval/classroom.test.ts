import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RgbImage } from "../../../functions/face-recognition/pipeline/engine/types.js";
import { makeBackdrops } from "../../../scripts/eval/backgrounds.js";
import {
  listClassroom,
  planClassroom,
  SCENES_PER_PART,
  type SplitPart,
  settleGalleries,
  splitClassroom,
} from "../../../scripts/eval/classroom-split.js";
import { CONDITIONS } from "../../../scripts/eval/conditions.js";
import { FACE_WIDTHS, type SourcePhoto } from "../../../scripts/eval/scenes.js";
import { requireData } from "../../support/data.js";

const dir = mkdtempSync(join(tmpdir(), "classroom-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A plan as text without the photos' pixels (the same photos every time; slow to print). */
const plain = (value: unknown) => JSON.stringify(value, (key, v) => (key === "image" ? undefined : v));

/** 12 people with the shared data's photo counts (two with 2 photos, one with 3), 6 strangers. */
const counts = [5, 5, 5, 2, 3, 5, 5, 5, 2, 5, 5, 5];
const people = counts.map((n, i) => ({
  name: `p${String(i).padStart(2, "0")}`,
  photos: Array.from({ length: n }, (_, j) => `people/p${i}/${j + 1}.png`),
}));
const strangers = Array.from({ length: 6 }, (_, i) => `extra/unknown_${i}.jpg`);

/** Every photo "located" with a flat image (planning needs no pixels). */
function located(split: ReturnType<typeof splitClassroom>): Map<string, SourcePhoto> {
  const image: RgbImage = { width: 150, height: 150, rgb: Buffer.alloc(150 * 150 * 3, 90) };
  const map = new Map<string, SourcePhoto>();
  for (const part of [split.tuning, split.test]) {
    for (const p of part.people)
      for (const file of p.scene)
        map.set(file, { name: p.name, file, image, face: { x: 15, y: 5, width: 120, height: 140 } });
    for (const file of part.strangers)
      map.set(file, { name: null, file, image, face: { x: 15, y: 5, width: 120, height: 140 } });
  }
  return map;
}

describe("splitClassroom", () => {
  it("splits people and strangers in disjoint halves, the same for a seed, another for another seed", () => {
    const split = splitClassroom(people, strangers, 22);
    const names = (part: SplitPart) => part.people.map((p) => p.name);
    expect(names(split.tuning)).toHaveLength(6);
    expect(names(split.test)).toHaveLength(6);
    expect(new Set([...names(split.tuning), ...names(split.test)]).size).toBe(12);
    expect(split.tuning.strangers).toHaveLength(3);
    expect(new Set([...split.tuning.strangers, ...split.test.strangers]).size).toBe(6);
    expect(JSON.stringify(splitClassroom([...people].reverse(), strangers, 22))).toBe(JSON.stringify(split));
    expect(names(splitClassroom(people, strangers, 23).test)).not.toEqual(names(split.test));
  });

  it("enrolls 1–2 photos of each person and shows only the others", () => {
    for (const part of Object.values(splitClassroom(people, strangers, 22)).filter((v) => typeof v === "object"))
      for (const p of (part as SplitPart).people) {
        const all = people.find((q) => q.name === p.name)?.photos ?? [];
        expect(p.gallery).toHaveLength(all.length >= 3 ? 2 : 1);
        expect(p.scene.length).toBeGreaterThanOrEqual(1);
        expect(p.scene.filter((f) => p.gallery.includes(f))).toEqual([]);
        expect([...p.gallery, ...p.scene].sort()).toEqual([...all].sort());
      }
  });

  it("swaps a gallery photo the engine cannot enroll for the person's next one, keeping one to show", async () => {
    const split = splitClassroom(people, strangers, 22);
    const [first, second] = split.test.people.filter((p) => p.gallery.length === 2);
    const short =
      split.test.people.find((p) => p.gallery.length === 1 && p.scene.length === 1) ??
      split.tuning.people.find((p) => p.gallery.length === 1 && p.scene.length === 1);
    const refused = new Set([
      first?.gallery[0],
      short?.gallery[0],
      ...(second ? [...second.gallery, ...second.scene] : []),
    ]);
    const asked: string[] = [];
    const settled = await settleGalleries(split, async (_name, file) => {
      asked.push(file);
      return !refused.has(file);
    });
    const find = (name?: string) => [...settled.tuning.people, ...settled.test.people].find((p) => p.name === name);
    // The first refused photo is shown instead; the next photo joins the gallery.
    expect(find(first?.name)?.gallery).toEqual([first?.gallery[1], first?.scene[0]]);
    expect(find(first?.name)?.scene).toContain(first?.gallery[0]);
    // With two photos, the refused one is shown and the other enrolled.
    expect(find(short?.name)).toMatchObject({ gallery: short?.scene, scene: short?.gallery });
    // Nobody enrolls from an empty gallery: planned as a stranger in every scene.
    expect(find(second?.name)?.gallery).toEqual([]);
    const plans = planClassroom(settled.test, located(settled), { scenes: 12, seed: 22 });
    for (const scene of plans) expect(scene.roster?.map((r) => r.name)).not.toContain(second?.name);
    expect(new Set(asked).size).toBe(asked.length);
  });

  it("reads the shared data's 12 people and 6 strangers", async () => {
    const data = requireData();
    if (!data) return;
    const listed = await listClassroom(data);
    expect(listed.people).toHaveLength(12);
    expect(listed.strangers).toHaveLength(6);
  });
});

describe("planClassroom", () => {
  const split = splitClassroom(people, strangers, 22);
  const photos = located(split);
  const plans = (part: SplitPart) => planClassroom(part, photos, { scenes: SCENES_PER_PART, seed: 22 });

  it("shows each scene's part only: 4 enrolled people, 2 left out as strangers, the part's 3 strangers", () => {
    for (const part of [split.tuning, split.test])
      for (const scene of plans(part)) {
        const known = scene.faces.filter((f) => f.source.name);
        const leftOut = scene.faces.filter((f) => !f.source.name && f.source.person);
        expect(known).toHaveLength(4);
        expect(leftOut).toHaveLength(2);
        expect(scene.faces.filter((f) => part.strangers.includes(f.source.file))).toHaveLength(3);
        expect(scene.faces).toHaveLength(9);
        expect(scene.split).toBe(part.name);
        expect(scene.roster?.map((r) => r.name).sort()).toEqual(known.map((f) => f.source.name).sort());
        const partPeople = part.people.map((p) => p.name);
        for (const f of [...known, ...leftOut]) expect(partPeople).toContain(f.source.person);
        // No enrolled photo is ever shown.
        const enrolled = scene.roster?.flatMap((r) => r.photos) ?? [];
        for (const f of scene.faces) expect(enrolled).not.toContain(f.source.file);
      }
  });

  it("shows each known person at every width, in every condition, from 1- and 2-photo galleries", () => {
    for (const part of [split.tuning, split.test]) {
      const scenes = plans(part);
      expect(scenes.map((s) => s.condition)).toEqual([...CONDITIONS, ...CONDITIONS]);
      for (const person of part.people) {
        const seen = scenes.flatMap((s) =>
          s.faces
            .filter((f) => f.source.name === person.name)
            .map((f) => ({
              width: f.width,
              condition: s.condition,
              photos: s.roster?.find((r) => r.name === person.name)?.photos.length,
            })),
        );
        expect(new Set(seen.map((x) => x.width)), person.name).toEqual(new Set(FACE_WIDTHS));
        expect(new Set(seen.map((x) => x.condition)), person.name).toEqual(new Set(CONDITIONS));
        expect(new Set(seen.map((x) => x.photos)), person.name).toEqual(
          new Set(person.gallery.length === 2 ? [1, 2] : [1]),
        );
        // Left out (a stranger) in some scenes too.
        expect(seen.length).toBeLessThan(scenes.length);
      }
      // Known faces are as many at every width (8 of 48), and each condition shows every width known.
      const known = scenes.flatMap((s) => s.faces.filter((f) => f.source.name).map((f) => ({ ...f, c: s.condition })));
      for (const width of FACE_WIDTHS)
        expect(
          known.filter((f) => f.width === width),
          `${width} px`,
        ).toHaveLength(8);
      for (const c of CONDITIONS)
        expect(new Set(known.filter((f) => f.c === c).map((f) => f.width)), c).toEqual(new Set(FACE_WIDTHS));
    }
  });

  it("is the same for the same seed, and gives each scene its backdrop for its orientation", () => {
    const backdrop = (k: number, portrait: boolean) => ({ file: `b${k % 3}-${portrait ? "p" : "l"}.rgb`, kind: "k" });
    const scenes = planClassroom(split.test, photos, { scenes: 12, seed: 22, backdrop });
    expect(plain(planClassroom(split.test, photos, { scenes: 12, seed: 22, backdrop }))).toBe(plain(scenes));
    for (const s of scenes) expect(s.backdrop?.endsWith(s.height > s.width ? "-p.rgb" : "-l.rgb")).toBe(true);
    // Three backdrops landscape; the two phone scenes (k = 2, 8) share the third's portrait frame.
    expect(new Set(scenes.map((s) => s.backdrop)).size).toBe(4);
  });
});

describe("makeBackdrops", () => {
  it("makes a blurred frame of the scene's size per orientation, blurring more while a face is found, else none", async () => {
    const data = requireData();
    if (!data) return;
    let calls = 0;
    // A detector that "finds" a face in the first look at each orientation only.
    const detect = async () => (calls++ % 2 === 0 ? [{}] : []);
    const source = { kind: "group photo" as const, file: "extra/bbt4.jpg" };
    const [backdrop] = await makeBackdrops(data, dir, detect, [source]);
    expect(calls).toBe(4);
    expect(readFileSync(backdrop?.landscape as string).length).toBe(1920 * 1080 * 3);
    expect(readFileSync(backdrop?.portrait as string).length).toBe(1080 * 1920 * 3);
    // A face found at every blur: the background is left out.
    expect(await makeBackdrops(data, dir, async () => [{}], [source])).toEqual([]);
  });
});
