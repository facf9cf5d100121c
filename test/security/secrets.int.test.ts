// No credential in any log line, error result, response or output object. The function runs as
// its own process (`index.ts`, as in the stack) with every credential in secret files carrying
// distinctive values, through a batch that includes each kind of failure: a wrong or missing
// token, refused uploads, a missing key, the database down, and storage refusing the credentials.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllObjects } from "../../lib/s3.js";
import { saveGallery } from "../../functions/face-recognition/gallery/storage.js";
import { importGalleryFile } from "../../functions/face-recognition/gallery-import/import.js";
import { requireData } from "../support/data.js";
import { type FunctionProcess, loadStudentsTable, startFunctionProcess, testS3Client } from "../support/services.js";

const data = requireData();
const suffix = Date.now().toString(36);
const input = `secr-in-${suffix}`;
const output = `secr-out-${suffix}`;
const table = `secr-students-${suffix}`;
const mark = Math.random().toString(36).slice(2, 10);
const TOKEN = `TOKEN-SECRET-${mark}-f00d`;
const DYNAMO_KEY_ID = `DYNAMOKEYID${mark}`;
const DYNAMO_SECRET = `DYNAMO-SECRET-${mark}-beef`;
const WRONG_S3_SECRET = `WRONG-S3-SECRET-${mark}-cafe`;

