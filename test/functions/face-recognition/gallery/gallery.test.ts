import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addDescriptor,
  addPerson,
  emptyGallery,
  type Gallery,
  GalleryError,
  galleryFromEntries,
  loadGallery,
  mergeGallery,
  parseGallery,
  parseGalleryText,
  saveGallery,
  serializeGallery,
  toMatchIndex,
} from "../../../../functions/face-recognition/gallery/gallery.js";
import type { MatchIndex } from "../../../../functions/face-recognition/pipeline/match.js";
import { fakeDescriptor } from "./pickle-builder.js";

const d = (seed: number): number[] => fakeDescriptor(seed);

function sample(): Gallery {
  return {
    format: "facerec-gallery",
    version: 1,
    model: "dlib-resnet",
    note: "test",
    people: [
      { name: "ada", descriptors: [d(1), d(2)], sources: ["ada1.jpg", "ada2.jpg"] },
      { name: "bob", descriptors: [d(3)] },
    ],
  };
}

/** A JSON copy of the sample with `edit` applied, for validation cases. */
function broken(edit: (g: Record<string, unknown> & { people: Record<string, unknown>[] }) => void): unknown {
  const g = JSON.parse(JSON.stringify(sample()));
  edit(g);
  return g;
}

function errorOf(fn: () => unknown): GalleryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GalleryError) return err;
    throw err;
  }
  throw new Error("expected a GalleryError");
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
    expect(errorOf(() => parseGallery(json())).message).toBe(message);
  });

  it("names the file in errors from text", () => {
    const err = errorOf(() => parseGalleryText('{"format": "facerec-gallery"', "g.json"));
    expect(err.message).toMatch(/^g\.json: not valid JSON/);
    const bad = JSON.stringify(
      broken((g) => {
        g.model = 1;
      }),
    );
    expect(errorOf(() => parseGalleryText(bad, "g.json")).message).toMatch(/^g\.json: model: expected one of/);
  });
});

