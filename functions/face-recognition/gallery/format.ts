// The gallery file's format (docs/gallery-format.md) as one zod schema: the types come from it, and
// so does every check. Validation is strict (unknown keys are errors too) because a typo such as
// "descriptor" would otherwise silently drop a person from recognition. Errors name the place:
// `people[3].descriptors[0]: expected 128 numbers, got 127`.
import * as z from "zod/mini";

export const GALLERY_FORMAT = "facerec-gallery";
export const GALLERY_VERSION = 1;
export const DESCRIPTOR_LENGTH = 128;
const FACE_MODELS = ["dlib-resnet", "face-api-facerecognitionnet"] as const;
const MAX_NAME_LENGTH = 200;

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

/** The message for a value of the wrong kind: "expected <what>, got <what it is>". */
export function expected(what: string) {
  return (issue: { input?: unknown }) => `expected ${what}, got ${describe(issue.input)}`;
}

/** An object that refuses keys it does not list, naming the ones it allows. */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape, what: string) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown key ${JSON.stringify(issue.keys[0])} (allowed: ${allowed})`
        : expected(what)(issue),
  });
}

// The gallery's key for the student table: printable and unambiguous.
export const personNameSchema = z.string({ error: expected("a string") }).check(
  z.minLength(1, "must not be empty"),
  z.maxLength(MAX_NAME_LENGTH, `longer than ${MAX_NAME_LENGTH} characters`),
  z.refine((name) => name.trim() === name, {
    error: (issue) => `must not start or end with spaces (${JSON.stringify(issue.input)})`,
  }),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  z.refine((name) => !/[\u0000-\u001f\u007f]/.test(name), {
    error: (issue) => `must not contain control characters (${JSON.stringify(issue.input)})`,
  }),
);

/** Exactly DESCRIPTOR_LENGTH finite numbers (zod's number refuses NaN and the infinities). */
export const descriptorSchema = z
  .array(z.number({ error: expected("a finite number") }), {
    error: expected(`an array of ${DESCRIPTOR_LENGTH} numbers`),
  })
  .check(
    z.length(DESCRIPTOR_LENGTH, {
      error: (issue) => `expected ${DESCRIPTOR_LENGTH} numbers, got ${(issue.input as unknown[]).length}`,
    }),
  );

export const descriptorsSchema = z
  .array(descriptorSchema, { error: expected("an array of descriptors") })
  .check(z.minLength(1, "a person needs at least one descriptor"));

export const smallFaceDescriptorsSchema = z.array(descriptorSchema, { error: expected("an array of descriptors") });
const sourceSchema = z
  .string({ error: expected("a non-empty string") })
  .check(z.minLength(1, { error: expected("a non-empty string") }));
export const sourcesSchema = z.array(sourceSchema, { error: expected("an array of strings") });

const personSchema = strictObject(
  {
    name: personNameSchema,
    // Several descriptors (photos) per person: the distance to a person is to the nearest one.
    descriptors: descriptorsSchema,
    // The same faces shrunk as the small-face search sees a small face: matched to small faces only.
    smallFaceDescriptors: z.optional(smallFaceDescriptorsSchema),
    // The files the descriptors came from: informational, not aligned with descriptors.
    sources: z.optional(sourcesSchema),
  },
  "an object with name and descriptors",
);

const gallerySchema = strictObject(
  {
    format: z.literal(GALLERY_FORMAT, { error: expected(JSON.stringify(GALLERY_FORMAT)) }),
    // A reader refuses versions it does not know rather than guess.
    version: z.literal(GALLERY_VERSION, {
      error: (issue) =>
        `unsupported version ${typeof issue.input === "number" ? issue.input : describe(issue.input)} (this build reads ${GALLERY_VERSION})`,
    }),
    model: z.enum(FACE_MODELS, { error: expected(`one of ${FACE_MODELS.map((m) => JSON.stringify(m)).join(", ")}`) }),
    note: z.optional(z.string({ error: expected("a string") })),
    people: z.array(personSchema, { error: expected("an array") }).check(
      z.superRefine((people, ctx) => {
        const seen = new Map<string, number>();
        people.forEach((person, i) => {
          const first = seen.get(person.name);
          if (first === undefined) seen.set(person.name, i);
          else
            ctx.addIssue({
              code: "custom",
              path: [i, "name"],
              message: `duplicate name ${JSON.stringify(person.name)} (also people[${first}])`,
            });
        });
      }),
    ),
  },
  "a JSON object",
);

export type Gallery = z.output<typeof gallerySchema>;
export type GalleryPerson = Gallery["people"][number];
export type FaceModel = Gallery["model"];

/** `people[3].descriptors[0]` for the path ["people", 3, "descriptors", 0], after `prefix` if any. */
function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (where, key) => (typeof key === "number" ? `${where}[${key}]` : where ? `${where}.${String(key)}` : String(key)),
    prefix,
  );
}

/**
 * `value` checked against `schema`, as a fresh copy; else a GalleryError on the first problem, at
 * `where` (e.g. "name[3]") followed by the path inside the value. A mistyped key is reported
 * before the missing one it explains.
 */
export function check<Schema extends z.ZodMiniType>(schema: Schema, value: unknown, where = ""): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { issues } = result.error;
  const issue = issues.find((i) => i.code === "unrecognized_keys") ?? (issues[0] as z.core.$ZodIssue);
  throw new GalleryError(formatPath(where, issue.path), issue.message);
}

/** Validates parsed JSON as a gallery and returns a fresh copy (the input is not kept). */
export function parseGallery(json: unknown): Gallery {
  return check(gallerySchema, json);
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

/** The compact form the matcher scans (pipeline/match.ts `MatchIndex`). */
export interface GalleryMatchIndex {
  model: FaceModel;
  names: string[];
  /** Person index (into names) of each descriptor row. */
  labels: Int32Array;
  /** labels.length rows of DESCRIPTOR_LENGTH floats. */
  descriptors: Float32Array;
  /** 1 for the rows from smallFaceDescriptors. */
  small: Uint8Array;
}

/** Flattens the gallery into the matcher's compact form (float32 is plenty for distances). */
export function toMatchIndex(gallery: Gallery): GalleryMatchIndex {
  const rows = gallery.people.reduce((n, p) => n + p.descriptors.length + (p.smallFaceDescriptors?.length ?? 0), 0);
  const labels = new Int32Array(rows);
  const small = new Uint8Array(rows);
  const descriptors = new Float32Array(rows * DESCRIPTOR_LENGTH);
  let row = 0;
  gallery.people.forEach((person, p) => {
    const add = (d: number[], isSmall: boolean) => {
      labels[row] = p;
      small[row] = isSmall ? 1 : 0;
      descriptors.set(d, row * DESCRIPTOR_LENGTH);
      row++;
    };
    for (const d of person.descriptors) add(d, false);
    for (const d of person.smallFaceDescriptors ?? []) add(d, true);
  });
  return { model: gallery.model, names: gallery.people.map((p) => p.name), labels, descriptors, small };
}
