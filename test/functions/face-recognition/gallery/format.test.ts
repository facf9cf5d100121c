import { describe, expect, it } from "vitest";
import { parseGallery, parseGalleryText, toMatchIndex } from "../../../../functions/face-recognition/gallery/format.js";
import type { MatchIndex } from "../../../../functions/face-recognition/pipeline/match.js";
import { d, galleryError, sample } from "./sample.js";

/** The sample with some of its fields replaced, for validation cases. */
const changed = (fields: Record<string, unknown>): unknown => ({ ...sample(), ...fields });
const [ada, bob] = sample().people as [object, object];
/** One of ada's descriptors with a value that is not a finite number. */
const spoilt = (at: number, value: unknown): unknown[] => [...d(2).slice(0, at), value, ...d(2).slice(at + 1)];

describe("parseGallery", () => {
  it("accepts a valid gallery and returns a copy", () => {
    const input = sample();
    const parsed = parseGallery(input);
    expect(parsed).toEqual(input);
    expect(parsed.people[0]?.descriptors[0]).not.toBe(input.people[0]?.descriptors[0]);
  });

  it.each([
    ["not an object", [], "expected a JSON object, got an array of 0"],
    ["wrong format", changed({ format: "gallery" }), 'format: expected "facerec-gallery", got string "gallery"'],
    ["future version", changed({ version: 2 }), "version: unsupported version 2 (this build reads 1)"],
    [
      "unknown model",
      changed({ model: "arcface" }),
      'model: expected one of "dlib-resnet", "face-api-facerecognitionnet", got string "arcface"',
    ],
    [
      "unknown top-level key",
      changed({ peeple: [] }),
      'unknown key "peeple" (allowed: format, version, model, note, people)',
    ],
    ["people not an array", changed({ people: {} }), "people: expected an array, got an object"],
    [
      "person typo key",
      changed({ people: [ada, { name: "bob", descriptor: [d(3)] }] }),
      'people[1]: unknown key "descriptor" (allowed: name, descriptors, smallFaceDescriptors, sources)',
    ],
    [
      "short descriptor",
      changed({ people: [ada, { name: "bob", descriptors: [d(3).slice(1)] }] }),
      "people[1].descriptors[0]: expected 128 numbers, got 127",
    ],
    [
      "non-number value",
      changed({ people: [{ name: "ada", descriptors: [d(1), spoilt(5, "0.1")] }] }),
      'people[0].descriptors[1][5]: expected a finite number, got string "0.1"',
    ],
    [
      "null value (NaN in JSON)",
      changed({ people: [{ name: "ada", descriptors: [spoilt(0, null)] }] }),
      "people[0].descriptors[0][0]: expected a finite number, got null",
    ],
    [
      "no descriptors",
      changed({ people: [{ name: "ada", descriptors: [] }] }),
      "people[0].descriptors: a person needs at least one descriptor",
    ],
    ["empty name", changed({ people: [{ name: "", descriptors: [d(1)] }] }), "people[0].name: must not be empty"],
    [
      "padded name",
      changed({ people: [{ name: " ada", descriptors: [d(1)] }] }),
      'people[0].name: must not start or end with spaces (" ada")',
    ],
    [
      "control character",
      changed({ people: [{ name: "a\nb", descriptors: [d(1)] }] }),
      'people[0].name: must not contain control characters ("a\\nb")',
    ],
    [
      "too long a name",
      changed({ people: [{ name: "a".repeat(201), descriptors: [d(1)] }] }),
      "people[0].name: longer than 200 characters",
    ],
    [
      "duplicate name",
      changed({ people: [ada, bob, { name: "ada", descriptors: [d(9)] }] }),
      'people[2].name: duplicate name "ada" (also people[0])',
    ],
    [
      "bad source",
      changed({ people: [{ name: "ada", descriptors: [d(1)], sources: ["x.jpg", 3] }] }),
      "people[0].sources[1]: expected a non-empty string, got number 3",
    ],
  ])("refuses %s", (_case, json, message) => {
    expect(galleryError(() => parseGallery(json)).message).toBe(message);
  });

  it("names the file in errors from text", () => {
    const err = galleryError(() => parseGalleryText('{"format": "facerec-gallery"', "g.json"));
    expect(err.message).toMatch(/^g\.json: not valid JSON/);
    const bad = JSON.stringify(changed({ model: 1 }));
    expect(galleryError(() => parseGalleryText(bad, "g.json")).message).toMatch(/^g\.json: model: expected one of/);
  });
});

describe("toMatchIndex", () => {
  it("flattens people into labelled float32 rows the matcher accepts", () => {
    const index: MatchIndex = toMatchIndex(parseGallery(sample()));
    expect(index.names).toEqual(["ada", "bob"]);
    expect([...index.labels]).toEqual([0, 0, 1]);
    expect(index.descriptors).toHaveLength(3 * 128);
    expect(index.descriptors.subarray(2 * 128, 3 * 128)).toEqual(Float32Array.from(d(3)));
    expect(index.small).toEqual(new Uint8Array(3));
  });

  it("adds each person's small-face copies as rows marked small", () => {
    const gallery = sample();
    gallery.people[0] = { name: "ada", descriptors: [d(1), d(2)], smallFaceDescriptors: [d(7)] };
    const index = toMatchIndex(parseGallery(gallery));
    expect([...index.labels]).toEqual([0, 0, 0, 1]);
    expect([...(index.small ?? [])]).toEqual([0, 0, 1, 0]);
    expect(index.descriptors.subarray(2 * 128, 3 * 128)).toEqual(Float32Array.from(d(7)));
  });

  it("names a bad small-face copy by its place", () => {
    const gallery = sample();
    gallery.people[1] = { name: "bob", descriptors: [d(3)], smallFaceDescriptors: [d(7).slice(1)] };
    expect(galleryError(() => parseGallery(gallery)).message).toBe(
      "people[1].smallFaceDescriptors[0]: expected 128 numbers, got 127",
    );
  });
});
