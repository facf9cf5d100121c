// The gallery file on disk: read with a size bound, written atomically in a diffable layout.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { downloadObject } from "../../../lib/s3.js";
import { type Gallery, GalleryError, parseGallery, parseGalleryText } from "./format.js";

/** 10,000 people × 128 numbers × ~22 characters is ~28 MB: generous, but bounded. */
const MAX_GALLERY_BYTES = 64 * 1024 * 1024;

/** Refuses a file over MAX_GALLERY_BYTES before reading it. */
export async function checkGallerySize(path: string): Promise<void> {
  const { size } = await stat(path);
  if (size > MAX_GALLERY_BYTES) {
    throw new GalleryError("", `file is ${size} bytes; the limit is ${MAX_GALLERY_BYTES}`, path);
  }
}

/** Reads and validates a gallery file; errors name the file and the place in it. */
export async function loadGallery(path: string): Promise<Gallery> {
  await checkGallerySize(path);
  return parseGalleryText(await readFile(path, "utf8"), path);
}

/** A gallery from a file, or from `s3://bucket/key` through the given client, with the same bound. */
export async function readGallery(location: string, s3?: S3Client): Promise<Gallery> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  const [, bucket, key] = match ?? [];
  if (!bucket || !key) return loadGallery(location);
  if (!s3) throw new Error(`GALLERY=${location} needs the S3 settings`);
  const dir = await mkdtemp(join(tmpdir(), "gallery-"));
  try {
    const file = join(dir, "gallery.json");
    await downloadObject(s3, bucket, key, file, MAX_GALLERY_BYTES);
    return parseGalleryText(await readFile(file, "utf8"), location);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pretty JSON with one descriptor per line: diffable, and numbers round-trip exactly. */
function serializeGallery(gallery: Gallery): string {
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