describe("enrollment helpers", () => {
  const base = parseGallery(sample());

  it("addPerson adds a new person without touching the input", () => {
    const next = addPerson(base, "cy", [Float32Array.from(d(4))], ["cy.jpg"]);
    expect(next.people.map((p) => p.name)).toEqual(["ada", "bob", "cy"]);
    expect(next.people[2]).toEqual({
      name: "cy",
      descriptors: [Array.from(Float32Array.from(d(4)))],
      sources: ["cy.jpg"],
    });
    expect(base.people).toHaveLength(2);
  });

  it("addPerson refuses an existing name unless told to append or replace", () => {
    expect(errorOf(() => addPerson(base, "bob", [d(5)])).message).toMatch(/already in the gallery/);
    const appended = addPerson(base, "bob", [d(5), d(3)], ["b.jpg"], { ifExists: "append" });
    expect(appended.people[1]?.descriptors).toEqual([d(3), d(5)]); // d(3) was already there
    expect(appended.people[1]?.sources).toEqual(["b.jpg"]);
    const replaced = addPerson(base, "bob", [d(6)], [], { ifExists: "replace" });
    expect(replaced.people[1]).toEqual({ name: "bob", descriptors: [d(6)] });
    expect(base.people[1]?.descriptors).toEqual([d(3)]);
  });

  it("addPerson validates names and descriptors", () => {
    expect(errorOf(() => addPerson(base, "", [d(1)])).message).toBe('name "": must not be empty');
    expect(errorOf(() => addPerson(base, "cy", [])).message).toMatch(/at least one descriptor/);
    expect(errorOf(() => addPerson(base, "cy", [d(1).slice(1)])).message).toBe(
      "cy: descriptors[0]: expected 128 numbers, got 127",
    );
    const nan = d(1);
    nan[7] = Number.NaN;
    expect(errorOf(() => addPerson(base, "cy", [d(1), nan])).message).toBe(
      "cy: descriptors[1][7]: expected a finite number, got number NaN",
    );
  });

  it("addDescriptor creates or extends a person", () => {
    const one = addDescriptor(emptyGallery("face-api-facerecognitionnet"), "ann", d(1), "a.jpg");
    const two = addDescriptor(one, "ann", d(2), "b.jpg");
    expect(two.people).toEqual([{ name: "ann", descriptors: [d(1), d(2)], sources: ["a.jpg", "b.jpg"] }]);
  });

  it("mergeGallery unions people, descriptors and sources; models must match", () => {
    const extra = galleryFromEntries("dlib-resnet", [
      { name: "bob", descriptor: d(7), source: "bob7.jpg" },
      { name: "dan", descriptor: d(8) },
      { name: "ada", descriptor: d(1), source: "ada1.jpg" },
    ]);
    const merged = mergeGallery(base, extra);
    expect(merged.people.map((p) => [p.name, p.descriptors.length, p.sources])).toEqual([
      ["ada", 2, ["ada1.jpg", "ada2.jpg"]],
      ["bob", 2, ["bob7.jpg"]],
      ["dan", 1, undefined],
    ]);
    expect(mergeGallery(merged, extra)).toEqual(merged); // idempotent
    expect(errorOf(() => mergeGallery(base, emptyGallery("face-api-facerecognitionnet"))).message).toBe(
      "model: cannot merge a face-api-facerecognitionnet gallery into a dlib-resnet gallery",
    );
  });

  it("galleryFromEntries groups repeated names in first-appearance order", () => {
    const g = galleryFromEntries("dlib-resnet", [
      { name: "b", descriptor: d(1) },
      { name: "a", descriptor: d(2) },
      { name: "b", descriptor: d(3) },
    ]);
    expect(g.people.map((p) => [p.name, p.descriptors.length])).toEqual([
      ["b", 2],
      ["a", 1],
    ]);
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

describe("saveGallery / loadGallery", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gallery-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips exactly, one descriptor per line, leaving no temp files", async () => {
    const g = parseGallery(sample());
    g.people[0]?.descriptors.push(Array.from(Float32Array.from(d(11)))); // float32-derived values too
    const path = join(dir, "sub", "gallery.json");
    await saveGallery(path, g);
    expect(await loadGallery(path)).toEqual(g);
    const text = await readFile(path, "utf8");
    expect(text.split("\n").filter((line) => line.trim().startsWith("[")).length).toBe(4);
    expect(JSON.parse(text)).toEqual(g);
    expect(await readdir(join(dir, "sub"))).toEqual(["gallery.json"]);
  });

  it("refuses to save an invalid gallery and keeps the old file", async () => {
    const path = join(dir, "keep.json");
    await saveGallery(path, parseGallery(sample()));
    const before = await readFile(path, "utf8");
    const bad = parseGallery(sample());
    (bad.people[1]?.descriptors[0] as number[])[3] = Number.POSITIVE_INFINITY;
    await expect(saveGallery(path, bad)).rejects.toThrow(
      "people[1].descriptors[0][3]: expected a finite number, got number Infinity",
    );
    expect(await readFile(path, "utf8")).toBe(before);
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/\.tmp$/));
  });

  it("names the file when loading a broken gallery", async () => {
    const path = join(dir, "broken.json");
    await writeFile(
      path,
      JSON.stringify(
        broken((g) => {
          g.people[0] = { name: "ada", descriptors: [[1, 2]] };
        }),
      ),
    );
    await expect(loadGallery(path)).rejects.toThrow(`${path}: people[0].descriptors[0]: expected 128 numbers, got 2`);
  });

  it("serializes an empty gallery", () => {
    expect(JSON.parse(serializeGallery(emptyGallery("dlib-resnet")))).toEqual({
      format: "facerec-gallery",
      version: 1,
      model: "dlib-resnet",
      people: [],
    });
  });
});
