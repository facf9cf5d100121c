import { describe, expect, it } from "vitest";
import {
  addPerson,
  emptyGallery,
  galleryFromEntries,
} from "../../../../functions/face-recognition/gallery/enrollment.js";
import { parseGallery } from "../../../../functions/face-recognition/gallery/format.js";
import { d, galleryError, sample } from "./sample.js";

describe("addPerson", () => {
  const base = parseGallery(sample());

  it("adds a new person (face-api's Float32Array descriptors too) without touching the input", () => {
    const next = addPerson(base, "cy", [Float32Array.from(d(4))], ["cy.jpg"]);
    expect(next.people.map((p) => p.name)).toEqual(["ada", "bob", "cy"]);
    expect(next.people[2]).toEqual({
      name: "cy",
      descriptors: [Array.from(Float32Array.from(d(4)))],
      sources: ["cy.jpg"],
    });
    expect(base.people).toHaveLength(2);
  });

  it("appends to a person already there, in place, skipping exact repeats", () => {
    const appended = addPerson(base, "bob", [d(5), d(3)], ["b.jpg"]);
    expect(appended.people.map((p) => p.name)).toEqual(["ada", "bob"]);
    expect(appended.people[1]?.descriptors).toEqual([d(3), d(5)]); // d(3) was already there
    expect(appended.people[1]?.sources).toEqual(["b.jpg"]);
    expect(addPerson(appended, "bob", [d(5)], ["b.jpg"])).toEqual(appended);
    expect(base.people[1]?.descriptors).toEqual([d(3)]);
  });

  it("keeps a photo's small-face copies apart from its descriptors, skipping exact repeats", () => {
    const once = addPerson(base, "cy", [d(4)], ["cy.jpg"], [d(8), d(9)]);
    expect(once.people[2]).toEqual({
      name: "cy",
      descriptors: [d(4)],
      smallFaceDescriptors: [d(8), d(9)],
      sources: ["cy.jpg"],
    });
    expect(addPerson(once, "cy", [d(4)], ["cy.jpg"], [d(9)])).toEqual(once);
    expect(galleryError(() => addPerson(base, "cy", [d(4)], [], [d(8).slice(1)])).message).toBe(
      "cy: smallFaceDescriptors[0]: expected 128 numbers, got 127",
    );
  });

  it("refuses a bad name, descriptor or source, naming it", () => {
    expect(galleryError(() => addPerson(base, "", [d(1)])).message).toBe("name: must not be empty");
    expect(galleryError(() => addPerson(base, "cy", [])).message).toBe(
      "cy: descriptors: a person needs at least one descriptor",
    );
    expect(galleryError(() => addPerson(base, "cy", [d(1).slice(1)])).message).toBe(
      "cy: descriptors[0]: expected 128 numbers, got 127",
    );
    const nan = d(1);
    nan[7] = Number.NaN;
    expect(galleryError(() => addPerson(base, "cy", [d(1), nan])).message).toBe(
      "cy: descriptors[1][7]: expected a finite number, got number NaN",
    );
    expect(galleryError(() => addPerson(base, "cy", [d(1)], [""])).message).toBe(
      'cy: sources[0]: expected a non-empty string, got string ""',
    );
  });
});

describe("galleryFromEntries", () => {
  it("groups repeated names in first-appearance order and drops exact repeats", () => {
    const g = galleryFromEntries(
      "dlib-resnet",
      [
        { name: "b", descriptor: d(1) },
        { name: "a", descriptor: Float64Array.from(d(2)) },
        { name: "b", descriptor: d(3) },
        { name: "b", descriptor: d(1) },
      ],
      "from a test",
    );
    expect(g).toEqual({
      ...emptyGallery("dlib-resnet", "from a test"),
      people: [
        { name: "b", descriptors: [d(1), d(3)] },
        { name: "a", descriptors: [d(2)] },
      ],
    });
  });

  it("checks the result against the format", () => {
    expect(galleryError(() => galleryFromEntries("dlib-resnet", [{ name: " b", descriptor: d(1) }])).message).toBe(
      'people[0].name: must not start or end with spaces (" b")',
    );
  });
});
