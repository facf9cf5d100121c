// ffmpeg runs started by this process's ffmpeg host (ffmpeg-host.ts says why): the host is forked
// once, while this process is still small, and again should it die. Each run's output reaches this
// process through a Unix socket it listens on, in a folder only its user can enter.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { CodecData } from "../refusals.js";
import type { HostEvent, HostRequest } from "./ffmpeg-host.js";
import { signalQuietly } from "../../../../../lib/process.js";
import { tempDirPrefix } from "../../temp-dirs.js";

export interface RunSpec {
  ffmpegPath: string;
  /** The video file; without one, ffmpeg reads its stdin, fed later by `feed`. */
  file?: string;
  inputOptions: string[];
  /** Options before the output, which is the run's socket. */
  outputOptions: string[];
}

export interface RunListeners {
  stderr(line: string): void;
  codecData(data: CodecData): void;
  /** ffmpeg connected to write its output. */
  output(socket: Socket): void;
  /**
   * ffmpeg is gone; `error` as fluent-ffmpeg reported it when it failed or was killed, or an
   * FfmpegHostError when the host or the socket failed under it (the video is not to blame).
   */
  exit(error?: Error): void;
}

export interface RemoteRun {
  /** The video to stream to a run started without a file. */
  feed(file: string): void;
  kill(): void;
  /** Signals the running ffmpeg directly (no round trip); false when it is not running. */
  signal(name: "SIGSTOP" | "SIGCONT"): boolean;
  /** Whether this run keeps Node running (a decoder started ahead must not). */
  keepProcessAlive(keep: boolean): void;
}

/** The host process died, or ffmpeg's output socket failed: the run did not finish, through no fault of its input. */
export class FfmpegHostError extends Error {}

interface HostedRun {
  listeners: RunListeners;
  pid?: number;
  server: Server;
  keepAlive: boolean;
}

class FfmpegHost {
  private readonly child: ChildProcess;
  private readonly runs = new Map<number, HostedRun>();
  private gone = false;

  constructor(
    private readonly dir: string,
    onExit: () => void,
  ) {
    this.child = fork(hostModule(), [], { env: hostEnv(), stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (event: HostEvent) => this.receive(event));
    const end = (reason: string) => {
      if (this.gone) return;
      this.gone = true;
      onExit();
      for (const [id, run] of this.runs) {
        // Its ffmpeg outlives it: no one else would stop it.
        if (run.pid) signalQuietly(run.pid, "SIGKILL");
        this.settle(id, new FfmpegHostError(reason));
      }
    };
    this.child.on("exit", (code, signal) => end(`the ffmpeg host process exited (${signal ?? `code ${code}`})`));
    this.child.on("error", (err) => end(`the ffmpeg host process failed: ${err.message}`));
    this.child.unref();
    this.updateHold();
  }

  run(spec: RunSpec, listeners: RunListeners): RemoteRun {
    // Numbered for the process, not the host: a new host's runs never reuse a socket's name.
    const id = nextRunId++;
    const socketPath = join(this.dir, `${id}.sock`);
    const server = createServer();
    const run: HostedRun = { listeners, server, keepAlive: true };
    server.once("connection", (socket) => {
      server.close();
      listeners.output(socket);
    });
    server.on("error", (err) => {
      this.send({ op: "kill", id });
      this.settle(id, new FfmpegHostError(`cannot listen for ffmpeg's output on ${socketPath}: ${err.message}`));
    });
    // Bound before ffmpeg is asked to connect.
    server.listen(socketPath);
    this.runs.set(id, run);
    this.updateHold();
    this.send({ op: "run", id, ...spec, output: `unix:${socketPath}` });
    return {
      feed: (file) => this.send({ op: "feed", id, file }),
      kill: () => this.send({ op: "kill", id }),
      signal: (name) => {
        const pid = this.runs.get(id)?.pid;
        return pid !== undefined && signalQuietly(pid, name);
      },
      keepProcessAlive: (keep) => {
        run.keepAlive = keep;
        keep ? server.ref() : server.unref();
        this.updateHold();
      },
    };
  }

  private receive(event: HostEvent): void {
    const run = this.runs.get(event.id);
    if (!run) return;
    if (event.type === "start") run.pid = event.pid;
    else if (event.type === "stderr") run.listeners.stderr(event.line);
    else if (event.type === "codecData") run.listeners.codecData(event.data);
    else this.settle(event.id, event.error === undefined ? undefined : new Error(event.error));
  }

  private settle(id: number, error?: Error): void {
    const run = this.runs.get(id);
    if (!run) return;
    this.runs.delete(id);
    this.updateHold();
    run.server.close();
    run.listeners.exit(error);
  }

  /** The host keeps this process running only while a run that should is on. */
  private updateHold(): void {
    const hold = [...this.runs.values()].some((run) => run.keepAlive);
    hold ? this.child.channel?.ref() : this.child.channel?.unref();
  }

  private send(request: HostRequest): void {
    if (!this.gone && this.child.connected) this.child.send(request);
  }
}

const requireHere = createRequire(import.meta.url);

/**
 * The host's module: the bundle's, beside it in dist/ (scripts/build.mjs); from source, the
 * TypeScript file beside this one, run with this process's TypeScript loader (tsx), which a fork
 * inherits with the rest of node's options.
 */
function hostModule(): string {
  try {
    return requireHere.resolve("./ffmpeg-host.mjs");
  } catch {
    return requireHere.resolve("./ffmpeg-host.ts");
  }
}

/**
 * The host and its ffmpegs get only what they need from the environment: ffmpeg parses untrusted
 * input, and never sees the storage or database credentials.
 */
function hostEnv(): NodeJS.ProcessEnv {
  const keep = ["PATH", "TMPDIR", "LANG", "LC_ALL"];
  return Object.fromEntries(
    keep.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])),
  );
}

let host: FfmpegHost | undefined;
let socketDir: string | undefined;
let nextRunId = 1;

function currentHost(): FfmpegHost {
  if (!socketDir) {
    const dir = mkdtempSync(`${tempDirPrefix()}ffmpeg-`);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    socketDir = dir;
  }
  if (!host) {
    const started: FfmpegHost = new FfmpegHost(socketDir, () => {
      if (host === started) host = undefined;
    });
    host = started;
  }
  return host;
}

/** Starts ffmpeg through the host, which is forked first if there is none. */
export function runFfmpeg(spec: RunSpec, listeners: RunListeners): RemoteRun {
  return currentHost().run(spec, listeners);
}

/** Forks the host now if there is none: best while this process is small. */
export function startFfmpegHost(): void {
  currentHost();
}
