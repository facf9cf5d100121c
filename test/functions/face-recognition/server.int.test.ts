// The function through its HTTP server, against the real Ceph RGW and dynalite of the test run.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../../lib/log.js";
import { createFunctionApp, type FunctionApp, serveFunction } from "../../../functions/face-recognition/app.js";
import { readFunctionConfig } from "../../../functions/face-recognition/config.js";
import { saveGallery } from "../../../functions/face-recognition/gallery/storage.js";
import { importGalleryFile } from "../../../functions/face-recognition/gallery-import/import.js";
import type { RunningServer } from "../../../functions/face-recognition/server.js";
import { requireData } from "../../support/data.js";
import { loadStudentsTable, testS3Client } from "../../support/services.js";
import { videoFolders } from "../../support/temp-dirs.js";
import { eventually, waitFor } from "../../support/wait.js";

const data = requireData();
const suffix = Date.now().toString(36);
const input = `fn-in-${suffix}`;
const output = `fn-out-${suffix}`;
const table = `students-${suffix}`;
const token = "test-function-token-7f3a9c";

describe.skipIf(!data)("the function's HTTP server against Ceph RGW", () => {
  const dir = data as string;
  const s3 = testS3Client();
  const log = memoryLogger("face-recognition");
  let server: RunningServer;
  let app: FunctionApp;

  const invoke = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
    fetch(`${server.url}/function/face-recognition`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const read = async (key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: output, Key: key }));
    return (await got.Body?.transformToString()) ?? "";
  };
  const put = (key: string, body: Buffer | string) =>
    s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: body }));
  // The function's temporary files go to a folder of this test's own (other test files run
  // functions in parallel): it must be empty after every video.
  const functionTmp = mkdtempSync(join(tmpdir(), "fn-tmp-"));
  const tempDirs = () => videoFolders(functionTmp);

  beforeAll(async () => {
    process.env.TMPDIR = functionTmp;
    await s3.send(new CreateBucketCommand({ Bucket: input }));
    await s3.send(new CreateBucketCommand({ Bucket: output }));
    const work = await mkdtemp(join(tmpdir(), "fn-test-"));
    const gallery = join(work, "gallery.json");
    await saveGallery(gallery, await importGalleryFile(join(dir, "cse546", "encoding.pickle")));
    // The students table, loaded with the project's own command.
    loadStudentsTable(table, join(dir, "cse546", "student_data.json"));
    const secrets = join(work, "secrets");
    execFileSync("mkdir", ["-p", secrets]);
    writeFileSync(join(secrets, "function-token"), token);
    const config = readFunctionConfig({
      ...process.env,
      PORT: "0",
      INPUT_BUCKET: input,
      OUTPUT_BUCKET: output,
      STUDENTS_TABLE: table,
      GALLERY: gallery,
      SECRETS_DIR: secrets,
      CALLBACK_HOSTS: "127.0.0.1",
    });
    app = await createFunctionApp(config, log);
    server = await serveFunction(app, config, log);
  });

  afterAll(async () => {
    await server?.close();
  });

  it("recognises a video from the input bucket and writes the CSV and JSON to the output bucket", async () => {
    await put("lecture/test 0.mp4", readFileSync(join(dir, "cse546", "videos", "test_0.mp4")));
    expect(tempDirs()).toEqual([]);
    const res = await invoke({ bucket: input, key: "lecture/test 0.mp4" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      people: { name: string }[];
      outputs: string[];
      backend: string;
      timingsMs: Record<string, number>;
    };
    expect(Object.keys(body.timingsMs)).toEqual(["download", "decode", "inference", "students", "upload"]);
    expect(body.people.map((p) => p.name)).toEqual(["president_trump"]);
    expect(body.outputs).toEqual(["lecture/test 0.csv", "lecture/test 0.json"]);
    expect(await read("lecture/test 0.csv")).toBe("name,major,year\r\npresident_trump,physics,junior\r\n");
    const full = JSON.parse(await read("lecture/test 0.json"));
    expect(full).toMatchObject({ video: "lecture/test 0.mp4", backend: body.backend, framesExamined: 4 });
    // The stored result is written before the upload's own time is known.
    expect(Object.keys(full.timingsMs)).toEqual(["download", "decode", "inference", "students"]);
    expect(tempDirs()).toEqual([]);
    const lines = log.lines.filter((l) => l.videoKey === "lecture/test 0.mp4");
    expect(lines.map((l) => l.msg)).toEqual(["video started", "video done"]);
    expect(lines.every((l) => typeof l.requestId === "string")).toBe(true);
  });

  it("accepts an S3 event with several records, Ceph-style (keys not encoded)", async () => {
    await put("test_7.mp4", readFileSync(join(dir, "cse546", "videos", "test_7.mp4")));
    await put("a+b ü.mp4", readFileSync(join(dir, "cse546", "videos", "test_6.mp4")));
    const record = (key: string) => ({
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: input }, object: { key } },
    });
    const res = await invoke({ Records: [record("test_7.mp4"), record("a+b ü.mp4")] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { key: string; people: { name: string }[] }[] };
    expect(body.results.map((r) => [r.key, r.people[0]?.name])).toEqual([
      ["test_7.mp4", "morgan_freeman"],
      ["a+b ü.mp4", "floki"],
    ]);
    expect(await read("a+b ü.csv")).toContain("floki,history,junior");
  });

  it("finds an AWS-style URL-encoded key too", async () => {
    await put("with space.mp4", readFileSync(join(dir, "cse546", "videos", "test_8.mp4")));
    const res = await invoke({ Records: [{ s3: { bucket: { name: input }, object: { key: "with+space.mp4" } } }] });
    expect(res.status).toBe(200);
    expect(await read("with space.csv")).toContain("president_obama");
  });

  it("answers a malformed request with 400 and a message that says what is wrong, and keeps serving", async () => {
    const bad = await invoke("{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not valid JSON/);
    const wrongBucket = await invoke({ bucket: "elsewhere", key: "test_7.mp4" });
    expect(wrongBucket.status).toBe(400);
    expect(((await wrongBucket.json()) as { error: string }).error).toMatch(/is not the input bucket/);
    const health = await fetch(`${server.url}/_/health`);
    expect(health.status).toBe(200);
  });

  it("refuses a video that cannot be processed with 422, writing <stem>.error.json", async () => {
    await put("notes.mp4", "#EXTM3U\n#EXT-X-TARGETDURATION:10\nfile:///etc/passwd\n");
    const res = await invoke({ bucket: input, key: "notes.mp4" });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: string };
    expect(body.error).toBe("not an MP4/MOV video: the content looks like an HLS playlist");
    expect(JSON.parse(await read("notes.error.json"))).toMatchObject({ video: "notes.mp4", error: body.error });
    await expect(s3.send(new HeadObjectCommand({ Bucket: output, Key: "notes.csv" }))).rejects.toThrow();
  });

  it("answers 404 for a key that does not exist", async () => {
    const res = await invoke({ bucket: input, key: "gone.mp4" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/no object "gone.mp4"/);
  });

  it("answers /async-function at once with 202 and posts the result to X-Callback-Url", async () => {
    const received = new Promise<{ status: string | undefined; callId: string | undefined; body: string }>(
      (resolve) => {
        const callbackServer = createServer((req, res) => {
          let body = "";
          req.on("data", (chunk) => {
            body += chunk;
          });
          req.on("end", () => {
            res.end();
            callbackServer.close();
            resolve({
              status: req.headers["x-function-status"] as string,
              callId: req.headers["x-call-id"] as string,
              body,
            });
          });
        }).listen(0, "127.0.0.1");
        callbackServer.on("listening", async () => {
          const { port } = callbackServer.address() as AddressInfo;
          const res = await fetch(`${server.url}/async-function/face-recognition`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "x-callback-url": `http://127.0.0.1:${port}/done` },
            body: JSON.stringify({ bucket: input, key: "test_7.mp4" }),
          });
          expect(res.status).toBe(202);
          callIds.push(res.headers.get("x-call-id") ?? "");
        });
      },
    );
    const callIds: string[] = [];
    const callback = await received;
    expect(callback.status).toBe("200");
    expect(callback.callId).toBe(callIds[0]);
    expect(JSON.parse(callback.body).people[0].name).toBe("morgan_freeman");
  });

  it("abandons a video whose caller leaves: the worker is free for the next video at once", async () => {
    // 200 s of video (test_0 looped), minutes of work: only abandoning it frees the worker.
    const long = join(mkdtempSync(join(tmpdir(), "fn-long-")), "long.mp4");
    execFileSync("ffmpeg", [
      "-v",
      "error",
      "-stream_loop",
      "99",
      "-i",
      join(dir, "cse546", "videos", "test_0.mp4"),
      "-c",
      "copy",
      long,
    ]);
    await put("long lecture.mp4", readFileSync(long));
    const caller = new AbortController();
    const call = fetch(`${server.url}/function/face-recognition`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ bucket: input, key: "long lecture.mp4" }),
      signal: caller.signal,
    }).catch((err: unknown) => err);
    const linesOf = (msg: string) => log.lines.filter((l) => l.videoKey === "long lecture.mp4" && l.msg === msg);
    expect(await eventually(() => linesOf("video started").length === 1)).toBe(true);
    caller.abort();
    await call;
    const [abandoned] = await waitFor(
      () => linesOf("video abandoned"),
      (lines) => lines.length === 1,
    );
    expect(abandoned).toMatchObject({ reason: "the caller closed the request", requestId: expect.any(String) });
    const started = performance.now();
    const next = await invoke({ bucket: input, key: "test_7.mp4" });
    expect(next.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(linesOf("video done")).toEqual([]);
    expect(tempDirs()).toEqual([]);
  });

  it("requires the bearer token when one is configured, and does no work without it", async () => {
    const started = log.lines.filter((l) => l.msg === "video started").length;
    expect((await invoke({ bucket: input, key: "test_7.mp4" }, {})).status).toBe(401);
    expect((await invoke({ bucket: input, key: "test_7.mp4" }, { authorization: "Bearer wrong" })).status).toBe(401);
    expect(log.lines.filter((l) => l.msg === "video started").length).toBe(started);
    expect(JSON.stringify(log.lines)).not.toContain(token);
  });
});
