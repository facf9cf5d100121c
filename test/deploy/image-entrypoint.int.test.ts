// The function started as its image starts it: the of-watchdog's fprocess (from the Dockerfile,
// split on spaces as the watchdog does, no shell: node on the bundle `npm run build` makes, built
// first when missing or stale), the image's and stack.yml's environment names,
// and secrets only as files in a folder laid out like /var/openfaas/secrets (SECRETS_DIR). Against
// the test stack's Ceph RGW and dynalite, it processes a video and writes <stem>.csv.
// What differs from the image, on purpose: local endpoints, fresh bucket and table names, a free
// port, and temporary folders for TMPDIR, HOME and the gallery.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDynamoClient } from "../../lib/dynamo.js";
import { createS3Client } from "../../lib/s3.js";
import { requireData } from "../support/data.js";
import { videoFolders } from "../support/temp-dirs.js";
import { ensureBuilt } from "./support/bundle.js";
import { loadRepo } from "./support/repo.js";
import { ROOT, secretFiles } from "./support/scan.js";
import { loadStudents } from "../../lib/students.js";

const data = requireData();
const services = Boolean(process.env.S3_ENDPOINT && process.env.DYNAMODB_ENDPOINT);
if (data && !services)
  console.warn("image-entrypoint: skipped, the test services (Ceph RGW, dynalite) are not running");

const VIDEO = "test_0.mp4";

describe.skipIf(!data || !services)("the function started with the image's command", () => {
  const repo = loadRepo();
  const shipEnv = repo.functionShipEnv;
  const suffix = randomBytes(4).toString("hex");
  const inputBucket = `deploy-in-${suffix}`;
  const outputBucket = `deploy-out-${suffix}`;
  const table = `deploy-students-${suffix}`;
  const token = randomBytes(24).toString("hex");
  const work = mkdtempSync(join(tmpdir(), "facerec-deploy-"));
  const tmp = join(work, "tmp");
  const secretsDir = join(work, "openfaas-secrets");
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  let output = "";
  const s3 = createS3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: "us-east-1",
    accessKeyId: process.env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;

  beforeAll(async () => {
    mkdirSync(tmp);
    mkdirSync(secretsDir);
    port = await freePort();

    // The stack: buckets, students, the video, a gallery from the original encoding file.
    await s3.send(new CreateBucketCommand({ Bucket: inputBucket }));
    await s3.send(new CreateBucketCommand({ Bucket: outputBucket }));
    const db = createDynamoClient({
      endpoint: process.env.DYNAMODB_ENDPOINT,
      region: process.env.AWS_REGION ?? "us-east-1",
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    });
    // With the project's own loader, as the stack and `facerec students load` do.
    await loadStudents(db, table, join(data as string, "cse546/student_data.json"));
    await s3.send(
      new PutObjectCommand({
        Bucket: inputBucket,
        Key: VIDEO,
        Body: readFileSync(join(data as string, "cse546/videos", VIDEO)),
      }),
    );
    const encoding = JSON.parse(readFileSync(join(data as string, "cse546/encoding.json"), "utf8")) as {
      entries: { name: string; descriptor: number[] }[];
    };
    const gallery = {
      format: "facerec-gallery",
      version: 1,
      model: "dlib-resnet",
      note: "test/deploy: cse546 encoding.json",
      people: encoding.entries.map((e) => ({ name: e.name, descriptors: [e.descriptor] })),
    };
    writeFileSync(join(work, "gallery.json"), JSON.stringify(gallery));

    // Secrets: one file per stack.yml secret, named as OpenFaaS mounts them; the value is the test
    // stack's value of the variable the code reads for that file (the token is made here).
    const byFile = secretFiles(repo.functionReads);
    for (const file of repo.fn.secrets ?? []) {
      const variable = byFile.get(file)?.name as string;
      const value = variable === "FUNCTION_TOKEN" ? token : process.env[variable];
      if (value) writeFileSync(join(secretsDir, file), `${value}\n`, { mode: 0o400 });
    }

    // The environment: the image's ENV, then stack.yml's (upper-case names: lower-case ones are
    // the watchdog's), then the local counterparts of a few values.
    const local: Record<string, string> = {
      TMPDIR: tmp,
      GALLERY: join(work, "gallery.json"),
      PORT: String(port),
      S3_ENDPOINT: process.env.S3_ENDPOINT as string,
      INPUT_BUCKET: inputBucket,
      OUTPUT_BUCKET: outputBucket,
      STUDENTS_TABLE: table,
      AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
    };
    const configured = { ...shipEnv, ...repo.env };
    for (const name of Object.keys(local))
      expect(configured, `${name} is set by the image or stack.yml`).toHaveProperty(name);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: work,
      ...Object.fromEntries(
        Object.entries(configured)
          .filter(([k]) => /^[A-Z]/.test(k))
          .map(([k, v]) => [k, String(v)]),
      ),
      ...local,
      // Not in production (DynamoDB is AWS there); the local stack's dynalite.
      DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT as string,
      SECRETS_DIR: secretsDir,
    };
    for (const secret of byFile.values()) expect(env, "secrets come as files only").not.toHaveProperty(secret.name);

    const words = (shipEnv.fprocess as string).split(" ");
    const script = words.find((w, i) => i > 0 && !w.startsWith("-")) as string;
    await ensureBuilt(script);
    child = spawn(words[0] as string, words.slice(1), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => child?.once("exit", (code) => resolve(code)));
    await waitReady(url(shipEnv.ready_path as string), exited, () => output);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  });

  it("answers the watchdog's ready_path", async () => {
    const res = await fetch(url(shipEnv.ready_path as string));
    expect(res.status).toBe(200);
  });

  it("refuses a call without the token it read from the secrets folder", async () => {
    const res = await fetch(url("/"), { method: "POST", body: JSON.stringify({ bucket: inputBucket, key: VIDEO }) });
    expect(res.status).toBe(401);
  });

  it("processes a video and writes <stem>.csv to the output bucket", async () => {
    const res = await fetch(url("/"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ bucket: inputBucket, key: VIDEO }),
    });
    const body = (await res.json()) as { status?: string; outputs?: string[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.outputs).toContain("test_0.csv");
    const csv = await (
      await s3.send(new GetObjectCommand({ Bucket: outputBucket, Key: "test_0.csv" }))
    ).Body?.transformToString();
    const expected = readFileSync(join(data as string, "cse546/expected_person.csv"), "utf8")
      .split("\n")
      .find((line) => line.startsWith(`${VIDEO},`))
      ?.split(",") as string[];
    expect(csv).toContain(`${expected[1]},${expected[2]},${expected[3]}`);
  });

  it("leaves no downloaded video in TMPDIR, and no secret in its logs", () => {
    expect(videoFolders(tmp)).toEqual([]);
    expect(output).not.toContain(token);
    expect(output).not.toContain(process.env.S3_AWS_SECRET_ACCESS_KEY as string);
  });

  it("stops on SIGTERM, as the watchdog stops it", async () => {
    child?.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
    expect(code).toBe(0);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitReady(health: string, exited: Promise<number | null>, log: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the function exited during start:\n${log()}`);
    try {
      if ((await fetch(health)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the function did not become ready:\n${log()}`);
}
