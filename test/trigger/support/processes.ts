// Real processes for the tests: the trigger daemon (so kill -9 is real) and the real function
// server, each with its JSON log lines collected for assertions.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../../../lib/net.js";
import { requireEnv } from "./services.js";

const ROOT = resolve(import.meta.dirname, "../../..");

export type LogLine = Record<string, unknown> & { msg?: string; time?: string };

export class LoggedProcess {
  readonly lines: LogLine[] = [];
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
    const onData = (chunk: Buffer) => {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (!text.trim()) continue;
        this.output.push(text);
        if (process.env.TRIGGER_TEST_ECHO) console.log(`[${name}] ${text}`);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        line.receivedAt = Date.now();
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    };
    // Lines can be split across chunks: buffer per stream.
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      // Decodes across chunk boundaries: a key's "ü" may be split between two reads.
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        const text = rest + chunk;
        const end = text.lastIndexOf("\n");
        rest = end < 0 ? text : text.slice(end + 1);
        if (end >= 0) onData(Buffer.from(text.slice(0, end + 1)));
      });
    }
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The first line (already seen or still to come) that passes test. */
  waitFor(test: (line: LogLine) => boolean, timeoutMs: number, what = "a log line"): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.name}: no ${what} within ${timeoutMs} ms; last output:\n${this.output.slice(-15).join("\n")}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        test,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolvePromise(line);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then(({ code, signal }) => {
        if (!this.waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(
          new Error(`${this.name} exited (${code ?? signal}) before ${what}:\n${this.output.slice(-15).join("\n")}`),
        );
      });
    });
  }

  /** Signals this process only (never by name); resolves when it has exited. */
  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /** For afterAll: SIGKILL if still running. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

function spawnTs(name: string, script: string, args: string[], env: Record<string, string>): LoggedProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new LoggedProcess(name, child);
}

export interface TriggerProcess extends LoggedProcess {
  port: number;
  url: string;
}

/** `trigger run` as a child process; resolves once it listens (TRIGGER_PORT=0 picks a free port). */
export async function startTrigger(name: string, env: Record<string, string>): Promise<TriggerProcess> {
  const proc = spawnTs(name, "trigger/cli.ts", ["run"], env);
  try {
    const started = await proc.waitFor((line) => line.msg === "trigger started", 30_000, '"trigger started"');
    const port = started.port as number;
    return Object.assign(proc, { port, url: `http://127.0.0.1:${port}` });
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** A one-shot trigger command (status, retry, setup-notifications): its exit code and output. */
export async function triggerCommand(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "trigger/cli.ts", ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
  return { code, stdout, stderr };
}

export interface FunctionProcess extends LoggedProcess {
  url: string;
  /** "video started" lines per key: the function-side count of invocations. */
  started(key?: string): number;
}

/**
 * The real function server (functions/face-recognition/index.ts) for one input and output bucket,
 * with an empty gallery (every video is processed; nobody is recognized), on a free port.
 */
export async function startRealFunction(
  name: string,
  buckets: { input: string; output: string },
  extraEnv: Record<string, string> = {},
): Promise<FunctionProcess> {
  const dir = mkdtempSync(join(tmpdir(), "trigger-fn-"));
  const gallery = join(dir, "gallery.json");
  const students = join(dir, "students.json");
  writeFileSync(gallery, JSON.stringify({ format: "facerec-gallery", version: 1, model: "dlib-resnet", people: [] }));
  writeFileSync(students, JSON.stringify([{ id: 1, name: "nobody", major: "none", year: "freshman" }]));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    HOST: "127.0.0.1",
    PORT: String(await freePort()),
    WORKERS: "1",
    GALLERY: gallery,
    STUDENTS_FILE: students,
    S3_ENDPOINT: requireEnv("S3_ENDPOINT"),
    S3_AWS_ACCESS_KEY_ID: requireEnv("S3_AWS_ACCESS_KEY_ID"),
    S3_AWS_SECRET_ACCESS_KEY: requireEnv("S3_AWS_SECRET_ACCESS_KEY"),
    INPUT_BUCKET: buckets.input,
    OUTPUT_BUCKET: buckets.output,
    SECRETS_DIR: "/nonexistent-facerec-secrets",
    ...extraEnv,
  };
  const proc = spawnTs(name, "functions/face-recognition/index.ts", [], env);
  const stop = proc.stop.bind(proc);
  proc.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ready = await proc.waitFor((line) => line.msg === "ready", 120_000, 'the function\'s "ready"');
    return Object.assign(proc, {
      url: String(ready.url),
      started: (key?: string) =>
        proc.lines.filter((line) => line.msg === "video started" && (key === undefined || line.videoKey === key))
          .length,
    });
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

let video: Promise<Buffer> | undefined;

/** A real, tiny MP4 (half a second of 64×64 grey, made by ffmpeg once per test file). */
export function tinyVideo(): Promise<Buffer> {
  video ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "trigger-video-"));
    const file = join(dir, "tiny.mp4");
    await new Promise<void>((done, fail) => {
      const ff = spawn(
        "ffmpeg",
        ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=0.5:r=2"].concat([
          "-c:v",
          "libx264",
          "-pix_fmt",
          "yuv420p",
          "-movflags",
          "+faststart",
          file,
        ]),
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      ff.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      ff.once("exit", (code) => (code === 0 ? done() : fail(new Error(`ffmpeg failed (${code}): ${err}`))));
    });
    const bytes = readFileSync(file);
    rmSync(dir, { recursive: true, force: true });
    return bytes;
  })();
  return video;
}
