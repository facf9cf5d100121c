// Must show: with a long poll interval, a video uploaded to a bucket whose notification was set
// up by `trigger setup-notifications` (a real Ceph topic, persistent=false) is invoked within 2 s.
// Also measures the delay from upload to invocation by push and by poll, for the report.
import { GetBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { elapse } from "../support/wait.js";
import type { FunctionProcess, TriggerProcess } from "./support/processes.js";
import { startRealFunction, startTrigger, tinyVideo, triggerCommand } from "./support/processes.js";
import { createBuckets, put, s3Client, triggerEnv, uniqueName } from "./support/services.js";

const POLL_SECONDS = 2;

const input = uniqueName("in-push");
const output = uniqueName("out-push");
let fn: FunctionProcess;
const triggers: TriggerProcess[] = [];

beforeAll(async () => {
  await createBuckets(s3Client(), input, output);
  fn = await startRealFunction("function", { input, output });
});

afterAll(async () => {
  for (const trigger of triggers) await trigger.stop();
  await fn?.stop();
});

/** Uploads keys one by one, at uneven times, and returns ms from upload done to "video started". */
async function delays(keys: string[], trigger: TriggerProcess): Promise<number[]> {
  const s3 = s3Client();
  const video = await tinyVideo();
  const out: number[] = [];
  for (const [i, key] of keys.entries()) {
    await elapse(700 + i * 450); // uneven gaps, so uploads fall at different points of the poll cycle
    await put(s3, input, key, video);
    const uploaded = Date.now();
    const started = await fn
      .waitFor((line) => line.msg === "video started" && line.videoKey === key, 15_000, `"video started" for ${key}`)
      .catch((error: Error) => {
        throw new Error(`${error.message}\n${trigger.name} said:\n${trigger.output.slice(-10).join("\n")}`);
      });
    out.push(Date.parse(String(started.time)) - uploaded);
  }
  return out;
}

const summary = (ms: number[]) =>
  `${ms.map((m) => `${m} ms`).join(", ")} (median ${[...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]} ms)`;

it("a pushed video starts within 2 s despite a 5-minute poll; polling alone takes up to its interval", async () => {
  const pushEnv = triggerEnv({
    bucket: input,
    table: uniqueName("jobs-push"),
    gatewayUrl: fn.url,
    INPUT_PREFIX: "push/",
    POLL_INTERVAL_SECONDS: "300",
  });
  const pollEnv = triggerEnv({
    bucket: input,
    table: uniqueName("jobs-poll"),
    gatewayUrl: fn.url,
    INPUT_PREFIX: "poll/",
    POLL_INTERVAL_SECONDS: String(POLL_SECONDS),
  });
  const [pusher, poller] = await Promise.all([startTrigger("push", pushEnv), startTrigger("poll", pollEnv)]);
  triggers.push(pusher, poller);

  const notifyEnv = {
    ...pushEnv,
    NOTIFY_ENDPOINT: `${pusher.url}/notifications`,
    NOTIFY_TOPIC: uniqueName("videos"),
    NOTIFY_PERSISTENT: "false",
  };
  // Twice: setting it up again must not add a second notification (Ceph would push twice).
  for (let i = 0; i < 2; i++) {
    const setup = await triggerCommand(["setup-notifications"], notifyEnv);
    expect(setup.stderr.split("\n").filter((l) => l.startsWith("{"))).toEqual([]);
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain(`bucket ${input} notifies topic arn:aws:sns:`);
  }
  const config = await s3Client().send(new GetBucketNotificationConfigurationCommand({ Bucket: input }));
  expect(config.TopicConfigurations).toHaveLength(1);
  expect(config.TopicConfigurations?.[0]?.Filter?.Key?.FilterRules).toEqual([{ Name: "prefix", Value: "push/" }]);

  // Push and poll run side by side: each daemon sees only its own prefix.
  const [push, poll] = await Promise.all([
    delays(["push/first.mp4", "push/second clip.mp4", "push/third+ü.mp4"], pusher),
    delays(["poll/first.mp4", "poll/second.mp4", "poll/third.mp4"], poller),
  ]);
  console.log(`upload → invocation by push (poll every 300 s): ${summary(push)}`);
  console.log(`upload → invocation by poll (every ${POLL_SECONDS} s): ${summary(poll)}`);
  for (const ms of push) expect(ms).toBeLessThan(2000);
  for (const ms of poll) expect(ms).toBeLessThan(POLL_SECONDS * 1000 + 2000);

  const pushed = await (await fetch(`${pusher.url}/metrics`)).text();
  expect(pushed).toContain('facerec_trigger_videos_seen_total{source="push"} 3');
  expect(pushed).not.toContain('source="poll"');
  for (const key of ["push/first.mp4", "push/second clip.mp4", "push/third+ü.mp4", "poll/first.mp4"]) {
    expect(fn.started(key), key).toBe(1);
  }
  for (const trigger of triggers) expect(await trigger.kill("SIGTERM")).toEqual({ code: 0, signal: null });
});
