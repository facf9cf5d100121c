// The ffmpeg host (decode/host/ffmpeg-host.ts), for real: a host that dies, and processes that end.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { VideoError } from "../../../../../../functions/face-recognition/pipeline/errors.js";
import { startDecoder } from "../../../../../../functions/face-recognition/pipeline/decode/host/host-decoder.js";
import { FfmpegHostError } from "../../../../../../functions/face-recognition/pipeline/decode/host/ffmpeg-remote.js";
import { exited, processesBelow } from "../../../../../../lib/process.js";
import { eventually } from "../../../../../support/wait.js";

const dir = mkdtempSync(join(tmpdir(), "ffmpeg-remote-test-"));
const long = join(dir, "long.mp4");
const options = { fps: 2, maxWidth: 640, maxSeconds: 600, maxPixels: 4096 * 2304, inputFormat: "mov" as const };

const ourProcesses = (name: string) =>
  processesBelow(process.pid)
    .filter((p) => p.comm === name || p.args.includes(name))
    .map((p) => p.pid);

/** Runs `body` in a process of its own (the decoder's modules imported), with `env` added; its printed JSON. */
async function runScript(body: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  const script = join(dir, `script-${Math.random().toString(36).slice(2)}.mts`);
  const src = (path: string) => JSON.stringify(join(process.cwd(), path));
  writeFileSync(
    script,
    `import { readFileSync } from "node:fs";
import { startDecoder } from ${src("functions/face-recognition/pipeline/decode/host/host-decoder.ts")};
import { readFrames, startDecoderAhead, useDecoder } from ${src("functions/face-recognition/pipeline/decode/decoder.ts")};
import { commandLine, descendantsOf } from ${src("lib/process.ts")};
const options = ${JSON.stringify(options)};
useDecoder("host");
${body}
`,
  );
  const run = spawnSync(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

beforeAll(() => {
  execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10:duration=20", long]);
});

describe("the ffmpeg host", () => {
  it("dies mid-video: the decode fails as the host's failure, not the video's; its ffmpeg stops; the next decode starts another host", async () => {
    const frames = startDecoder(long, options).frames();
    expect((await frames.next()).done).toBe(false);
    const [host] = ourProcesses("ffmpeg-host");
    const [ffmpeg] = ourProcesses("ffmpeg").filter((pid) => pid !== host);
    expect(host && ffmpeg).toBeTruthy();

    process.kill(host as number, "SIGKILL");
    const failure = await (async () => {
      for await (const _ of frames);
    })().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FfmpegHostError);
    expect(failure).not.toBeInstanceOf(VideoError);
    expect((failure as Error).message).toMatch(/ffmpeg host process exited \(SIGKILL\)/);
    expect(await eventually(() => exited(ffmpeg as number))).toBe(true);

    let count = 0;
    for await (const _ of startDecoder(long, options).frames()) count++;
    expect(count).toBe(40);
    expect(ourProcesses("ffmpeg-host").filter((pid) => !exited(pid))).not.toContain(host);
  });

  it("gives the host and ffmpeg no credentials: ffmpeg parses untrusted input", async () => {
    const secret = "not-for-ffmpeg-0123456789";
    const { ownSecret, processes } = (await runScript(
      `const frames = startDecoder(${JSON.stringify(long)}, options).frames();
await frames.next();
const processes = descendantsOf(process.pid).map((pid) => ({ pid, args: commandLine(pid), environ: readFileSync(\`/proc/\${pid}/environ\`, "utf8") }));
await frames.return(undefined);
console.log(JSON.stringify({ ownSecret: process.env.AWS_SECRET_ACCESS_KEY, processes }));`,
      { AWS_SECRET_ACCESS_KEY: secret },
    )) as { ownSecret: string; processes: { args: string; environ: string }[] };
    expect(ownSecret).toBe(secret);
    const started = processes.filter((p) => p.args.includes("ffmpeg-host") || p.args.startsWith("ffmpeg "));
    expect(started).toHaveLength(2);
    for (const { environ } of started) {
      expect(environ).toContain("PATH=");
      expect(environ).not.toContain(secret);
    }
  });

  it("never keeps a process alive: one that decodes and leaves a decoder waiting exits, and its host, ffmpeg and sockets go with it", async () => {
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);
    const { count, processes } = (await runScript(
      `let count = 0;
for await (const _ of readFrames(${JSON.stringify(long)}, options)) count++;
startDecoderAhead(options);
await new Promise((r) => setTimeout(r, 1000));
const processes = descendantsOf(process.pid).map((pid) => ({ pid, args: commandLine(pid) }));
console.log(JSON.stringify({ count, processes }));`,
      { TMPDIR: tmp },
    )) as { count: number; processes: { pid: number; args: string }[] };
    expect(count).toBe(40);
    // The host, and the ffmpeg it keeps waiting for a next video (tsx has its own helper too).
    expect(processes.filter((p) => p.args.includes("ffmpeg-host"))).toHaveLength(1);
    expect(processes.filter((p) => p.args.startsWith("ffmpeg "))).toHaveLength(1);
    expect(await eventually(() => processes.every((p) => exited(p.pid)))).toBe(true);
    // Its socket folder too (tsx keeps a cache there).
    expect(readdirSync(tmp).filter((name) => name.startsWith("facerec-"))).toEqual([]);
  });
});
