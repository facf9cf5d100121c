// The function run exactly as its image runs it: the real of-watchdog (../shared/tools/openfaas)
// with the Dockerfile's environment and stack.yml's, forking the Dockerfile's fprocess (the bundle
// `npm run build` makes), secrets only as files in a folder laid out like /var/openfaas/secrets.
// Against the test stack's Ceph RGW and dynalite. What differs from the image, on purpose: local
// endpoints, fresh bucket and table names, free ports (upstream_url and PORT move together), and
// temporary folders for TMPDIR, HOME and the gallery. The trigger's invoker calls it as it calls the
// gateway. The watchdog's metrics port is fixed, so this file runs one watchdog at a time.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../lib/net.js";
import { createS3Client } from "../../lib/s3.js";
import { GatewayInvoker } from "../../trigger/invoker.js";
import { requireData } from "../support/data.js";
import { imageEnvironment, stageFunction } from "../support/function-stage.js";
import {
  killWatchdog,
  openfaasTool,
  type StartingWatchdog,
  startWatchdog,
  WATCHDOG_METRICS_PORT,
} from "../support/openfaas.js";
import { childrenOf, exited } from "../../lib/process.js";
import { videoFolders } from "../support/temp-dirs.js";
import { eventually, within } from "../support/wait.js";
import { ensureBuilt } from "./support/bundle.js";
import { loadRepo } from "./support/repo.js";
import { ROOT } from "./support/scan.js";

const data = requireData();
const fwatchdog = openfaasTool("fwatchdog");
const services = Boolean(process.env.S3_ENDPOINT && process.env.DYNAMODB_ENDPOINT);
if (data && !services) console.warn("watchdog: skipped, the test services (Ceph RGW, dynalite) are not running");

const repo = loadRepo();
// The watchdog's own settings are lower-case; stack.yml's environment overrides the image's.
const imageEnv = imageEnvironment();
const VIDEO = "test_0.mp4";
/** A clip that takes a while in `all` mode: calls overlap. */
const LONG_VIDEO = "test_1.mp4";

interface Stage {
  token: string;
  /** Each uploaded video's ETag, as the trigger sends it. */
  etags: Record<string, string>;
  inputBucket: string;
  outputBucket: string;
  env: Record<string, string>;
  work: string;
}

const s3 = () =>
  createS3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: "us-east-1",
    accessKeyId: process.env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });

/** Buckets, students, videos, a gallery, the secrets folder and the environment of one run. */
async function stage(): Promise<Stage> {
  const dir = data as string;
  const staged = await stageFunction("wd", dir);
  const etags: Record<string, string> = {};
  for (const video of [VIDEO, LONG_VIDEO]) {
    const body = readFileSync(join(dir, "cse546/videos", video));
    const put = await s3().send(new PutObjectCommand({ Bucket: staged.inputBucket, Key: video, Body: body }));
    etags[video] = put.ETag as string;
  }
  for (const name of Object.keys(staged.local))
    expect(imageEnv, `${name} is set by the image or stack.yml`).toHaveProperty(name);
  for (const secret of staged.secretVariables)
    expect(staged.env, "secrets come as files only").not.toHaveProperty(secret);
  return { ...staged, etags };
}

/** The watchdog on free ports, forking the image's fprocess; resolves once the function is ready. */
class Watchdog implements StartingWatchdog {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  printed = "";

