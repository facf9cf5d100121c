// Building a gallery: people and their descriptors added from enrollment photos, video frames or an
// imported file. Pure: each function returns a new gallery and leaves its input as it was.
import {
  check,
  descriptorsSchema,
  type FaceModel,
  type Gallery,
  GALLERY_FORMAT,
  GALLERY_VERSION,
  type GalleryPerson,
  parseGallery,
  personNameSchema,
  smallFaceDescriptorsSchema,
  sourcesSchema,
} from "./format.js";

export function emptyGallery(model: FaceModel, note?: string): Gallery {
  const gallery: Gallery = { format: GALLERY_FORMAT, version: GALLERY_VERSION, model, people: [] };
  if (note !== undefined) gallery.note = note;
  return gallery;
}

/** A descriptor's exact bits as text: equal keys are the same descriptor, found in O(1). */
function descriptorKey(descriptor: ArrayLike<number>): string {
  return Buffer.from(Float64Array.from(descriptor).buffer).toString("latin1");
}

/** `extra` appended to `rows`, skipping exact duplicates. */
function appendNew(rows: readonly number[][], extra: readonly number[][]): number[][] {
  const merged = [...rows];
  const seen = new Set(merged.map(descriptorKey));
  for (const d of extra) {
    const key = descriptorKey(d);
    if (!seen.has(key)) {
      seen.add(key);
      merged.push(d);
    }
  }
  return merged;
}

/** Appends descriptors and sources, skipping exact duplicates so adding the same photo twice is harmless. */
function extendPerson(
  person: GalleryPerson,
  descriptors: number[][],
  sources: readonly string[],
  smallFaceDescriptors: number[][],
): GalleryPerson {
  const allSources = [...(person.sources ?? [])];
  for (const s of sources) if (!allSources.includes(s)) allSources.push(s);
  const next: GalleryPerson = { name: person.name, descriptors: appendNew(person.descriptors, descriptors) };
  const small = appendNew(person.smallFaceDescriptors ?? [], smallFaceDescriptors);
  if (small.length > 0) next.smallFaceDescriptors = small;
  if (allSources.length > 0) next.sources = allSources;
  return next;
}

/**
 * Adds descriptors (face-api gives Float32Array) to the person called `name`, who is created
 * when not in the gallery yet. `sources` are the files they came from; `smallFaceDescriptors`, the
 * same faces shrunk (enroll.ts). Throws a GalleryError on a bad name, descriptor or source.
 */
export function addPerson(
  gallery: Gallery,
  name: string,
  descriptors: readonly ArrayLike<number>[],
  sources: readonly string[] = [],
  smallFaceDescriptors: readonly ArrayLike<number>[] = [],
): Gallery {
  check(personNameSchema, name, "name");
  const rows = check(
    descriptorsSchema,
    descriptors.map((d) => Array.from(d)),
    `${name}: descriptors`,
  );
  const smallRows = check(
    smallFaceDescriptorsSchema,
    smallFaceDescriptors.map((d) => Array.from(d)),
    `${name}: smallFaceDescriptors`,
  );
  check(sourcesSchema, sources, `${name}: sources`);
  const index = gallery.people.findIndex((p) => p.name === name);
  const existing = gallery.people[index] ?? { name, descriptors: [] };
  const people = gallery.people.slice();
  people.splice(index < 0 ? people.length : index, index < 0 ? 0 : 1, extendPerson(existing, rows, sources, smallRows));
  return { ...gallery, people };
}

export interface GalleryEntry {
  name: string;
  descriptor: ArrayLike<number>;
}

/**
 * Builds a gallery from (name, descriptor) pairs, as import files list them: entries with the
 * same name become one person, in first-appearance order; exact repeats are dropped. Linear, unlike
 * repeated addPerson. The result is checked whole against the format.
 */
export function galleryFromEntries(model: FaceModel, entries: Iterable<GalleryEntry>, note?: string): Gallery {
  // Per person: the descriptors, and their keys to skip exact duplicates.
  const byName = new Map<string, { person: GalleryPerson; seen: Set<string> }>();
  for (const entry of entries) {
    let slot = byName.get(entry.name);
    if (!slot) {
      slot = { person: { name: entry.name, descriptors: [] }, seen: new Set() };
      byName.set(entry.name, slot);
    }
    const key = descriptorKey(entry.descriptor);
    if (!slot.seen.has(key)) {
      slot.seen.add(key);
      slot.person.descriptors.push(Array.from(entry.descriptor));
    }
  }
  return parseGallery({ ...emptyGallery(model, note), people: [...byName.values()].map((slot) => slot.person) });
}
