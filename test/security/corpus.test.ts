// The hostile corpus through the command line and through the pipeline in-process: every case
// gets its own plain reason within seconds, ffmpeg never follows a reference inside an upload,
// and memory stays bounded (huge frames are never materialised).
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../lib/config.js";
import { readRecognitionSettings } from "../../functions/face-recognition/config.js";
import { importGalleryFile } from "../../functions/face-recognition/gallery-import/import.js";
import { loadGallery, saveGallery } from "../../functions/face-recognition/gallery/storage.js";
import { type Analyzer, analyzeVideo } from "../../functions/face-recognition/pipeline/analyze.js";
import { VideoError } from "../../functions/face-recognition/pipeline/errors.js";
import { readFrames } from "../../functions/face-recognition/pipeline/decode/decoder.js";
import { makeAnalyzer, openStudents, startEngine } from "../../functions/face-recognition/runtime.js";
import { requireData } from "../support/data.js";
import { elapse } from "../support/wait.js";
import { buildHostileCorpus, CORPUS_LIMITS, type HostileCase } from "../support/hostile-corpus.js";
import { peakKb, sampleDescendantPeaks } from "./memory.js";

const exec = promisify(execFile);
const data = requireData();
const limitsEnv = Object.fromEntries(Object.entries(CORPUS_LIMITS).map(([k, v]) => [k, String(v)]));

