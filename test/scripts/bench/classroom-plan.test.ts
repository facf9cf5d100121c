import { describe, expect, it } from "vitest";
import type { RgbImage } from "../../../functions/face-recognition/pipeline/engine/types.js";
import type { SourcePhoto } from "../../../scripts/eval/scenes.js";
import {
  CLASSROOM,
  countNamed,
  planClassroom,
  planKey,
  ROW_WIDTHS,
  toScene,
} from "../../../scripts/bench/classroom-plan.js";

const known = Array.from({ length: 12 }, (_, i) => ({ name: `person${i}`, file: `/people/person${i}/5.png` }));
const strangers = Array.from({ length: 6 }, (_, i) => `/extra/unknown_${i}.jpg`);

describe("planClassroom", () => {
  const plans = planClassroom(known, strangers, 4);

  it("is the same for the same photos and seed, and its key changes with the seed", () => {
    expect(planClassroom(known, strangers, 4)).toEqual(plans);
    expect(planKey(planClassroom(known, strangers, 4), "ssd")).toBe(planKey(plans, "ssd"));
    expect(planKey(planClassroom(known, strangers, 4, 23), "ssd")).not.toBe(planKey(plans, "ssd"));
    expect(planKey(plans, "tiny")).not.toBe(planKey(plans, "ssd"));
  });

  it("seats 5 different known people and 4 different strangers per scene", () => {
    for (const plan of plans) {
      expect(plan.faces).toHaveLength(9);
      const names = plan.faces.flatMap((f) => (f.name ? [f.name] : []));
      expect(new Set(names).size).toBe(CLASSROOM.known);
      const unknown = plan.faces.filter((f) => f.name === null).map((f) => f.photo);
      expect(new Set(unknown).size).toBe(CLASSROOM.strangers);
    }
    // Three scenes of five cover all twelve people.
    const seen = new Set(plans.slice(0, 3).flatMap((p) => p.faces.map((f) => f.name)));
    for (const person of known) expect(seen).toContain(person.name);
  });

  it("puts small faces at the back, in three rows that stay apart and in the frame as they drift", () => {
    const allWidths = ROW_WIDTHS.flat() as number[];
    for (const plan of plans) {
      for (const [seat, face] of plan.faces.entries()) {
        expect(ROW_WIDTHS[Math.floor(seat / 3)]).toContain(face.width);
        for (const t of [0, CLASSROOM.seconds]) {
          const x = face.cx + face.vx * t;
          const y = face.cy + face.vy * t;
          // The pasted crop reaches about 1.2 widths around the face's centre (1 px: rounding).
          expect(x - 1.2 * face.width).toBeGreaterThanOrEqual(-1);
          expect(x + 1.2 * face.width).toBeLessThanOrEqual(CLASSROOM.width + 1);
          expect(y + 1.2 * face.width).toBeLessThanOrEqual(CLASSROOM.height);
        }
      }
      for (const [i, a] of plan.faces.entries())
        for (const b of plan.faces.slice(i + 1)) {
          const reach = 1.2 * (a.width + b.width) + 2 * 8 * CLASSROOM.seconds;
          const apart = Math.abs(a.cx - b.cx) >= reach - 2 || Math.abs(a.cy - b.cy) >= reach - 2;
          expect(apart).toBe(true);
        }
      expect(plan.faces.every((f) => allWidths.includes(f.width))).toBe(true);
    }
    // Each width shows up over the scenes, the back row's narrower than the front's.
    const widths = new Set(plans.flatMap((p) => p.faces.map((f) => f.width)));
    expect([...widths].sort((a, b) => a - b)).toEqual(allWidths);
    for (const plan of plans)
      expect(Math.max(...plan.faces.slice(0, 3).map((f) => f.width))).toBeLessThan(
        Math.min(...plan.faces.slice(6).map((f) => f.width)),
      );
  });

  it("refuses too few people", () => {
    expect(() => planClassroom(known.slice(0, 4), strangers, 1)).toThrow(/5 known/);
    expect(() => planClassroom(known, strangers.slice(0, 3), 1)).toThrow(/4 strangers/);
  });
});

describe("toScene", () => {
  const image: RgbImage = { width: 150, height: 150, rgb: Buffer.alloc(150 * 150 * 3) };
  const [plan] = planClassroom(known, strangers, 1);
  if (!plan) throw new Error("no plan");
  const photos = new Map<string, SourcePhoto>(
    plan.faces.map((f) => [
      f.photo,
      { name: f.name, file: f.photo, image, face: { x: 10, y: 0, width: 100, height: 120 } },
    ]),
  );

  it("places each face box around its planned centre, at its width and its photo's aspect", () => {
    const scene = toScene(plan, photos);
    expect(scene).toMatchObject({ id: plan.id, width: 1920, height: 1080, case: "landscape", seed: plan.seed });
    for (const [i, face] of scene.faces.entries()) {
      const planned = plan.faces[i];
      if (!planned) throw new Error("no planned face");
      expect(face.width).toBe(planned.width);
      expect(face.x).toBe(Math.round(planned.cx - planned.width / 2));
      expect(face.y).toBe(Math.round(planned.cy - (1.2 * planned.width) / 2));
    }
  });

  it("fails on a photo that was not located", () => {
    expect(() => toScene(plan, new Map())).toThrow(/no located photo/);
  });
});

describe("countNamed", () => {
  const [plan] = planClassroom(known, strangers, 1);
  if (!plan) throw new Error("no plan");
  const present = plan.faces.flatMap((f) => (f.name ? [f.name] : []));

  it("counts the scene's known people named, by width, and names of anyone else as wrong", () => {
    const count = countNamed(plan, [...present.slice(0, 3), "person11", "nobody"]);
    expect(count).toMatchObject({ named: 3, known: 5, wrong: 2 });
    const shown = [...count.byWidth.values()].reduce((n, w) => n + w.shown, 0);
    const named = [...count.byWidth.values()].reduce((n, w) => n + w.named, 0);
    expect([shown, named]).toEqual([5, 3]);
    const first = plan.faces.find((f) => f.name === present[0]);
    expect(count.byWidth.get(first?.width ?? 0)?.named).toBeGreaterThanOrEqual(1);
  });

  it("gives 5/5 and no wrong name when all are named once", () => {
    expect(countNamed(plan, present)).toMatchObject({ named: 5, known: 5, wrong: 0 });
  });
});