  constructor(
    readonly port: number,
    env: Record<string, string>,
  ) {
    this.child = spawn(fwatchdog as string, [], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (chunk: Buffer) => (this.printed += chunk.toString()));
    this.child.stderr?.on("data", (chunk: Buffer) => (this.printed += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get ready(): boolean {
    return this.printed.includes('"msg":"ready"');
  }

  static async start(stage: Stage, overrides: Record<string, string> = {}): Promise<Watchdog> {
    const words = (imageEnv.fprocess as string).split(" ");
    await ensureBuilt(words.find((w, i) => i > 0 && !w.startsWith("-")) as string);
    const { port, upstream } = await freePorts(["port", "upstream"]);
    // The image's upstream_url and the function's PORT are one address (checked below); both move here.
    const env = {
      ...stage.env,
      port: String(port),
      upstream_url: `http://127.0.0.1:${upstream}`,
      PORT: String(upstream),
    };
    return startWatchdog(() => new Watchdog(port, { ...env, ...overrides }));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  post(stage: Stage, key: string, path = "/"): Promise<Response> {
    return fetch(this.url(path), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stage.token}` },
      body: JSON.stringify({ bucket: stage.inputBucket, key }),
    });
  }

  async stop(): Promise<void> {
    expect(await killWatchdog(this.child, this.exited), "the watchdog's processes are gone").toBe(true);
  }
}

/** The trigger's invoker, calling the watchdog as it calls the gateway. */
const invokerFor = (watchdog: Watchdog, stage: Stage, timeoutMs = 60_000) =>
  new GatewayInvoker({
    gatewayUrl: watchdog.url(""),
    functionName: repo.functionName,
    mode: "sync",
    timeoutMs,
    token: stage.token,
  });

const metrics = async () => (await fetch(`http://127.0.0.1:${WATCHDOG_METRICS_PORT}/metrics`)).text();

describe("the image's watchdog settings", () => {
  it("point the watchdog at the function's own address, and its health checks at the function", () => {
    expect(imageEnv.mode).toBe("http");
    expect(imageEnv.upstream_url).toBe(`http://${imageEnv.HOST}:${imageEnv.PORT}`);
    expect(imageEnv.ready_path).toBe("/_/health");
    expect(Number(imageEnv.max_inflight)).toBeGreaterThan(0);
    expect(imageEnv.fprocess).toMatch(/^node dist\/[\w-]+\.mjs$/);
  });
});

describe.skipIf(!data || !services || !fwatchdog)("the function behind the real of-watchdog", () => {
  let run: Stage;
  let watchdog: Watchdog;

  beforeAll(async () => {
    run = await stage();
    watchdog = await Watchdog.start(run);
  });

  afterAll(async () => {
    await watchdog?.stop();
    if (run) rmSync(run.work, { recursive: true, force: true });
  });

  it("answers the watchdog's health and readiness (ready_path proxied to the function)", async () => {
    expect((await fetch(watchdog.url("/_/health"))).status).toBe(200);
    expect((await fetch(watchdog.url("/_/ready"))).status).toBe(200);
  });

  it("refuses a call without the token it read from the secrets folder", async () => {
    const res = await fetch(watchdog.url("/"), {
      method: "POST",
      body: JSON.stringify({ bucket: run.inputBucket, key: VIDEO }),
    });
    expect(res.status).toBe(401);
  });

  it("processes a video through the watchdog and writes <stem>.csv to the output bucket", async () => {
    const res = await watchdog.post(run, VIDEO);
    const body = (await res.json()) as { outputs?: string[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.outputs).toContain("test_0.csv");
    const got = await s3().send(new GetObjectCommand({ Bucket: run.outputBucket, Key: "test_0.csv" }));
    const expected = readFileSync(join(data as string, "cse546/expected_person.csv"), "utf8")
      .split("\n")
      .find((line) => line.startsWith(`${VIDEO},`))
      ?.split(",") as string[];
    expect(await got.Body?.transformToString()).toContain(`${expected[1]},${expected[2]},${expected[3]}`);
  });

  it("is called by the trigger's invoker as through the gateway (sync)", async () => {
    const invoker = invokerFor(watchdog, run);
    const outcome = await invoker.invoke({
      video: { bucket: run.inputBucket, key: VIDEO, etag: run.etags[VIDEO] as string },
      jobId: "wd-sync",
    });
    expect(outcome).toMatchObject({ kind: "succeeded", status: 200 });
  });

  it("answers 429 past max_inflight, which the trigger takes as busy (transient), and counts it in its metrics", async () => {
    const limit = Number(imageEnv.max_inflight);
    const invoker = invokerFor(watchdog, run);
    const calls = Array.from({ length: limit + 2 }, (_, i) =>
      invoker.invoke({
        video: { bucket: run.inputBucket, key: LONG_VIDEO, etag: run.etags[LONG_VIDEO] as string },
        jobId: `wd-burst-${i}`,
      }),
    );
    const outcomes = await Promise.all(calls);
    const refused = outcomes.filter((o) => o.status === 429);
    expect(refused.length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(1);
    for (const o of refused) expect(o.kind).toBe("transient");
    expect(outcomes.filter((o) => o.kind === "succeeded").length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o.kind !== "succeeded" && o.status !== 429)).toEqual([]);

    const text = await metrics();
    expect(text).toMatch(new RegExp(`http_requests_total\\{code="429",method="post"\\} ${refused.length}\\b`));
    expect(text).toMatch(/http_requests_total\{code="200",method="post"\} \d+/);
    expect(text).toMatch(/http_requests_in_flight 0\b/);
  });

  it("leaves no downloaded video in TMPDIR, and no secret in its logs", () => {
    expect(videoFolders(run.env.TMPDIR as string)).toEqual([]);
    expect(watchdog.printed).not.toContain(run.token);
    expect(watchdog.printed).not.toContain(process.env.S3_AWS_SECRET_ACCESS_KEY as string);
  });

  it("exits when the function's process dies: the pod restarts, and callers get no answer to retry", async () => {
    const [fn] = childrenOf(watchdog.child.pid as number);
    expect(fn, "the watchdog forked the function").toBeDefined();
    process.kill(fn as number, "SIGKILL");
    await within(watchdog.exited, 15_000, "the watchdog's exit after its function died");
    expect(watchdog.printed).toContain("Forked function has terminated");
    const invoker = invokerFor(watchdog, run, 5_000);
    // The function is absent: a network error, retried by the trigger, not a failed video.
    const outcome = await invoker.invoke({
      video: { bucket: run.inputBucket, key: VIDEO, etag: run.etags[VIDEO] as string },
      jobId: "wd-absent",
    });
    expect(outcome).toMatchObject({ kind: "transient" });
    expect(outcome.kind === "transient" && outcome.reason).toMatch(/ECONNREFUSED/);
    // The function's workers go with it: nothing is left running.
    expect(await eventually(() => childrenOf(watchdog.child.pid as number).every(exited), 10_000)).toBe(true);
  });
});

describe.skipIf(!data || !services || !fwatchdog)("a call longer than the watchdog's exec_timeout", () => {
  let run: Stage;
  let watchdog: Watchdog;

  beforeAll(async () => {
    run = await stage();
    // A timeout shorter than one video in `all` mode; the other settings are the image's.
    watchdog = await Watchdog.start(run, { exec_timeout: "300ms", RECOGNITION_MODE: "all", WORKERS: "1" });
  });

  afterAll(async () => {
    await watchdog?.stop();
    if (run) rmSync(run.work, { recursive: true, force: true });
  });

  it("gets the watchdog's timeout answer, and the function goes on serving", async () => {
    const started = Date.now();
    const res = await watchdog.post(run, LONG_VIDEO);
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The function is still up behind the watchdog, and the next call that fits its time succeeds.
    expect((await fetch(watchdog.url("/_/ready"))).status).toBe(200);
    expect(watchdog.child.exitCode).toBeNull();
  });
});
