// Gallery import for `facerec gallery import <file>`: the original system's encoding pickle, its
// JSON rendering ({"entries":[{"name","descriptor"}]}), or an existing gallery file. The format is
// told by content, not by file name: pickles start with the PROTO opcode 0x80, which no JSON text
// can start with.
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import {
  type FaceModel,
  type Gallery,
  GalleryError,
  galleryFromEntries,
  MAX_GALLERY_BYTES,
  parseGallery,
} from "./gallery.js";
import { type ImportOptions, importEncodingPickle } from "./pickle.js";

export interface EncodingJsonOptions extends ImportOptions {
  /** encoding.json was decoded from the dlib pickle; default "dlib-resnet". */
  model?: FaceModel;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `{"note"?: string, "entries": [{"name": str, "descriptor": [128 numbers]}, ...]}` → gallery. */
export function importEncodingJson(json: unknown, options: EncodingJsonOptions = {}): Gallery {
  if (!isRecord(json)) throw new GalleryError("", "expected a JSON object with an entries array");
  for (const key of Object.keys(json)) {
    if (key !== "note" && key !== "entries") {
      throw new GalleryError("", `unknown key ${JSON.stringify(key)} (allowed: note, entries)`);
    }
  }
  const { entries } = json;
  if (!Array.isArray(entries)) throw new GalleryError("entries", "expected an array");
  const checked = entries.map((entry: unknown, i) => {
    const where = `entries[${i}]`;
    if (!isRecord(entry)) throw new GalleryError(where, "expected an object with name and descriptor");
    for (const key of Object.keys(entry)) {
      if (key !== "name" && key !== "descriptor") {
        throw new GalleryError(where, `unknown key ${JSON.stringify(key)} (allowed: name, descriptor)`);
      }
    }
    if (typeof entry.name !== "string") throw new GalleryError(`${where}.name`, "expected a string");
    if (!Array.isArray(entry.descriptor)) {
      throw new GalleryError(`${where}.descriptor`, "expected an array of 128 numbers");
    }
    return { name: entry.name, descriptor: entry.descriptor as number[] };
  });
  // galleryFromEntries checks names and every number, naming the entry.
  return galleryFromEntries(options.model ?? "dlib-resnet", checked, options.note);
}

/** Detects the format from the bytes. `sourceName` (e.g. the file name) goes into the note. */
export function importGalleryBytes(bytes: Uint8Array, sourceName?: string): Gallery {
  const note = sourceName === undefined ? undefined : `imported from ${sourceName}`;
  if (bytes[0] === 0x80) return importEncodingPickle(bytes, { note });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, ""));
  } catch (err) {
    throw new GalleryError("", `neither a pickle (first byte 0x80) nor valid JSON (${(err as Error).message})`);
  }
  if (isRecord(json) && "format" in json) return parseGallery(json);
  if (isRecord(json) && "entries" in json) return importEncodingJson(json, { note });
  throw new GalleryError("", 'unrecognized JSON: expected a facerec gallery ("format") or encoding.json ("entries")');
}

/**
 * Reads an encoding pickle, encoding.json or a gallery file into a gallery. Errors keep their
 * class (PickleFormatError, UnsafePickleError, GalleryError) and get the path in their message.
 */
export async function importGalleryFile(path: string): Promise<Gallery> {
  const { size } = await stat(path);
  if (size > MAX_GALLERY_BYTES) {
    throw new GalleryError("", `file is ${size} bytes; the limit is ${MAX_GALLERY_BYTES}`, path);
  }
  const bytes = await readFile(path);
  try {
    return importGalleryBytes(bytes, basename(path));
  } catch (err) {
    if (err instanceof GalleryError) throw new GalleryError(err.where, err.problem, path);
    if (err instanceof Error) err.message = `${path}: ${err.message}`;
    throw err;
  }
}
