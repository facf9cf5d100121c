// What the stack loads into its services: the students table in dynalite, the gallery imported
// from the original encoding.pickle, and the gallery's copy in S3.
import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { dynaliteFiles } from "./components.js";
import { GALLERY_BUCKET, REGION, type StackConfig, stackPaths } from "./config.js";
import { startDynalite } from "./dynalite.js";
import { runScript } from "./services.js";

/** Starts dynalite and (re)loads the students; resolves true when dynalite was already up. */
export async function startStudents(
  config: StackConfig,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<boolean> {
  const dynamo = await startDynalite({ ...dynaliteFiles(config), dataPath: stackPaths(config.dir).dynamodb });
  log(`dynamodb ${dynamo.reused ? "already up" : "started"}: ${dynamo.endpoint}`);
  // Loaded on demand: the SDK is slow to import and `down`/`status` do not need it.
  const [{ createDynamoClient }, { loadStudents }] = await Promise.all([
    import("../../lib/dynamo.js"),
    import("../../lib/students.js"),
  ]);
  const db = createDynamoClient({
    endpoint: env.DYNAMODB_ENDPOINT,
    region: REGION,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  });
  try {
    const loaded = await loadStudents(db, config.studentsTable, config.studentsFile);
    for (const c of loaded.corrections) {
      log(`students: ${c.name}'s year "${c.from}" loaded as "${c.to}" (the grader's spelling)`);
    }
    log(`students: ${loaded.count} records in table ${config.studentsTable} from ${config.studentsFile}`);
  } finally {
    db.destroy();
  }
  return dynamo.reused;
}

/** encoding.pickle → <dir>/gallery.json through the project's own importer; true when already current. */
export async function importGallery(config: StackConfig, log: (line: string) => void): Promise<boolean> {
  const p = stackPaths(config.dir);
  if (!existsSync(config.galleryPickle)) {
    throw new Error(
      `gallery: ${config.galleryPickle} not found (set FACEREC_DATA_DIR, STACK_GALLERY_PICKLE or STACK_GALLERY_FILE)`,
    );
  }
  if (existsSync(p.gallery) && statSync(p.gallery).mtimeMs >= statSync(config.galleryPickle).mtimeMs) return true;
  const partial = join(config.dir, "gallery.partial.json");
  const started = Date.now();
  try {
    await runScript("facerec", ["gallery", "import", config.galleryPickle, "--out", partial], {
      env: {},
      logFile: stackPaths(config.dir).logFile("gallery-import"),
      marker: config.dir,
      timeoutMs: 180_000,
    });
  } catch (error) {
    throw new Error(`gallery import failed: ${(error as Error).message}`, { cause: error });
  }
  if (!existsSync(partial)) throw new Error(`gallery import wrote no ${partial}`);
  renameSync(partial, p.gallery);
  log(`gallery: imported ${config.galleryPickle} in ${Date.now() - started} ms → ${p.gallery}`);
  return false;
}

/** The gallery also in S3, for GALLERY=s3://gallery/gallery.json (as a cloud deployment reads it). */
export async function putGallery(env: Record<string, string>, file: string): Promise<void> {
  const { createS3Client, putText } = await import("../../lib/s3.js");
  const s3 = createS3Client({
    endpoint: env.S3_ENDPOINT,
    region: REGION,
    accessKeyId: env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });
  try {
    await putText(s3, GALLERY_BUCKET, "gallery.json", readFileSync(file, "utf8"), "application/json");
  } finally {
    s3.destroy();
  }
}
