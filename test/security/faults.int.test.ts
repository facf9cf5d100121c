// Faults at the function's level: the output bucket missing, and the function's process (or one
// of its workers) killed mid-video. Each ends, once the part is back, with the video processed
// once and no temporary file or ffmpeg left behind. (Stack-level faults — Ceph RGW and dynalite restarts under the trigger — are
// for test/e2e/faults.test.ts.)
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveGallery } from "../../functions/face-recognition/gallery/storage.js";
import { importGalleryFile } from "../../functions/face-recognition/gallery-import/import.js";
import { requireData } from "../support/data.js";
import { type FunctionProcess, startFunctionProcess, testS3Client } from "../support/services.js";
import { childrenOf, descendantsOf, exited, procStat } from "../../lib/process.js";
import { eventually, waitFor } from "../support/wait.js";
import { foldersOf, videoFolders } from "../support/temp-dirs.js";

const data = requireData();
const suffix = Date.now().toString(36);
const input = `flt-in-${suffix}`;
const output = `flt-out-${suffix}`;

describe.skipIf(!data)("the function under faults", () => {
  const dir = data as string;
  const work = mkdtempSync(join(tmpdir(), "sec-faults-"));
  // The function's own temp folder, so its leftovers can be seen without touching anyone else's.
  const fnTmp = join(work, "tmp");
  const s3 = testS3Client();
  const started: FunctionProcess[] = [];

  async function startFunction(extra: NodeJS.ProcessEnv = {}): Promise<FunctionProcess> {
    const fn = await startFunctionProcess({
      ...process.env,
      TMPDIR: fnTmp,
      PORT: "0",
      WORKERS: "1",
      INPUT_BUCKET: input,
      OUTPUT_BUCKET: output,
      GALLERY: join(work, "gallery.json"),
      STUDENTS_FILE: join(dir, "cse546", "student_data.json"),
      SECRETS_DIR: join(work, "no-secrets"),
      // Every frame: a long decode, so the kill below lands mid-video.
      SAMPLE_FPS: "30",
      ...extra,
    });
    started.push(fn);
    return fn;
  }

  const invoke = async (fn: FunctionProcess, key: string) => {
    const res = await fetch(`${fn.url}/function/face-recognition`, {
      method: "POST",
      body: JSON.stringify({ bucket: input, key }),
      signal: AbortSignal.timeout(90_000),
    });
    return { status: res.status, body: (await res.json()) as { error?: string; outputs?: string[] } };
  };
  const read = async (key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: output, Key: key }));
    return (await got.Body?.transformToString()) ?? "";
  };

  beforeAll(async () => {
    mkdirSync(fnTmp, { recursive: true });
    await s3.send(new CreateBucketCommand({ Bucket: input }));
    await saveGallery(join(work, "gallery.json"), await importGalleryFile(join(dir, "cse546", "encoding.pickle")));
    const video = (name: string) => readFileSync(join(dir, "cse546", "videos", name));
    await s3.send(new PutObjectCommand({ Bucket: input, Key: "a.mp4", Body: video("test_0.mp4") }));
    await s3.send(new PutObjectCommand({ Bucket: input, Key: "long.mp4", Body: video("test_1.mp4") }));
    await s3.send(new PutObjectCommand({ Bucket: input, Key: "junk.mp4", Body: "not a video" }));
    await s3.send(
      new PutObjectCommand({
        Bucket: input,
        Key: "nobody.mp4",
        Body: readFileSync(join(dir, "videos", "no_face_big_buck_bunny.mp4")),
      }),
    );
  });

  afterAll(async () => {
    for (const fn of started) if (fn.proc.exitCode === null && fn.proc.signalCode === null) fn.proc.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  it("the output bucket missing: a temporary failure (503, retry), nothing left behind; processed once it exists", async () => {
    const fn = await startFunction();
    const good = await invoke(fn, "a.mp4");
    expect(good.status).toBe(503);
    expect(good.body.error).toBe("temporary failure: could not write the report: the output bucket does not exist");
    // A refused upload cannot write its error report either: also temporary, so it is retried.
    const junk = await invoke(fn, "junk.mp4");
    expect(junk.status).toBe(503);
    expect(junk.body.error).toBe("not an MP4/MOV video: the content looks like text");
    expect(videoFolders(fnTmp)).toEqual([]);
    console.log(`output bucket missing: ${good.body.error}`);

    await s3.send(new CreateBucketCommand({ Bucket: output }));
    expect((await invoke(fn, "a.mp4")).status).toBe(200);
    expect(await read("a.csv")).toBe("name,major,year\r\npresident_trump,physics,junior\r\n");
    expect((await invoke(fn, "junk.mp4")).status).toBe(422);
    expect(videoFolders(fnTmp)).toEqual([]);
    fn.proc.kill("SIGKILL");
  });

  it("the function killed mid-video: its temporary files are swept by the next process, which processes the video", async () => {
    const first = await startFunction();
    const pending = invoke(first, "long.mp4").catch((err: Error) => err);
    const started = () => first.out.join("").includes('"msg":"video started"') && videoFolders(fnTmp).length > 0;
    if (!(await eventually(started, 30_000))) throw new Error(`never started:\n${first.out.join("")}`);
    // Listened for before the kill: the exit can come before the dropped connection is seen.
    const gone = new Promise((r) => first.proc.once("exit", r));
    first.proc.kill("SIGKILL");
    expect(await pending).toBeInstanceOf(Error); // the connection dropped: the caller retries
    await gone;
    expect(foldersOf(fnTmp, first.proc.pid as number).length).toBeGreaterThan(0);

    const second = await startFunction();
    expect(second.out.join("")).toContain("removed temporary files of dead function processes");
    expect(foldersOf(fnTmp, first.proc.pid as number)).toEqual([]);
    expect(videoFolders(fnTmp)).toEqual([]);
    const retried = await invoke(second, "long.mp4");
    expect(retried.status).toBe(200);
    expect(retried.body.outputs).toEqual(["long.csv", "long.json"]);
    expect(videoFolders(fnTmp)).toEqual([]);
    second.proc.kill("SIGKILL");
  });

  it("a worker killed while its ffmpeg waits stopped (first mode): its ffmpeg host and the ffmpeg exit, another worker processes the video", async () => {
    const fn = await startFunction({ WORKERS: "2", RECOGNITION_MODE: "first" });
    const workers = () => childrenOf(fn.proc.pid as number);
    try {
      // No face in it: first mode reads every frame, and ffmpeg waits stopped while each is analysed.
      const pending = invoke(fn, "nobody.mp4").catch((err: Error) => err);
      const stoppedFfmpeg = () => {
        for (const worker of workers()) {
          const below = descendantsOf(worker);
          const pid = below.find((c) => {
            const p = procStat(c);
            return p?.comm === "ffmpeg" && p.state === "T";
          });
          if (pid) return { pid, worker, below };
        }
        return undefined;
      };
      const held = await waitFor(stoppedFfmpeg, (found) => found !== undefined, 30_000);
      if (!held) throw new Error(`no stopped ffmpeg seen:\n${fn.out.join("")}`);
      process.kill(held.worker, "SIGKILL");
      expect(await pending).toBeInstanceOf(Error);
      expect(await eventually(() => fn.out.join("").includes("worker died, starting another"))).toBe(true);
      // The stopped ffmpeg, the host that started it and any decoder it kept waiting.
      expect(held.below.length).toBeGreaterThanOrEqual(2);
      const { below } = held;
      expect(await eventually(() => below.every(exited))).toBe(true);
      // The replacement serves: the retried video is processed.
      const retried = await invoke(fn, "nobody.mp4");
      expect(retried.status).toBe(200);
      expect(await read("nobody.csv")).toBe("name,major,year\r\n");
    } finally {
      for (const worker of workers()) process.kill(worker, "SIGKILL");
    }
  });
});
