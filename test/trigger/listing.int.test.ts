// Must show: a bucket with more than 1,000 objects (several listing pages) — every video found,
// and processed by the real function; nothing else is.
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FunctionProcess, TriggerProcess } from "./support/processes.js";
import { startRealFunction, startTrigger, tinyVideo } from "./support/processes.js";
import { waitFor } from "../support/wait.js";
import { createBuckets, dynamoStore, inParallel, put, s3Client, triggerEnv, uniqueName } from "./support/services.js";

const input = uniqueName("in-listing");
const output = uniqueName("out-listing");
const table = uniqueName("jobs-listing");
const store = dynamoStore(table);
// Videos at the start, middle and end of the key order, so they fall on different pages.
const videos = [
  "a-first.mp4",
  "frames/0250.mp4",
  "frames/0500 copy.MP4",
  "frames/0750+x.Mp4",
  "frames/0999z.mp4",
  "g/page-two.mp4",
  "zz/100%.mp4",
  "zz/last.mp4",
];
const decoys = ["frames/0100.mp4.csv", "frames/0200.mp4.part", "notes/readme.txt", "zz/clip.mov"];
const noise = Array.from({ length: 1000 }, (_, i) => `frames/${String(i).padStart(4, "0")}.jpg`);
let fn: FunctionProcess;
let trigger: TriggerProcess | undefined;

beforeAll(async () => {
  const s3 = s3Client();
  await createBuckets(s3, input, output);
  const video = await tinyVideo();
  const [started] = await Promise.all([
    startRealFunction("function", { input, output }),
    inParallel([...noise, ...decoys], 16, (key) => put(s3, input, key, "x")),
    inParallel(videos, 4, (key) => put(s3, input, key, video)),
  ]);
  fn = started;
  // The bucket really needs more than one page.
  const first = await s3.send(new ListObjectsV2Command({ Bucket: input }));
  expect(first.IsTruncated).toBe(true);
  expect(first.KeyCount).toBe(1000);
});

afterAll(async () => {
  await trigger?.stop();
  await fn?.stop();
});

it("finds every video across all listing pages, and only videos", async () => {
  trigger = await startTrigger("trigger", triggerEnv({ bucket: input, table, gatewayUrl: fn.url }));
  const jobs = await waitFor(
    () => store.list(),
    (all) => all.filter((job) => job.status === "succeeded").length >= videos.length,
    60_000,
  );
  expect(jobs.map((job) => [job.key, job.status]).sort()).toEqual([...videos].sort().map((key) => [key, "succeeded"]));
  for (const key of videos) expect(fn.started(key), key).toBe(1);
  expect(fn.started()).toBe(videos.length);
  const metrics = await (await fetch(`${trigger.url}/metrics`)).text();
  expect(metrics).toContain(`facerec_trigger_videos_seen_total{source="poll"} ${videos.length}`);
  expect(await trigger.kill("SIGTERM")).toEqual({ code: 0, signal: null });
});
