import { describe, expect, it } from "vitest";
import { parseGallery, parseGalleryText, toMatchIndex } from "../../../../functions/face-recognition/gallery/format.js";
import type { MatchIndex } from "../../../../functions/face-recognition/pipeline/match.js";
import { d, galleryError, sample } from "./sample.js";

/** A JSON copy of the sample with `edit` applied, for validation cases. */
function broken(edit: (g: Record<string, unknown> & { people: Record<string, unknown>[] }) => void): unknown {
  const g = JSON.parse(JSON.stringify(sample()));
  edit(g);
  return g;
}

describe("parseGallery", () => {
  it("accepts a valid gallery and returns a copy", () => {
    const input = sample();
    const parsed = parseGallery(input);
    expect(parsed).toEqual(input);
    expect(parsed.people[0]?.descriptors[0]).not.toBe(input.people[0]?.descriptors[0]);
  });

  it.each([
    ["not an object", () => [], "expected a JSON object, got an array of 0"],
    [
      "wrong format",
      () =>
        broken((g) => {
          g.format = "gallery";
        }),
      'format: expected "facerec-gallery", got string "gallery"',
    ],
    [
      "future version",
      () =>
        broken((g) => {
          g.version = 2;
        }),
      "version: unsupported version 2 (this build reads 1)",
    ],
    [
      "unknown model",
      () =>
        broken((g) => {
          g.model = "arcface";
        }),
      'model: expected one of "dlib-resnet", "face-api-facerecognitionnet", got string "arcface"',
    ],
    [
      "unknown top-level key",
      () =>
        broken((g) => {
          g.peeple = [];
        }),
      'unknown key "peeple" (allowed: format, version, model, note, people)',
    ],
    [
      "people not an array",
      () =>
        broken((g) => {
          g.people = {} as never;
        }),
      "people: expected an array, got an object",
    ],
    [
      "person typo key",
      () =>
        broken((g) => {
          g.people[1] = { name: "bob", descriptor: [d(3)] };
        }),
      'people[1]: unknown key "descriptor" (allowed: name, descriptors, sources)',
    ],
    [
      "short descriptor",
      () =>
        broken((g) => {
          (g.people[1] as { descriptors: number[][] }).descriptors[0]?.pop();
        }),
      "people[1].descriptors[0]: expected 128 numbers, got 127",
    ],
    [
      "non-number value",
      () =>
        broken((g) => {
          ((g.people[0] as { descriptors: unknown[][] }).descriptors[1] as unknown[])[5] = "0.1";
        }),
      'people[0].descriptors[1][5]: expected a finite number, got string "0.1"',
    ],
    [
      "null value (NaN in JSON)",
      () =>
        broken((g) => {
          ((g.people[0] as { descriptors: unknown[][] }).descriptors[0] as unknown[])[0] = null;
        }),
      "people[0].descriptors[0][0]: expected a finite number, got null",
    ],
    [
      "no descriptors",
      () =>
        broken((g) => {
          g.people[0] = { name: "ada", descriptors: [] };
        }),
      "people[0].descriptors: a person needs at least one descriptor",
    ],
    [
      "empty name",
      () =>
        broken((g) => {
          g.people[0] = { name: "", descriptors: [d(1)] };
        }),
      "people[0].name: must not be empty",
    ],
    [
      "padded name",
      () =>
        broken((g) => {
          g.people[0] = { name: " ada", descriptors: [d(1)] };
        }),
      'people[0].name: must not start or end with spaces (" ada")',
    ],
    [
      "control character",
      () =>
        broken((g) => {
          g.people[0] = { name: "a\nb", descriptors: [d(1)] };
        }),
      'people[0].name: must not contain control characters ("a\\nb")',
    ],
    [
      "duplicate name",
      () =>
        broken((g) => {
          g.people.push({ name: "ada", descriptors: [d(9)] });
        }),
      'people[2].name: duplicate name "ada" (also people[0])',
    ],
    [
      "bad source",
      () =>
        broken((g) => {
          g.people[0] = { name: "ada", descriptors: [d(1)], sources: ["x.jpg", 3] };
        }),
      "people[0].sources[1]: expected a non-empty string, got number 3",
    ],
  ] as [string, () => unknown, string][])("refuses %s", (_case, json, message) => {
    expect(galleryError(() => parseGallery(json())).message).toBe(message);
  });

  it("names the file in errors from text", () => {
    const err = galleryError(() => parseGalleryText('{"format": "facerec-gallery"', "g.json"));
    expect(err.message).toMatch(/^g\.json: not valid JSON/);
    const bad = JSON.stringify(
      broken((g) => {
        g.model = 1;
      }),
    );
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
  });
});
