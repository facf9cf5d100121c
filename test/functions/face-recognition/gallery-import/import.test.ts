import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addPerson, emptyGallery } from "../../../../functions/face-recognition/gallery/enrollment.js";
import { GalleryError } from "../../../../functions/face-recognition/gallery/format.js";
import { saveGallery } from "../../../../functions/face-recognition/gallery/storage.js";
import { importGalleryFile } from "../../../../functions/face-recognition/gallery-import/import.js";
import {
  PickleFormatError,
  UnsafePickleError,
} from "../../../../functions/face-recognition/gallery-import/pickle-values.js";
import { requireData } from "../../../support/data.js";
import { encodingPickle, fakeDescriptor } from "./pickle-builder.js";

const data = requireData();
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gallery-import-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("importGalleryFile: the original system's files", () => {
  it.skipIf(!data)("encoding.pickle and encoding.json give the same 11 people", async () => {
    const fromPickle = await importGalleryFile(join(data as string, "cse546/encoding.pickle"));
    const fromJson = await importGalleryFile(join(data as string, "cse546/encoding.json"));
    expect(fromPickle.note).toBe("imported from encoding.pickle");
    expect(fromJson.note).toBe("imported from encoding.json");
    expect(fromPickle.model).toBe("dlib-resnet");
    expect(fromJson.model).toBe("dlib-resnet");
    expect(fromPickle.people).toHaveLength(11);
    expect(fromJson.people.map((p) => p.name)).toEqual(fromPickle.people.map((p) => p.name));
    fromPickle.people.forEach((person, i) => {
      const other = fromJson.people[i]?.descriptors[0] as number[];
      (person.descriptors[0] as number[]).forEach((v, j) => {
        expect(Math.abs(v - (other[j] as number))).toBeLessThanOrEqual(5e-9 + 1e-17); // JSON has 8 decimals
      });
    });
  });
});

describe("importGalleryFile: detection by content", () => {
  it("reads a pickle whatever its name, and an existing gallery", async () => {
    const pickled = join(dir, "people.dat");
    await writeFile(
      pickled,
      encodingPickle(["ada", "bob"], [{ values: fakeDescriptor(1) }, { values: fakeDescriptor(2) }], { protocol: 4 }),
    );
    const imported = await importGalleryFile(pickled);
    expect(imported.people.map((p) => p.name)).toEqual(["ada", "bob"]);

    const galleryPath = join(dir, "gallery.json");
    const gallery = addPerson(emptyGallery("face-api-facerecognitionnet", "mine"), "cy", [fakeDescriptor(3)]);
    await saveGallery(galleryPath, gallery);
    expect(await importGalleryFile(galleryPath)).toEqual(gallery);
  });

  it("keeps the error class and names the file", async () => {
    const hostile = join(dir, "hostile.pickle");
    await writeFile(hostile, Buffer.from("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", "latin1"));
    const unsafe = await importGalleryFile(hostile).catch((err: unknown) => err);
    expect(unsafe).toBeInstanceOf(UnsafePickleError);
    expect((unsafe as Error).message).toBe(
      `${hostile}: global os.system is not allowed; only numpy array globals are accepted (at byte 2)`,
    );

    const truncated = join(dir, "truncated.pickle");
    await writeFile(truncated, Buffer.from([0x80, 0x03, 0x7d]));
    await expect(importGalleryFile(truncated)).rejects.toThrow(PickleFormatError);

    const other = join(dir, "other.json");
    await writeFile(other, '{"people": []}');
    await expect(importGalleryFile(other)).rejects.toThrow(
      `${other}: unrecognized JSON: expected a facerec gallery ("format") or encoding.json ("entries")`,
    );

    const badGallery = join(dir, "bad-gallery.json");
    await writeFile(
      badGallery,
      '{"format": "facerec-gallery", "version": 1, "model": "dlib-resnet", "people": [{"name": "x", "descriptors": [[1]]}]}',
    );
    const err = await importGalleryFile(badGallery).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GalleryError);
    expect((err as Error).message).toBe(`${badGallery}: people[0].descriptors[0]: expected 128 numbers, got 1`);
  });

  it("refuses bytes that are neither", async () => {
    for (const [name, bytes] of [
      ["image.gif", Buffer.from("GIF89a")],
      ["not-utf8.json", Buffer.from([0xff, 0xfe])],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      await expect(importGalleryFile(path)).rejects.toThrow(
        `${path}: neither a pickle (first byte 0x80) nor valid JSON`,
      );
    }
  });
});

describe("importGalleryFile: encoding.json", () => {
  const entry = (name: string, seed: number): { name: string; descriptor: number[] } => ({
    name,
    descriptor: fakeDescriptor(seed),
  });
  let files = 0;
  async function importJson(json: unknown): Promise<{ path: string; imported: Promise<unknown> }> {
    const path = join(dir, `encoding-${files++}.json`);
    await writeFile(path, JSON.stringify(json));
    return { path, imported: importGalleryFile(path) };
  }

  it("groups entries by name, as dlib descriptors noted with the file they came from", async () => {
    const { path, imported } = await importJson({ note: "n", entries: [entry("a", 1), entry("b", 2), entry("a", 3)] });
    expect(await imported).toEqual({
      format: "facerec-gallery",
      version: 1,
      model: "dlib-resnet",
      note: `imported from ${basename(path)}`,
      people: [
        { name: "a", descriptors: [fakeDescriptor(1), fakeDescriptor(3)] },
        { name: "b", descriptors: [fakeDescriptor(2)] },
      ],
    });
  });

  it.each([
    ["an unknown key", { entries: [], model: "x" }, 'unknown key "model" (allowed: note, entries)'],
    ["entries not an array", { entries: {} }, "entries: expected an array, got an object"],
    [
      "an entry with an extra key",
      { entries: [{ ...entry("a", 1), source: "a.jpg" }] },
      'entries[0]: unknown key "source" (allowed: name, descriptor)',
    ],
    ["an entry not an object", { entries: [7] }, "entries[0]: expected an object, got number 7"],
    [
      "a missing name",
      { entries: [{ descriptor: fakeDescriptor(1) }] },
      "entries[0].name: expected a string, got undefined",
    ],
    [
      "a short descriptor",
      { entries: [entry("a", 1), { name: "b", descriptor: fakeDescriptor(2, 127) }] },
      "entries[1].descriptor: expected 128 numbers, got 127",
    ],
    [
      "a bad number",
      { entries: [{ name: "a", descriptor: [...fakeDescriptor(1, 127), "x"] }] },
      'entries[0].descriptor[127]: expected a finite number, got string "x"',
    ],
    ["an empty name", { entries: [entry("", 1)] }, "entries[0].name: must not be empty"],
  ])("refuses %s, naming the file and the place", async (_case, json, message) => {
    const { path, imported } = await importJson(json);
    const err = await imported.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GalleryError);
    expect((err as Error).message).toBe(`${path}: ${message}`);
  });
});
