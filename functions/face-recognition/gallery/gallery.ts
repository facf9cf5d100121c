// The gallery: the known people the recognizer can name. One JSON file (docs/gallery-format.md):
//
//   {
//     "format": "facerec-gallery",          // required, exactly this
//     "version": 1,                         // required; a reader refuses versions it does not know
//     "model": "dlib-resnet" | "face-api-facerecognitionnet",   // which network made the descriptors
//     "note": "free text, e.g. where it came from",             // optional
//     "people": [                                               // required, may be empty
//       { "name": "vin_diesel",                                 // unique, trimmed, no control chars
//         "descriptors": [[128 finite numbers], ...],           // at least one
//         "sources": ["vin1.jpg", ...] }                        // optional, informational
//     ]
//   }
//
// Validation is strict (unknown keys are errors too) because a typo such as "descriptor" would
// otherwise silently drop a person from recognition. Errors name the exact place:
// `people[3].descriptors[0]: expected 128 numbers, got 127`.
// Helpers never modify their input: they return a new gallery (unchanged people are shared).
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export const GALLERY_FORMAT = "facerec-gallery";
export const GALLERY_VERSION = 1;
export const DESCRIPTOR_LENGTH = 128;
export const FACE_MODELS = ["dlib-resnet", "face-api-facerecognitionnet"] as const;
export type FaceModel = (typeof FACE_MODELS)[number];

const MAX_NAME_LENGTH = 200;
/** 10,000 people × 128 numbers × ~22 characters is ~28 MB: generous, but bounded. */
export const MAX_GALLERY_BYTES = 64 * 1024 * 1024;

export interface GalleryPerson {
  name: string;
  /** Each exactly DESCRIPTOR_LENGTH finite numbers; at least one. */
  descriptors: number[][];
  /** Files the descriptors were computed from (informational; not aligned with descriptors). */
  sources?: string[];
}

export interface Gallery {
  format: typeof GALLERY_FORMAT;
  version: typeof GALLERY_VERSION;
  model: FaceModel;
  note?: string;
  people: GalleryPerson[];
}

/** The compact form the matcher scans (compatible with pipeline/match.ts `MatchIndex`). */
export interface GalleryMatchIndex {
  model: FaceModel;
  names: string[];
  /** Person index (into names) of each descriptor row. */
  labels: Int32Array;
  /** labels.length rows of DESCRIPTOR_LENGTH floats. */
  descriptors: Float32Array;
}

