// `facerec gallery import <file>`: the original system's encoding pickle, its JSON rendering
// ({"entries":[{"name","descriptor"}]}), or an existing gallery file, into a gallery. The format is
// told by content, not by file name: pickles start with the PROTO opcode 0x80, which no JSON text
// can start with.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import * as z from "zod/mini";
import { galleryFromEntries } from "../gallery/enrollment.js";
import {
  check,
  descriptorSchema,
  expected,
  type Gallery,
  GalleryError,
  parseGallery,
  personNameSchema,
  strictObject,
} from "../gallery/format.js";
import { checkGallerySize } from "../gallery/storage.js";
import { importEncodingPickle } from "./encoding-pickle.js";

/** encoding.json, the same data as the pickle: `{"note"?: str, "entries": [{"name", "descriptor"}, ...]}`. */
const encodingJsonSchema = strictObject(
  {
    note: z.optional(z.string({ error: expected("a string") })),
    entries: z.array(strictObject({ name: personNameSchema, descriptor: descriptorSchema }, "an object"), {
      error: expected("an array"),
    }),
  },
  "a JSON object with an entries array",
);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The format told from the bytes; `note` says where they came from. */
function importGalleryBytes(bytes: Uint8Array, note: string): Gallery {
  if (bytes[0] === 0x80) return importEncodingPickle(bytes, note);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, ""));
  } catch (err) {
    throw new GalleryError("", `neither a pickle (first byte 0x80) nor valid JSON (${(err as Error).message})`);
  }
  if (isRecord(json) && "format" in json) return parseGallery(json);
  if (isRecord(json) && "entries" in json) {
    // Made by the original system from its pickle: the same dlib descriptors.
    return galleryFromEntries("dlib-resnet", check(encodingJsonSchema, json).entries, note);
  }
  throw new GalleryError("", 'unrecognized JSON: expected a facerec gallery ("format") or encoding.json ("entries")');
}

/**
 * Reads an encoding pickle, encoding.json or a gallery file into a gallery. Errors keep their
 * class (PickleFormatError, UnsafePickleError, GalleryError) and get the path in their message.
 */
export async function importGalleryFile(path: string): Promise<Gallery> {
  await checkGallerySize(path);
  const bytes = await readFile(path);
  try {
    return importGalleryBytes(bytes, `imported from ${basename(path)}`);
  } catch (err) {
    if (err instanceof GalleryError) throw new GalleryError(err.where, err.problem, path);
    if (err instanceof Error) err.message = `${path}: ${err.message}`;
    throw err;
  }
}