describe.skipIf(!data)("hostile uploads", () => {
  const dir = data as string;
  const work = mkdtempSync(join(tmpdir(), "sec-corpus-"));
  const gallery = join(work, "gallery.json");
  const students = join(dir, "cse546", "student_data.json");
  let cases: HostileCase[];

  beforeAll(async () => {
    cases = buildHostileCorpus(work, join(dir, "cse546", "videos", "test_0.mp4"));
    await saveGallery(gallery, await importGalleryFile(join(dir, "cse546", "encoding.pickle")));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("the CLI gives each its reason on one stderr line, and a header-only CSV for videos with nobody known", async () => {
    const local = cases.filter((c) => !c.s3Only);
    let stdout = "";
    let stderr = "";
    try {
      await exec(
        "npx",
        [
          "tsx",
          "functions/face-recognition/cli.ts",
          "recognize",
          ...local.map((c) => c.file),
          "--gallery",
          gallery,
          "--students",
          students,
          "--json",
        ],
        {
          env: { ...process.env, ...limitsEnv, STUDENTS_TABLE: "", GALLERY: "" },
          maxBuffer: 10_000_000,
          timeout: 90_000,
        },
      );
      throw new Error("the CLI should exit non-zero");
    } catch (err) {
      ({ stdout, stderr } = err as { stdout: string; stderr: string });
      expect((err as { code: number }).code).toBe(1);
    }
    const results = stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { video: string; people: unknown[] });
    for (const c of local) {
      const line = stderr.split("\n").find((l) => l.startsWith(`facerec: ${c.file}: `));
      if (c.reason) {
        expect(line, c.name).toBeDefined();
        expect((line as string).slice(`facerec: ${c.file}: `.length), c.name).toMatch(c.reason);
      } else {
        expect(line, c.name).toBeUndefined();
        expect(results.find((r) => r.video === c.file)?.people, c.name).toEqual([]);
      }
    }
    // Not one line of ffmpeg noise or stack trace: only the per-file lines.
    expect(
      stderr
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("facerec: ")),
    ).toEqual([]);
  });

  describe("in-process, with peak memory", () => {
    let analyzer: Analyzer;
    const table: Record<string, unknown>[] = [];

    beforeAll(async () => {
      const settings = readSettings({ ...limitsEnv }, (read) => readRecognitionSettings(read));
      analyzer = makeAnalyzer(
        settings,
        await startEngine(settings),
        await loadGallery(gallery),
        await openStudents({ kind: "file", file: students }, () => {
          throw new Error("no database in this test");
        }),
      );
      // Warm up: the models' first run allocates what every later run reuses.
      await analyzeVideo(join(dir, "cse546", "videos", "test_0.mp4"), "warm-up", analyzer);
    });
    afterAll(() => console.log(`hostile corpus, in-process:\n${JSON.stringify(table, null, 1)}`));

    it("refuses each case with its reason within seconds; huge frames never reach memory", async () => {
      const before = peakKb();
      for (const c of cases.filter((x) => !x.s3Only)) {
        const started = performance.now();
        // ffmpeg runs under this process's ffmpeg host, a grandchild.
        const watch = sampleDescendantPeaks(process.pid, "ffmpeg");
        let reason: string | undefined;
        let people: unknown[] | undefined;
        try {
          people = (await analyzeVideo(c.file, c.name, analyzer)).people;
        } catch (err) {
          expect(err, c.name).toBeInstanceOf(VideoError);
          reason = (err as Error).message;
        }
        const ffmpegPeakKb = await watch.stop();
        const ms = Math.round(performance.now() - started);
        table.push({
          case: c.name,
          reason: reason ?? "header-only CSV",
          ms,
          ffmpegPeakMb: Math.round(ffmpegPeakKb / 1024),
        });
        if (c.reason) expect(reason, c.name).toMatch(c.reason);
        else expect(people, c.name).toEqual([]);
        expect(ms, c.name).toBeLessThan(10_000);
        // A 16K RGB frame alone is 400 MB; the decoder refuses it before allocating.
        expect(ffmpegPeakKb, c.name).toBeLessThan(200 * 1024);
      }
      const grown = peakKb() - before;
      table.push({ processPeakMb: Math.round(peakKb() / 1024), grownMb: Math.round(grown / 1024) });
      expect(grown).toBeLessThan(100 * 1024);
    });
  });

  it("the crafted external data reference is real: ffmpeg opens it when enable_drefs is on, never as the function runs it", () => {
    const file = cases.find((c) => c.name === "external-dref")?.file as string;
    const run = (extra: string[]) => {
      try {
        return execFileSync(
          "ffmpeg",
          [
            "-hide_banner",
            "-nostdin",
            "-protocol_whitelist",
            "file",
            "-f",
            "mov",
            ...extra,
            "-i",
            file,
            "-f",
            "null",
            "-",
          ],
          { stdio: "pipe" },
        ).toString();
      } catch (err) {
        return String((err as { stderr: Buffer }).stderr);
      }
    };
    expect(run(["-enable_drefs", "1"])).toMatch(
      /Opening '.*passwd' for reading|error opening alias: path='\/etc\/passwd'/,
    );
    const asFunction = run([]);
    expect(asFunction).toContain("Skipped opening external track");
    expect(asFunction).not.toMatch(/Opening '.*passwd'/);
  });

  it("ffmpeg, as the function runs it, opens no address or file named inside a playlist even past the content check", async () => {
    let connections = 0;
    const server = createServer((_req, res) => {
      connections++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    // A FIFO with no writer: were ffmpeg to open it, it would block there and the test time out.
    const marker = join(work, "fifo");
    execFileSync("mkfifo", [marker]);
    const playlists = {
      hls: `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://127.0.0.1:${port}/a.ts\n#EXTINF:2,\n${marker}\n`,
      ffconcat: `ffconcat version 1.0\nfile 'http://127.0.0.1:${port}/b.mp4'\nfile '${marker}'\n`,
    };
    try {
      for (const [name, text] of Object.entries(playlists)) {
        const file = join(work, `${name}-direct.mp4`);
        writeFileSync(file, text);
        const frames = readFrames(file, {
          fps: 2,
          maxWidth: 640,
          maxSeconds: 10,
          maxPixels: 1e7,
          inputFormat: "mov",
          threads: 1,
        });
        await expect(frames.next(), name).rejects.toThrow(VideoError);
      }
      await elapse(200); // a quiet period: no late connection from a decoder still winding down
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });
});
