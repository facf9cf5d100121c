// Imports the original Python system's `encoding` file: a pickle of
//   {"name": [str, ...], "encoding": [numpy float64 array of shape (128,), ...]}
// where name[i] is the person whose face encoding[i] is (dlib ResNet via face_recognition).
import type * as z from "zod/mini";
import { galleryFromEntries, type GalleryEntry } from "../gallery/enrollment.js";
import {
  check,
  DESCRIPTOR_LENGTH,
  descriptorSchema,
  type Gallery,
  GalleryError,
  personNameSchema,
} from "../gallery/format.js";
import { ndarrayFromPickle } from "./numpy-array.js";
import { readPickle } from "./pickle-machine.js";
import { describePickleValue, isKind, PickleFormatError, type PickleValue } from "./pickle-values.js";

function fail(where: string, problem: string): never {
  throw new PickleFormatError(`${where}: ${problem}`);
}

/** `value` checked against the gallery format, a problem reported in the pickle's terms. */
function checked<Schema extends z.ZodMiniType>(schema: Schema, value: unknown, where: string): z.output<Schema> {
  try {
    return check(schema, value, where);
  } catch (err) {
    if (err instanceof GalleryError) fail(err.where, err.problem);
    throw err;
  }
}

function listItems(v: PickleValue | undefined, where: string): PickleValue[] {
  if (!isKind(v, "list")) {
    return fail(where, `expected a list, got ${describePickleValue(v)}`);
  }
  return v.items;
}

/** Far beyond any real gallery (the matcher scans every row per face), and bounds the work. */
const MAX_ENCODINGS = 100_000;

/**
 * The original system's encoding file → a "dlib-resnet" gallery. Repeated names become one
 * person with several descriptors, in first-appearance order.
 */
export function importEncodingPickle(bytes: Uint8Array, note?: string): Gallery {
  const top = readPickle(bytes);
  if (!isKind(top, "dict")) {
    return fail("top level", `expected a dict with keys "name" and "encoding", got ${describePickleValue(top)}`);
  }
  for (const key of top.entries.keys()) {
    if (key !== "name" && key !== "encoding") {
      fail("top level", `unexpected key ${JSON.stringify(key)} (expected exactly "name" and "encoding")`);
    }
  }
  const names = listItems(top.entries.get("name"), `"name"`);
  const encodings = listItems(top.entries.get("encoding"), `"encoding"`);
  if (names.length !== encodings.length) {
    fail("top level", `"name" has ${names.length} entries but "encoding" has ${encodings.length}`);
  }
  if (names.length > MAX_ENCODINGS) fail("top level", `${names.length} encodings; the limit is ${MAX_ENCODINGS}`);
  // The memo lets one array be referenced many times; decode and check each object once.
  const decoded = new Map<PickleValue, number[]>();
  const entries: GalleryEntry[] = names.map((name, i) => {
    if (typeof name !== "string") return fail(`name[${i}]`, `expected a str, got ${describePickleValue(name)}`);
    checked(personNameSchema, name, `name[${i}]`);
    const where = `encoding[${i}]`;
    const encoding = encodings[i] as PickleValue;
    let descriptor = decoded.get(encoding);
    if (!descriptor) {
      const array = ndarrayFromPickle(encoding, where, [DESCRIPTOR_LENGTH]);
      descriptor = checked(descriptorSchema, Array.from(array.data), where);
      decoded.set(encoding, descriptor);
    }
    return { name, descriptor };
  });
  return galleryFromEntries("dlib-resnet", entries, note);
}
