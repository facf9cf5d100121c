// The local stack brought up and down programmatically, on free ports in a temp dir (never the
// developer's .stack or default ports). Needs the Ceph packages (scripts/setup.sh). The full-stack
// case also needs the shared data (FACEREC_DATA_DIR: encoding.pickle, student_data.json) and the
// function and trigger entry points; it is skipped without the data.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MARKER_ENV } from "../../lib/daemon.js";
import { freePorts } from "../../lib/net.js";
import type { StackPorts } from "../../scripts/stack/config.js";
import { stackDown, stackStatus, stackUp } from "../../scripts/stack/stack.js";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { FUNCTION_NAME } from "../../functions/face-recognition/app.js";
import { createS3Client } from "../../lib/s3.js";
import { dataDir } from "../../lib/shared-data.js";
import { openfaasTool } from "../support/openfaas.js";
import { waitFor } from "../support/wait.js";

const root = mkdtempSync(join(tmpdir(), "stack-e2e-"));
const faasCli = dataDir() ? openfaasTool("faas-cli") : undefined;
const quiet = () => undefined;

afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
});

async function stackPorts(): Promise<StackPorts> {
  const msBindMin = 40_000 + Math.floor(Math.random() * 50) * 100;
  const msBindMax = msBindMin + 99;
  const names = ["rgw", "monV2", "monV1", "dynamodb", "function", "trigger"] as const;
  return { ...(await freePorts(names, { min: msBindMin, max: msBindMax })), msBindMin, msBindMax };
}

/** Every live process started for a stack in `dir` (Ceph's daemons carry `<dir>/ceph`). */
function processesOf(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.some((v) => v === `${MARKER_ENV}=${dir}` || v.startsWith(`${MARKER_ENV}=${dir}/`))) {
        pids.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe("stack (ceph + dynamodb)", () => {
  it("comes up, is reused, repairs what is down, and goes down leaving nothing", async () => {
    const dir = join(root, "infra");
    const studentsFile = join(root, "students.json");
    writeFileSync(studentsFile, JSON.stringify([{ id: 1, name: "mr_bean", major: "lawyer", year: "freshmen" }]));
    const options = {
      dir,
      services: ["ceph", "dynamodb"] as const,
      ports: await stackPorts(),
      studentsFile,
      env: {},
      log: quiet,
    };
    const up = await stackUp({ ...options, services: [...options.services] });
    expect(up.started.sort()).toEqual(["ceph", "dynamodb"]);
    expect(up.components.map((c) => [c.name, c.state])).toEqual([
      ["ceph", "up"],
      ["dynamodb", "up"],
      ["function", "off"],
      ["trigger", "off"],
    ]);
    // The env file of a stack outside the default dir stays in that dir.
    expect(up.config.envFile).toBe(join(dir, "stack.env"));
    const envFile = readFileSync(up.config.envFile, "utf8");
    expect(envFile).toContain(`S3_ENDPOINT=http://127.0.0.1:${options.ports.rgw}\n`);
    expect(envFile).toContain(`DYNAMODB_ENDPOINT=http://127.0.0.1:${options.ports.dynamodb}\n`);
    expect(envFile).not.toMatch(/AKIA/);

    const again = await stackUp({ ...options, services: [...options.services] });
    expect(again.started).toEqual([]);

    const dynalitePid = up.components.find((c) => c.name === "dynamodb")?.pids[0];
    if (!dynalitePid || dynalitePid <= 1) throw new Error("no dynalite pid"); // never kill(-1) or kill(0)
    process.kill(dynalitePid, "SIGKILL");
    const dynamodbState = async () =>
      (await stackStatus({ dir, env: {} })).components.find((c) => c.name === "dynamodb")?.state;
    expect(await waitFor(dynamodbState, (state) => state === "down", 10_000)).toBe("down");
    const repaired = await stackUp({ ...options, services: [...options.services] });
    expect(repaired.started).toEqual(["dynamodb"]);

    expect(processesOf(dir).length).toBe(4); // mon, osd, rgw, dynalite
    const down = await stackDown({ dir, env: {} });
    expect(down.stopped.sort()).toEqual(["ceph", "dynamodb"]);
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

/** The real faas-cli against the stack's gateway-style paths, as the README shows. */
async function invokeWithFaasCli(env: Record<string, string | undefined>, cli: string): Promise<void> {
  const s3 = createS3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION ?? "us-east-1",
    accessKeyId: env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });
  const video = "test_0.mp4";
  const body = readFileSync(join(dataDir() as string, "cse546/videos", video));
  await s3.send(new PutObjectCommand({ Bucket: env.INPUT_BUCKET, Key: `faas-cli/${video}`, Body: body }));
  const invoke = (key: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(cli, ["invoke", FUNCTION_NAME, "--gateway", env.OPENFAAS_URL as string], {
        env: { PATH: process.env.PATH, HOME: root },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(JSON.stringify({ bucket: env.INPUT_BUCKET, key }));
    });
  const done = await invoke(`faas-cli/${video}`);
  expect(done.code, done.stderr).toBe(0);
  const expected = readFileSync(join(dataDir() as string, "cse546/expected_person.csv"), "utf8")
    .split("\n")
    .find((line) => line.startsWith(`${video},`))
    ?.split(",")[1] as string;
  // faas-cli may print a notice first ("Failed to lookup auth config": no `faas-cli login` here).
  expect(
    (JSON.parse(done.stdout.slice(done.stdout.indexOf("{"))) as { people: { name: string }[] }).people.map(
      (p) => p.name,
    ),
  ).toEqual([expected]);
  // A key that does not exist: faas-cli reports the function's 404 and exits non-zero.
  const missing = await invoke("faas-cli/no-such-video.mp4");
  expect(missing.code).not.toBe(0);
  expect(missing.stdout + missing.stderr).toContain("404");
}

describe.runIf(dataDir())("stack (all services; needs the shared data, the function and the trigger)", () => {
  it("brings up ceph, dynamodb, the function and the trigger, then takes them down", async () => {
    const dir = join(root, "full");
    const up = await stackUp({ dir, ports: await stackPorts(), env: { FACEREC_DATA_DIR: dataDir() }, log: quiet });
    try {
      expect(up.components.map((c) => [c.name, c.state])).toEqual([
        ["ceph", "up"],
        ["dynamodb", "up"],
        ["function", "up"],
        ["trigger", "up"],
      ]);
      const health = await fetch(`${up.env.OPENFAAS_URL}/_/health`);
      expect(health.status).toBe(200);
      expect(existsSync(up.env.GALLERY ?? "")).toBe(true);
      if (faasCli) await invokeWithFaasCli(up.env, faasCli);
    } finally {
      await stackDown({ dir, env: {} });
    }
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
