// The hostile corpus through the function's HTTP server against the real Ceph RGW: each refused
// upload gets 422 with its reason and `<stem>.error.json` beside where the CSV would go, the
// server keeps serving, no temporary file is left, and hostile keys map to safe output names.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../lib/log.js";
import { listAllObjects } from "../../lib/s3.js";
import { createFunctionApp, serveFunction } from "../../functions/face-recognition/app.js";
import { readFunctionConfig } from "../../functions/face-recognition/config.js";
import { saveGallery } from "../../functions/face-recognition/gallery/storage.js";
import { importGalleryFile } from "../../functions/face-recognition/gallery-import/import.js";
import { reportStem } from "../../functions/face-recognition/pipeline/report.js";
import type { RunningServer } from "../../functions/face-recognition/server.js";
import { requireData } from "../support/data.js";
import { buildHostileCorpus, CORPUS_LIMITS, type HostileCase } from "../support/hostile-corpus.js";
import { peakKb } from "./memory.js";
import { testS3Client } from "../support/services.js";
import { videoFolders } from "../support/temp-dirs.js";

const data = requireData();
const suffix = Date.now().toString(36);
const input = `sec-in-${suffix}`;
const output = `sec-out-${suffix}`;

describe.skipIf(!data)("hostile uploads through the function's server", () => {
  const dir = data as string;
  const work = mkdtempSync(join(tmpdir(), "sec-handler-"));
  const s3 = testS3Client();
  const log = memoryLogger("face-recognition");
  let server: RunningServer;
  let cases: HostileCase[];

  const invoke = (body: unknown) =>
    fetch(`${server.url}/function/face-recognition`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const read = async (key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: output, Key: key }));
    return (await got.Body?.transformToString()) ?? "";
  };
  const outputKeys = async () => {
    const keys: string[] = [];
    for await (const o of listAllObjects(s3, output)) keys.push(o.key);
    return keys.sort();
  };
  const tempDirs = () => videoFolders(tmpdir(), process.pid);

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: input }));
    await s3.send(new CreateBucketCommand({ Bucket: output }));
    cases = buildHostileCorpus(work, join(dir, "cse546", "videos", "test_0.mp4"));
    const gallery = join(work, "gallery.json");
    await saveGallery(gallery, await importGalleryFile(join(dir, "cse546", "encoding.pickle")));
    const config = readFunctionConfig({
      ...process.env,
      ...Object.fromEntries(Object.entries(CORPUS_LIMITS).map(([k, v]) => [k, String(v)])),
      PORT: "0",
      INPUT_BUCKET: input,
      OUTPUT_BUCKET: output,
      GALLERY: gallery,
      STUDENTS_FILE: join(dir, "cse546", "student_data.json"),
      SECRETS_DIR: join(work, "no-secrets"),
    });
    const app = await createFunctionApp(config, log);
    server = await serveFunction(app, config, log);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses each hostile upload with 422, its reason, and <stem>.error.json; videos with nobody known get a header-only CSV", async () => {
    for (const c of cases) {
      await s3.send(new PutObjectCommand({ Bucket: input, Key: `hostile/${c.name}.mp4`, Body: readFileSync(c.file) }));
    }
    // Warm the engine on a clean video first, so the peak below is what hostile input adds.
    await s3.send(
      new PutObjectCommand({
        Bucket: input,
        Key: "warm.mp4",
        Body: readFileSync(join(dir, "cse546", "videos", "test_0.mp4")),
      }),
    );
    expect((await invoke({ bucket: input, key: "warm.mp4" })).status).toBe(200);
    const peakBefore = peakKb();
    const report: string[] = [];
    for (const c of cases) {
      const key = `hostile/${c.name}.mp4`;
      const started = performance.now();
      const res = await invoke({ bucket: input, key });
      const ms = Math.round(performance.now() - started);
      const body = (await res.json()) as { status: string; error?: string; outputs: string[]; people?: unknown[] };
      report.push(`${c.name}: ${res.status} ${body.error ?? "header-only CSV"} (${ms} ms)`);
      expect(ms, c.name).toBeLessThan(10_000);
      if (c.reason) {
        expect(res.status, c.name).toBe(422);
        expect(body.error, c.name).toMatch(c.reason);
        expect(body.outputs).toEqual([`hostile/${c.name}.error.json`]);
        expect(JSON.parse(await read(`hostile/${c.name}.error.json`))).toMatchObject({ video: key, error: body.error });
      } else {
        expect(res.status, c.name).toBe(200);
        expect(await read(`hostile/${c.name}.csv`)).toBe("name,major,year\r\n");
      }
    }
    console.log(`hostile corpus through the handler:\n  ${report.join("\n  ")}`);
    // No CSV for any refused upload; nothing but the expected names.
    const expected = cases.flatMap((c) =>
      c.reason ? [`hostile/${c.name}.error.json`] : [`hostile/${c.name}.csv`, `hostile/${c.name}.json`],
    );
    expect((await outputKeys()).filter((k) => k.startsWith("hostile/"))).toEqual(expected.sort());
    expect(tempDirs()).toEqual([]);
    expect((await fetch(`${server.url}/_/health`)).status).toBe(200);
    const grownMb = (peakKb() - peakBefore) / 1024;
    console.log(
      `function process peak: ${Math.round(peakKb() / 1024)} MB, grown by ${Math.round(grownMb)} MB over the corpus`,
    );
    expect(grownMb).toBeLessThan(100);
  });

  it("answers malformed requests, other buckets and missing keys without doing any work, and keeps serving", async () => {
    const started = log.lines.filter((l) => l.msg === "video started").length;
    const before = await outputKeys();
    const answers = [
      [await invoke("{not json"), 400, /^the body is not valid JSON/],
      [await invoke("[1,2]"), 400, /^expected a JSON object/],
      [await invoke({ bucket: input }), 400, /"key" must be a non-empty string/],
      [await invoke({ bucket: output, key: "x.mp4" }), 400, /^bucket ".*" is not the input bucket/],
      [
        await invoke({ Records: [{ s3: { bucket: { name: "other" }, object: { key: "x.mp4" } } }] }),
        400,
        /is not the input bucket/,
      ],
      [await invoke({ bucket: input, key: "no/such/video.mp4" }), 404, /^no object "no\/such\/video.mp4"/],
    ] as const;
    for (const [res, status, reason] of answers) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(reason);
    }
    // Only the missing key got as far as starting a video; none wrote anything.
    expect(log.lines.filter((l) => l.msg === "video started").length).toBe(started + 1);
    expect(await outputKeys()).toEqual(before);
    expect((await fetch(`${server.url}/_/health`)).status).toBe(200);
  });

  it("derives output names from hostile keys exactly and safely", async () => {
    const clip = readFileSync(join(work, "no-face.mp4"));
    // [key, the safe stem it names]: a key that is not exactly `<stem>.mp4` gets `~` and a hash after it.
    const keys: [string, string][] = [
      ["keys/with space.mp4", "keys/with space"],
      ["keys/a+b=c&d.mp4", "keys/a+b=c&d"],
      ["keys/ünïcødé 日本語 😀.mp4", "keys/ünïcødé 日本語 😀"],
      ["keys/../../escape.mp4", "keys/escape~"],
      ["keys/./dot//double.mp4", "keys/dot/double~"],
      ["keys/ctl\u0007bell.mp4", "keys/ctlbell~"],
      ["keys/.hidden", "keys/.hidden~"],
      ["keys/%2e%2e%2fpct.mp4", "keys/%2e%2e%2fpct"],
    ];
    const stems: string[] = [];
    for (const [key, safe] of keys) {
      const stem = reportStem(key);
      if (safe.endsWith("~")) expect(stem, key).toMatch(new RegExp(`^${escapeRegExp(safe)}[0-9a-f]{8}$`));
      else expect(stem, key).toBe(safe);
      stems.push(stem);
      await s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: clip }));
      const res = await invoke({ bucket: input, key });
      expect(res.status, key).toBe(200);
      expect(((await res.json()) as { outputs: string[] }).outputs, key).toEqual([`${stem}.csv`, `${stem}.json`]);
      expect(await read(`${stem}.csv`), key).toBe("name,major,year\r\n");
    }
    const written = (await outputKeys()).filter(
      (k) => !k.startsWith("hostile/") && k !== "warm.csv" && k !== "warm.json",
    );
    expect(written).toEqual(stems.flatMap((stem) => [`${stem}.csv`, `${stem}.json`]).sort());
    expect(written.every((k) => !k.split("/").includes("..") && !k.startsWith("/"))).toBe(true);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
