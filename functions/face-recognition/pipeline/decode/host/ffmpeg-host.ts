// The small process that starts ffmpeg for a function process (ffmpeg-remote.ts forks it, one per
// process). Why a process of its own: Node starts a program by forking the process that asks, and
// after a fork of the big function process each page it writes costs it a fault (copy-on-write),
// on every video's inference (README, speed). Forked from this one instead, ffmpeg costs the
// function process nothing. fluent-ffmpeg runs here; the frames go from ffmpeg straight
// to the function process through a Unix socket that process listens on, never through here.
import type { ChildProcess } from "node:child_process";
import { createReadStream, type ReadStream } from "node:fs";
import { PassThrough } from "node:stream";
import ffmpeg, { type FfmpegCommand } from "fluent-ffmpeg";
import type { CodecData } from "../refusals.js";

export type HostRequest =
  | {
      op: "run";
      id: number;
      ffmpegPath: string;
      /** The video file; without one, ffmpeg reads its stdin, fed later ("feed"). */
      file?: string;
      inputOptions: string[];
      outputOptions: string[];
      output: string;
    }
  | { op: "feed"; id: number; file: string }
  | { op: "kill"; id: number };

export type HostEvent =
  | { type: "start"; id: number; pid: number }
  | { type: "stderr"; id: number; line: string }
  | { type: "codecData"; id: number; data: CodecData }
  | { type: "exit"; id: number; error?: string };

interface Run {
  command: FfmpegCommand;
  stdin?: PassThrough;
  source?: ReadStream;
  killed: boolean;
}

const runs = new Map<number, Run>();

function send(event: HostEvent): void {
  // The function process may be gone: 'disconnect' below ends this one.
  if (process.connected) process.send?.(event);
}

function run(request: Extract<HostRequest, { op: "run" }>): void {
  const { id } = request;
  const stdin = request.file === undefined ? new PassThrough() : undefined;
  const command = ffmpeg(request.file ?? stdin)
    .setFfmpegPath(request.ffmpegPath)
    .inputOptions(request.inputOptions)
    .outputOptions(request.outputOptions)
    .output(request.output);
  const entry: Run = { command, stdin, killed: false };
  runs.set(id, entry);
  command.on("start", () => {
    // fluent-ffmpeg spawns asynchronously: a run killed before that is killed now. Its private
    // ffmpegProc gives the pid, which the function process signals itself (SIGSTOP, and SIGKILL should this host die).
    const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
    if (entry.killed) proc?.kill("SIGKILL");
    else if (proc?.pid) send({ type: "start", id, pid: proc.pid });
  });
  command.on("stderr", (line: string) => send({ type: "stderr", id, line }));
  command.on("codecData", (data: CodecData) => send({ type: "codecData", id, data }));
  command.on("error", (err: Error) => finish(id, err.message));
  command.on("end", () => finish(id));
  command.run();
}

function finish(id: number, error?: string): void {
  runs.get(id)?.source?.destroy();
  runs.delete(id);
  send({ type: "exit", id, ...(error === undefined ? {} : { error }) });
}

function feed(id: number, file: string): void {
  const entry = runs.get(id);
  if (!entry?.stdin) return;
  const source = createReadStream(file);
  // fluent-ffmpeg reports an input stream's error as the run's error, and kills ffmpeg.
  source.on("error", (err) => entry.stdin?.destroy(err));
  source.pipe(entry.stdin);
  entry.source = source;
}

function kill(id: number): void {
  const entry = runs.get(id);
  if (!entry) return;
  entry.killed = true;
  entry.source?.destroy();
  entry.command.kill("SIGKILL");
}

process.on("message", (request: HostRequest) => {
  if (request.op === "run") run(request);
  else if (request.op === "feed") feed(request.id, request.file);
  else kill(request.id);
});

// The function process is gone (even killed): so are its ffmpegs, stopped ones included.
process.on("disconnect", () => {
  for (const id of runs.keys()) kill(id);
  process.exit(0);
});
