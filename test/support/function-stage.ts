// One run of the function as its image runs it, staged against the test stack: fresh buckets and
// students table, the CSE546 gallery, a secrets folder laid out like /var/openfaas/secrets, and the
// environment of the Dockerfile and stack.yml with the test stack's endpoints.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createDynamoClient } from "../../lib/dynamo.js";
import { loadStudents } from "../../lib/students.js";
import { loadRepo } from "../deploy/support/repo.js";
import { secretFiles } from "../deploy/support/scan.js";
import { cse546Gallery } from "./fixtures.js";
import { testS3Client } from "./services.js";

export interface FunctionStage {
  token: string;
  inputBucket: string;
  outputBucket: string;
  /** The watchdog's and the function's environment. */
  env: Record<string, string>;
  /** The settings this run sets beyond the image's: each must be one the image or stack.yml sets. */
  local: Record<string, string>;
  /** Secrets by variable name, as the function reads them from their files. */
  secretVariables: string[];
  work: string;
}

/** The image's environment: the Dockerfile's, overridden by stack.yml's. */
export function imageEnvironment(repo = loadRepo()): Record<string, string> {
  return Object.fromEntries(Object.entries({ ...repo.functionShipEnv, ...repo.env }).map(([k, v]) => [k, String(v)]));
}

export async function stageFunction(
  prefix: string,
  data: string,
  overrides: Record<string, string> = {},
): Promise<FunctionStage> {
  const repo = loadRepo();
  const suffix = randomBytes(4).toString("hex");
  const inputBucket = `${prefix}-in-${suffix}`;
  const outputBucket = `${prefix}-out-${suffix}`;
  const studentsTable = `${prefix}-students-${suffix}`;
  const token = randomBytes(24).toString("hex");
  const work = mkdtempSync(join(tmpdir(), `facerec-${prefix}-`));
  const secretsDir = join(work, "openfaas-secrets");
  for (const dir of [secretsDir, join(work, "tmp")]) mkdirSync(dir);

  const s3 = testS3Client();
  const db = createDynamoClient({
    endpoint: process.env.DYNAMODB_ENDPOINT,
    region: process.env.AWS_REGION ?? "us-east-1",
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  });
  try {
    for (const Bucket of [inputBucket, outputBucket]) await s3.send(new CreateBucketCommand({ Bucket }));
    await loadStudents(db, studentsTable, join(data, "cse546/student_data.json"));
  } finally {
    s3.destroy();
    db.destroy();
  }
  writeFileSync(join(work, "gallery.json"), cse546Gallery(data));

  // One file per stack.yml secret, named as OpenFaaS mounts them: the test stack's value of the
  // variable the code reads for that file (the token is made here).
  const byFile = secretFiles(repo.functionReads);
  for (const file of repo.fn.secrets ?? []) {
    const variable = byFile.get(file)?.name as string;
    const value = variable === "FUNCTION_TOKEN" ? token : process.env[variable];
    if (value) writeFileSync(join(secretsDir, file), `${value}\n`, { mode: 0o400 });
  }

  const local: Record<string, string> = {
    // The watchdog's lock file and the function's downloads stay in this run's folder.
    TMPDIR: join(work, "tmp"),
    GALLERY: join(work, "gallery.json"),
    S3_ENDPOINT: process.env.S3_ENDPOINT as string,
    INPUT_BUCKET: inputBucket,
    OUTPUT_BUCKET: outputBucket,
    STUDENTS_TABLE: studentsTable,
    AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
  };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: work,
    ...imageEnvironment(repo),
    ...local,
    // Not in production (DynamoDB is AWS there); the test stack's dynalite.
    DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT as string,
    SECRETS_DIR: secretsDir,
    ...overrides,
  };
  const secretVariables = [...byFile.values()].map((s) => s.name);
  return { token, inputBucket, outputBucket, env, local, secretVariables, work };
}