describe.skipIf(!data)("secrets never leak", () => {
  const dir = data as string;
  const work = mkdtempSync(join(tmpdir(), "sec-secrets-"));
  const s3Secret = process.env.S3_AWS_SECRET_ACCESS_KEY ?? "";
  const s3KeyId = process.env.S3_AWS_ACCESS_KEY_ID ?? "";
  const secretValues = () => [TOKEN, DYNAMO_KEY_ID, DYNAMO_SECRET, WRONG_S3_SECRET, s3Secret];
  const s3 = testS3Client();
  const started: FunctionProcess[] = [];
  const responses: string[] = [];

  /** The function's process with its credentials in secret files only (none in the environment). */
  async function startFunction(
    name: string,
    overrides: { s3Secret?: string; dynamoEndpoint?: string },
  ): Promise<FunctionProcess> {
    const secrets = join(work, `secrets-${name}`);
    mkdirSync(secrets, { recursive: true });
    const files: Record<string, string> = {
      "function-token": TOKEN,
      "s3-access-key-id": s3KeyId,
      "s3-secret-access-key": overrides.s3Secret ?? s3Secret,
      "aws-access-key-id": DYNAMO_KEY_ID,
      "aws-secret-access-key": DYNAMO_SECRET,
    };
    for (const [file, value] of Object.entries(files)) writeFileSync(join(secrets, file), value);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ["S3_AWS_ACCESS_KEY_ID", "S3_AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
      delete env[k];
    Object.assign(env, {
      SECRETS_DIR: secrets,
      PORT: "0",
      WORKERS: "1",
      INPUT_BUCKET: input,
      OUTPUT_BUCKET: output,
      STUDENTS_TABLE: table,
      GALLERY: join(work, "gallery.json"),
      DYNAMODB_ENDPOINT: overrides.dynamoEndpoint ?? process.env.DYNAMODB_ENDPOINT,
      LOG_LEVEL: "debug",
    });
    const fn = await startFunctionProcess(env, `function ${name}`);
    started.push(fn);
    return fn;
  }

  /** SIGTERM (the function drains), SIGKILL after 10 s. */
  function stop(fn: FunctionProcess): Promise<unknown> {
    if (fn.proc.exitCode !== null || fn.proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise((r) => fn.proc.once("exit", r));
    fn.proc.kill("SIGTERM");
    const timer = setTimeout(() => fn.proc.kill("SIGKILL"), 10_000);
    return exited.finally(() => clearTimeout(timer));
  }

  async function invoke(fn: FunctionProcess, body: unknown, token: string | null = TOKEN) {
    const res = await fetch(`${fn.url}/function/face-recognition`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    responses.push(JSON.stringify([...res.headers]), text);
    return { status: res.status, body: JSON.parse(text) as { error?: string; people?: { name: string }[] } };
  }

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: input }));
    await s3.send(new CreateBucketCommand({ Bucket: output }));
    await saveGallery(join(work, "gallery.json"), await importGalleryFile(join(dir, "cse546", "encoding.pickle")));
    loadStudentsTable(table, join(dir, "cse546", "student_data.json"));
    const put = (key: string, body: Buffer | string) =>
      s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: body }));
    await put("good.mp4", readFileSync(join(dir, "cse546", "videos", "test_0.mp4")));
    await put("junk.mp4", "plain text, not a video");
    await put("list.mp4", "#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n");
  });

  afterAll(async () => {
    await Promise.all(started.map(stop));
    rmSync(work, { recursive: true, force: true });
  });

  it("a batch with every kind of failure leaves no credential in logs, results, responses or outputs", {
    timeout: 240_000,
  }, async () => {
    const ok = await startFunction("ok", {});
    expect((await invoke(ok, { bucket: input, key: "good.mp4" })).body.people?.map((p) => p.name)).toEqual([
      "president_trump",
    ]);
    expect((await invoke(ok, { bucket: input, key: "good.mp4" }, null)).status).toBe(401);
    expect((await invoke(ok, { bucket: input, key: "good.mp4" }, `${TOKEN}x`)).status).toBe(401);
    expect((await invoke(ok, { bucket: input, key: "junk.mp4" })).status).toBe(422);
    expect((await invoke(ok, { bucket: input, key: "list.mp4" })).status).toBe(422);
    expect((await invoke(ok, { bucket: input, key: "gone.mp4" })).status).toBe(404);
    expect((await invoke(ok, { bucket: "not-input", key: "good.mp4" })).status).toBe(400);
    await stop(ok);

    // The database unreachable: a temporary failure with a plain reason.
    const noDb = await startFunction("no-db", { dynamoEndpoint: "http://127.0.0.1:9" });
    const dbDown = await invoke(noDb, { bucket: input, key: "good.mp4" });
    expect(dbDown.status).toBe(503);
    expect(dbDown.body.error).toMatch(/^temporary failure: /);
    await stop(noDb);

    // Storage refusing the credentials (a wrong secret): the signature error must not echo it.
    const badS3 = await startFunction("bad-s3", { s3Secret: WRONG_S3_SECRET });
    const denied = await invoke(badS3, { bucket: input, key: "good.mp4" });
    expect(denied.status).toBe(503);
    expect(denied.body.error).toBe(
      `temporary failure: the storage refused access to bucket "${input}" (HTTP 403): check the S3 credentials`,
    );
    await stop(badS3);
    console.log(`database down: ${dbDown.body.error}\nstorage credentials refused: ${denied.body.error}`);

    const outputs: string[] = [];
    for await (const o of listAllObjects(s3, output)) {
      const got = await s3.send(new GetObjectCommand({ Bucket: output, Key: o.key }));
      outputs.push(o.key, (await got.Body?.transformToString()) ?? "");
    }
    expect(outputs.filter((_, i) => i % 2 === 0).sort()).toEqual([
      "good.csv",
      "good.json",
      "junk.error.json",
      "list.error.json",
    ]);
    const logs = started.map((fn) => fn.out.join("")).join("\n");
    // The logs did record the failures (so the search below searched something real).
    expect(logs).toMatch(/video refused/);
    expect(logs).toMatch(/video failed/);
    expect(logs).toMatch(/request refused: missing or wrong bearer token/);
    const everything = [logs, ...responses, ...outputs].join("\n");
    for (const secret of secretValues()) {
      expect(secret.length).toBeGreaterThan(8);
      expect(everything.includes(secret), `a credential (${secret.slice(0, 4)}…) leaked`).toBe(false);
    }
  });
});
