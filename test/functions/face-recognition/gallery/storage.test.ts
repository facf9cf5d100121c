import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyGallery } from "../../../../functions/face-recognition/gallery/enrollment.js";
import { loadGallery, saveGallery } from "../../../../functions/face-recognition/gallery/storage.js";
import { d, sample } from "./sample.js";

describe("saveGallery / loadGallery", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gallery-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips exactly, one descriptor per line, leaving no temp files", async () => {
    const g = sample();
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
    await saveGallery(path, sample());
    const before = await readFile(path, "utf8");
    const bad = sample();
    (bad.people[1]?.descriptors[0] as number[])[3] = Number.POSITIVE_INFINITY;
    await expect(saveGallery(path, bad)).rejects.toThrow(
      "people[1].descriptors[0][3]: expected a finite number, got number Infinity",
    );
    expect(await readFile(path, "utf8")).toBe(before);
  });

  it("leaves no temp file behind when the write fails after it began", async () => {
    const folder = join(dir, "fails");
    // A folder holding a file where the gallery should go: the temp file is written, the rename fails.
    const path = join(folder, "gallery.json");
    await mkdir(join(path, "occupied"), { recursive: true });
    await expect(saveGallery(path, sample())).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(await readdir(folder)).toEqual(["gallery.json"]);
  });

  it("names the file when loading a broken gallery", async () => {
    const path = join(dir, "broken.json");
    await writeFile(path, JSON.stringify({ ...sample(), people: [{ name: "ada", descriptors: [[1, 2]] }] }));
    await expect(loadGallery(path)).rejects.toThrow(`${path}: people[0].descriptors[0]: expected 128 numbers, got 2`);
  });

  it("refuses a file over 64 MiB before reading it", async () => {
    const limit = 64 * 1024 * 1024;
    const path = join(dir, "huge.json");
    await writeFile(path, "");
    await truncate(path, limit + 1); // sparse: no disk used
    await expect(loadGallery(path)).rejects.toThrow(`${path}: file is ${limit + 1} bytes; the limit is ${limit}`);
  });

  it("saves an empty gallery", async () => {
    const path = join(dir, "empty.json");
    await saveGallery(path, emptyGallery("dlib-resnet"));
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      format: "facerec-gallery",
      version: 1,
      model: "dlib-resnet",
      people: [],
    });
  });
});