/** A gallery that is malformed or an operation that would make it so. `where` is e.g. "people[3].name". */
export class GalleryError extends Error {
  constructor(
    readonly where: string,
    readonly problem: string,
    readonly file?: string,
  ) {
    super([file, where, problem].filter((part) => part).join(": "));
    this.name = "GalleryError";
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Why `name` cannot be a person's name, or undefined when it can. */
export function personNameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters`;
  if (name.trim() !== name) return `must not start or end with spaces (${JSON.stringify(name)})`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\u0000-\u001f\u007f]/.test(name)) return `must not contain control characters (${JSON.stringify(name)})`;
  return undefined;
}

interface DescriptorProblem {
  /** Index of the offending element, when one element is at fault. */
  at?: number;
  problem: string;
}

function findDescriptorProblem(values: ArrayLike<unknown>): DescriptorProblem | undefined {
  if (values.length !== DESCRIPTOR_LENGTH) {
    return { problem: `expected ${DESCRIPTOR_LENGTH} numbers, got ${values.length}` };
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      return { at: i, problem: `expected a finite number, got ${describe(v)}` };
    }
  }
  return undefined;
}

/** Why `values` is not a descriptor (e.g. "[5]: expected a finite number, got NaN"), or undefined. */
export function descriptorProblem(values: ArrayLike<unknown>): string | undefined {
  const found = findDescriptorProblem(values);
  if (!found) return undefined;
  return found.at === undefined ? found.problem : `[${found.at}]: ${found.problem}`;
}

/** A short description of a JSON value for error messages. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string") {
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  }
  if (typeof value === "number") return `number ${value}`;
  if (typeof value === "object") return "an object";
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new GalleryError(where, `unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(", ")})`);
    }
  }
}

function field(where: string, key: string): string {
  return where ? `${where}.${key}` : key;
}

function parseDescriptor(value: unknown, where: string): number[] {
  if (!Array.isArray(value)) {
    throw new GalleryError(where, `expected an array of ${DESCRIPTOR_LENGTH} numbers, got ${describe(value)}`);
  }
  const found = findDescriptorProblem(value);
  if (found) throw new GalleryError(found.at === undefined ? where : `${where}[${found.at}]`, found.problem);
  return [...(value as number[])];
}

function parsePerson(value: unknown, where: string): GalleryPerson {
  if (!isRecord(value)) {
    throw new GalleryError(where, `expected an object with name and descriptors, got ${describe(value)}`);
  }
  checkKeys(value, where, ["name", "descriptors", "sources"]);
  const { name, descriptors, sources } = value;
  if (typeof name !== "string") {
    throw new GalleryError(field(where, "name"), `expected a string, got ${describe(name)}`);
  }
  const nameProblem = personNameProblem(name);
  if (nameProblem) throw new GalleryError(field(where, "name"), nameProblem);
  const dWhere = field(where, "descriptors");
  if (!Array.isArray(descriptors)) {
    throw new GalleryError(dWhere, `expected an array of descriptors, got ${describe(descriptors)}`);
  }
  if (descriptors.length === 0) throw new GalleryError(dWhere, "a person needs at least one descriptor");
  const person: GalleryPerson = { name, descriptors: descriptors.map((d, i) => parseDescriptor(d, `${dWhere}[${i}]`)) };
  if (sources !== undefined) {
    const sWhere = field(where, "sources");
    if (!Array.isArray(sources)) {
      throw new GalleryError(sWhere, `expected an array of strings, got ${describe(sources)}`);
    }
    person.sources = sources.map((s, i) => {
      if (typeof s !== "string" || s === "") {
        throw new GalleryError(`${sWhere}[${i}]`, `expected a non-empty string, got ${describe(s)}`);
      }
      return s;
    });
  }
  return person;
}

/** Validates parsed JSON as a gallery and returns a fresh copy (the input is not kept). */
export function parseGallery(json: unknown): Gallery {
  if (!isRecord(json)) throw new GalleryError("", `expected a JSON object, got ${describe(json)}`);
  checkKeys(json, "", ["format", "version", "model", "note", "people"]);
  if (json.format !== GALLERY_FORMAT) {
    throw new GalleryError("format", `expected ${JSON.stringify(GALLERY_FORMAT)}, got ${describe(json.format)}`);
  }
  if (json.version !== GALLERY_VERSION) {
    const got = typeof json.version === "number" ? String(json.version) : describe(json.version);
    throw new GalleryError("version", `unsupported version ${got} (this build reads ${GALLERY_VERSION})`);
  }
  const model = json.model;
  if (!FACE_MODELS.includes(model as FaceModel)) {
    throw new GalleryError(
      "model",
      `expected one of ${FACE_MODELS.map((m) => JSON.stringify(m)).join(", ")}, got ${describe(model)}`,
    );
  }
  if (json.note !== undefined && typeof json.note !== "string") {
    throw new GalleryError("note", `expected a string, got ${describe(json.note)}`);
  }
  if (!Array.isArray(json.people)) throw new GalleryError("people", `expected an array, got ${describe(json.people)}`);
  const people = json.people.map((p, i) => parsePerson(p, `people[${i}]`));
  const seen = new Map<string, number>();
  people.forEach((p, i) => {
    const first = seen.get(p.name);
    if (first !== undefined) {
      throw new GalleryError(`people[${i}].name`, `duplicate name ${JSON.stringify(p.name)} (also people[${first}])`);
    }
    seen.set(p.name, i);
  });
  const gallery: Gallery = { format: GALLERY_FORMAT, version: GALLERY_VERSION, model: model as FaceModel, people };
  if (json.note !== undefined) gallery.note = json.note;
  return gallery;
}

// ---------------------------------------------------------------------------------------------
// Enrollment helpers (pure: they return a new gallery)

export function emptyGallery(model: FaceModel, note?: string): Gallery {
  const gallery: Gallery = { format: GALLERY_FORMAT, version: GALLERY_VERSION, model, people: [] };
  if (note !== undefined) gallery.note = note;
  return gallery;
}

export function findPerson(gallery: Gallery, name: string): GalleryPerson | undefined {
  return gallery.people.find((p) => p.name === name);
}

/** Checks a descriptor from any source (face-api gives Float32Array) and copies it to plain numbers. */
function toDescriptor(values: ArrayLike<number>, where: string): number[] {
  const found = findDescriptorProblem(values);
  if (found) throw new GalleryError(found.at === undefined ? where : `${where}[${found.at}]`, found.problem);
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] as number;
  return out;
}

function checkName(name: string): void {
  const problem = personNameProblem(name);
  if (problem) throw new GalleryError(`name ${JSON.stringify(name)}`, problem);
}

function sameDescriptor(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Appends descriptors and sources, skipping exact duplicates so re-importing a file is harmless. */
function extendPerson(person: GalleryPerson, descriptors: number[][], sources: readonly string[]): GalleryPerson {
  const merged = [...person.descriptors];
  for (const d of descriptors) if (!merged.some((m) => sameDescriptor(m, d))) merged.push(d);
  const allSources = [...(person.sources ?? [])];
  for (const s of sources) if (!allSources.includes(s)) allSources.push(s);
  const next: GalleryPerson = { name: person.name, descriptors: merged };
  if (allSources.length > 0) next.sources = allSources;
  return next;
}

function replacePerson(gallery: Gallery, index: number, person: GalleryPerson): Gallery {
  const people = gallery.people.slice();
  people[index] = person;
  return { ...gallery, people };
}

export interface AddPersonOptions {
  /** What to do when the name is already in the gallery. Default "error". */
  ifExists?: "error" | "append" | "replace";
}

/**
 * Adds a person with one or more descriptors (e.g. one per enrollment photo). `sources` are the
 * file names they came from. Throws GalleryError on a bad name/descriptor, or when the name exists
 * and `ifExists` is "error".
 */
export function addPerson(
  gallery: Gallery,
  name: string,
  descriptors: readonly ArrayLike<number>[],
  sources: readonly string[] = [],
  options: AddPersonOptions = {},
): Gallery {
  checkName(name);
  if (descriptors.length === 0) {
    throw new GalleryError(`name ${JSON.stringify(name)}`, "a person needs at least one descriptor");
  }
  const rows = descriptors.map((d, i) => toDescriptor(d, `${name}: descriptors[${i}]`));
  sources.forEach((s, i) => {
    if (typeof s !== "string" || s === "") {
      throw new GalleryError(`${name}: sources[${i}]`, "expected a non-empty string");
    }
  });
  const index = gallery.people.findIndex((p) => p.name === name);
  const fresh = extendPerson({ name, descriptors: [] }, rows, sources);
  if (index < 0) return { ...gallery, people: [...gallery.people, fresh] };
  const mode = options.ifExists ?? "error";
  if (mode === "error") {
    throw new GalleryError(`name ${JSON.stringify(name)}`, "already in the gallery (use ifExists: append or replace)");
  }
  const existing = gallery.people[index] as GalleryPerson;
  return replacePerson(gallery, index, mode === "replace" ? fresh : extendPerson(existing, rows, sources));
}

/** Adds one descriptor to a person, creating the person if needed. */
export function addDescriptor(gallery: Gallery, name: string, descriptor: ArrayLike<number>, source?: string): Gallery {
  return addPerson(gallery, name, [descriptor], source === undefined ? [] : [source], { ifExists: "append" });
}

/**
 * Merges `extra` into `base`: new people are appended, people present in both get the union of
 * descriptors and sources. Descriptors from different models are not comparable, so the models
 * must match.
 */
export function mergeGallery(base: Gallery, extra: Gallery): Gallery {
  if (base.model !== extra.model) {
    throw new GalleryError("model", `cannot merge a ${extra.model} gallery into a ${base.model} gallery`);
  }
  let merged = base;
  for (const person of extra.people) {
    merged = addPerson(merged, person.name, person.descriptors, person.sources ?? [], { ifExists: "append" });
  }
  return merged;
}

export interface GalleryEntry {
  name: string;
  descriptor: ArrayLike<number>;
  source?: string;
}

/**
 * Builds a gallery from (name, descriptor) pairs, as import files list them: entries with the
 * same name become one person, in first-appearance order. Linear, unlike repeated addDescriptor.
 */
export function galleryFromEntries(model: FaceModel, entries: Iterable<GalleryEntry>, note?: string): Gallery {
  // Per person: the descriptors, plus their bits as text to skip exact duplicates in O(1).
  const byName = new Map<string, { person: GalleryPerson; seen: Set<string>; sources: Set<string> }>();
  let i = 0;
  for (const entry of entries) {
    const nameProblem = personNameProblem(entry.name);
    if (nameProblem) throw new GalleryError(`entries[${i}].name`, nameProblem);
    const descriptor = toDescriptor(entry.descriptor, `entries[${i}].descriptor`);
    let slot = byName.get(entry.name);
    if (!slot) {
      slot = { person: { name: entry.name, descriptors: [] }, seen: new Set(), sources: new Set() };
      byName.set(entry.name, slot);
    }
    const bits = entry.descriptor instanceof Float64Array ? entry.descriptor : Float64Array.from(descriptor);
    const key = Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).toString("latin1");
    if (!slot.seen.has(key)) {
      slot.seen.add(key);
      slot.person.descriptors.push(descriptor);
    }
    if (entry.source !== undefined) {
      if (entry.source === "") throw new GalleryError(`entries[${i}].source`, "must not be empty");
      slot.sources.add(entry.source);
    }
    i++;
  }
  const people = [...byName.values()].map(({ person, sources }) =>
    sources.size > 0 ? { ...person, sources: [...sources] } : person,
  );
  return { ...emptyGallery(model, note), people };
}

/** Flattens the gallery into the matcher's compact form (float32 is plenty for distances). */
export function toMatchIndex(gallery: Gallery): GalleryMatchIndex {
  const rows = gallery.people.reduce((n, p) => n + p.descriptors.length, 0);
  const labels = new Int32Array(rows);
  const descriptors = new Float32Array(rows * DESCRIPTOR_LENGTH);
  let row = 0;
  gallery.people.forEach((person, p) => {
    for (const d of person.descriptors) {
      labels[row] = p;
      descriptors.set(d, row * DESCRIPTOR_LENGTH);
      row++;
    }
  });
  return { model: gallery.model, names: gallery.people.map((p) => p.name), labels, descriptors };
}

// ---------------------------------------------------------------------------------------------
// Files

/** Pretty JSON with one descriptor per line: diffable, and numbers round-trip exactly. */
export function serializeGallery(gallery: Gallery): string {
  const g = parseGallery(gallery);
  const people = g.people.map((p) => {
    const fields = [
      `      "name": ${JSON.stringify(p.name)}`,
      `      "descriptors": [\n${p.descriptors.map((d) => `        ${JSON.stringify(d)}`).join(",\n")}\n      ]`,
    ];
    if (p.sources) fields.push(`      "sources": ${JSON.stringify(p.sources)}`);
    return `    {\n${fields.join(",\n")}\n    }`;
  });
  const head = [
    `  "format": ${JSON.stringify(g.format)}`,
    `  "version": ${g.version}`,
    `  "model": ${JSON.stringify(g.model)}`,
  ];
  if (g.note !== undefined) head.push(`  "note": ${JSON.stringify(g.note)}`);
  head.push(people.length === 0 ? `  "people": []` : `  "people": [\n${people.join(",\n")}\n  ]`);
  return `{\n${head.join(",\n")}\n}\n`;
}

/** Reads and validates a gallery file; errors name the file and the place in it. */
export async function loadGallery(path: string): Promise<Gallery> {
  const { size } = await stat(path);
  if (size > MAX_GALLERY_BYTES) {
    throw new GalleryError("", `file is ${size} bytes; the limit is ${MAX_GALLERY_BYTES}`, path);
  }
  return parseGalleryText(await readFile(path, "utf8"), path);
}

/** JSON.parse + parseGallery, with the file name in every error. */
export function parseGalleryText(text: string, file?: string): Gallery {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    throw new GalleryError("", `not valid JSON (${(err as Error).message})`, file);
  }
  try {
    return parseGallery(json);
  } catch (err) {
    if (err instanceof GalleryError && file !== undefined) throw new GalleryError(err.where, err.problem, file);
    throw err;
  }
}

/**
 * Validates, then writes atomically: a temp file in the same directory is fully written and
 * fsynced, then renamed over `path`, so readers see the old or the new gallery, never half of one.
 */
export async function saveGallery(path: string, gallery: Gallery): Promise<void> {
  const text = serializeGallery(gallery);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", 0o644);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
