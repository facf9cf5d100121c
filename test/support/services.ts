// Reaching the real services of a test run.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../lib/s3.js";
import { freePorts } from "../../lib/net.js";
import { within } from "./wait.js";

/** An S3 client for the test run's Ceph RGW (global-setup.ts puts its settings in process.env). */
export function testS3Client(): S3Client {
  return createS3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: "us-east-1",
    accessKeyId: process.env.S3_AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.S3_AWS_SECRET_ACCESS_KEY ?? "",
  });
}

/** The settings for a private local stack in `dir` on free ports, beside any other stack. */
export async function privateStackEnv(dir: string): Promise<Record<string, string | undefined>> {
  const msBindMin = 21_000 + Math.floor(Math.random() * 80) * 100;
  const ports = await freePorts(["rgw", "mon", "monV1", "dynamodb", "fn", "trigger"], {
    min: msBindMin,
    max: msBindMin + 99,
  });
  return {
    ...process.env,
    STACK_DIR: dir,
    STACK_RGW_PORT: String(ports.rgw),
    STACK_MON_PORT: String(ports.mon),
    STACK_MON_V1_PORT: String(ports.monV1),
    STACK_MS_PORT_MIN: String(msBindMin),
    STACK_MS_PORT_MAX: String(msBindMin + 99),
    STACK_DYNAMODB_PORT: String(ports.dynamodb),
    STACK_FUNCTION_PORT: String(ports.fn),
    STACK_TRIGGER_PORT: String(ports.trigger),
  };
}

/** Creates and loads a students table with the project's own command (`facerec students load`). */
export function loadStudentsTable(table: string, studentsFile: string): void {
  execFileSync(
    "npx",
    ["tsx", "functions/face-recognition/cli.ts", "students", "load", studentsFile, "--table", table],
    {
      env: process.env,
      stdio: "pipe",
    },
  );
}

/** A function process started from the sources, and what it printed. */
export interface FunctionProcess {
  url: string;
  out: string[];
  proc: ChildProcess;
}

/**
 * Starts the function as node itself (not npx: the pid is the function's, so a signal reaches it)
 * with this environment, and waits for the URL it logs when ready.
 */
export async function startFunctionProcess(env: NodeJS.ProcessEnv, label = "the function"): Promise<FunctionProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", "functions/face-recognition/index.ts"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const fn: FunctionProcess = { url: "", out: [], proc };
  const ready = new Promise<string>((resolve, reject) => {
    // The whole output is searched (the line may span chunks), but only until the url is found:
    // the process logs for the rest of the test.
    let found = false;
    const collect = (chunk: Buffer) => {
      fn.out.push(chunk.toString());
      const url = found ? undefined : /"url":"(http:[^"]+)"/.exec(fn.out.join(""))?.[1];
      if (url) {
        found = true;
        resolve(url);
      }
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    proc.once("exit", (code, signal) => reject(new Error(`exited (${code ?? signal})`)));
  });
  try {
    fn.url = await within(ready, 90_000, label);
  } catch (error) {
    proc.kill("SIGKILL");
    throw new Error(`${label} did not start: ${(error as Error).message}\n${fn.out.join("")}`);
  }
  return fn;
}
