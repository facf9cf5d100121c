// The facerec command line, run as a user runs it.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGallery } from "../../../functions/face-recognition/gallery/storage.js";
import { requireData } from "../../support/data.js";

const exec = promisify(execFile);
const data = requireData();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const repo = resolve(import.meta.dirname, "../../..");

/**
 * facerec as on a fresh machine: run from `cwd` (no .stack.env there), with no AWS, DynamoDB,
 * students or gallery variable and a HOME of its own (no ~/.aws), plus only the variables given.
 */
function facerec(cwd: string, extra: Record<string, string>, ...args: string[]): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(AWS_|DYNAMODB_|STUDENTS_|GALLERY$)/.test(name)),
  );
  const tsx = join(repo, "node_modules", ".bin", "tsx");
  const cli = join(repo, "functions/face-recognition/cli.ts");
  return exec(tsx, [cli, ...args], { cwd, env: { ...env, HOME: cwd, ...extra }, maxBuffer: 10_000_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: Run) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** A local TCP port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe.skipIf(!data)("facerec", () => {
  const dir = data as string;
  const work = mkdtempSync(join(tmpdir(), "cli-test-"));
  const gallery = join(work, "gallery.json");

  beforeAll(async () => {
    const imported = await facerec(
      work,
      {},
      "gallery",
      "import",
      join(dir, "cse546", "encoding.pickle"),
      "--out",
      gallery,
    );
    expect(imported.code).toBe(0);
  });

  it("gallery import writes the 11 people of the original encoding file", async () => {
    const g = await loadGallery(gallery);
    expect(g.model).toBe("dlib-resnet");
    expect(g.people).toHaveLength(11);
  });

  it("recognize --json prints one object per video; a bad video gets one line on stderr and a non-zero exit", async () => {
    const junk = join(work, "junk.mp4");
    writeFileSync(junk, "definitely not a video");
    const videos = ["test_1.mp4", "test_8.mp4"].map((v) => join(dir, "cse546", "videos", v));
    const students = join(dir, "cse546", "student_data.json");
    const out = await facerec(
      work,
      {},
      "recognize",
      videos[0] as string,
      junk,
      videos[1] as string,
      "--gallery",
      gallery,
      "--students",
      students,
      "--json",
    );
    expect(out.code).toBe(1);
    const lines = out.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.video, l.people.map((p: { name: string }) => p.name)])).toEqual([
      [videos[0], ["president_biden"]],
      [videos[1], ["president_obama"]],
    ]);
    // test_1 lasts 2.2 s: frames sampled at 0, 0.5, 1, 1.5 and 2 s.
    expect(lines[0]).toMatchObject({ unknownFaces: 0, framesExamined: 5 });
    expect(Object.keys(lines[0])).toEqual([
      "video",
      "people",
      "unknownFaces",
      "framesExamined",
      "backend",
      "timingsMs",
    ]);
    expect(lines[0].people[0]).toMatchObject({
      name: "president_biden",
      major: "history",
      year: "sophomore",
      // He is in every sampled frame.
      frames: 5,
      firstSeen: 0,
      lastSeen: 2,
    });
    expect(out.stderr.trim()).toBe(`facerec: ${junk}: not an MP4/MOV video: the content looks like text`);
  });

  it("recognize prints the CSV, header only when nobody is known", async () => {
    const out = await facerec(
      work,
      {},
      "recognize",
      join(dir, "videos", "no_face_big_buck_bunny.mp4"),
      "--gallery",
      gallery,
      "--students",
      join(dir, "cse546", "student_data.json"),
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toBe("name,major,year\r\n");
  });

  it("names a wrong option value and the setting behind it", async () => {
    const out = await facerec(work, {}, "recognize", "x.mp4", "--gallery", gallery, "--mode", "sometimes");
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('RECOGNITION_MODE: must be one of all, first, got "sometimes"');
  });

  it("enroll reports photos with no face or several faces by name and skips them", async () => {
    const people = join(work, "people");
    for (const name of ["amy", "raj"]) {
      mkdirSync(join(people, name), { recursive: true });
      for (const n of [1, 2]) copyFileSync(join(dir, "people", name, `${n}.png`), join(people, name, `${n}.png`));
    }
    copyFileSync(join(dir, "extra", "no_face_white.png"), join(people, "raj", "blank.png"));
    copyFileSync(join(dir, "extra", "bbt4.jpg"), join(people, "amy", "group.jpg"));
    const out = await facerec(work, {}, "enroll", people, "--out", join(work, "enrolled.json"));
    expect(out.code).toBe(0);
    expect(out.stderr).toContain("facerec: skipped raj/blank.png: no face found");
    expect(out.stderr).toMatch(/facerec: skipped amy\/group.jpg: \d+ faces found/);
    const g = await loadGallery(join(work, "enrolled.json"));
    expect(g.people.map((p) => [p.name, p.descriptors.length])).toEqual([
      ["amy", 2],
      ["raj", 2],
    ]);
  });

  it("enroll-video adds a person from a segment of a video", async () => {
    const out = await facerec(
      work,
      {},
      "enroll-video",
      join(dir, "cse546", "videos", "test_4.mp4"),
      "--name",
      "johnny",
      "--seconds",
      "2",
      "--out",
      join(work, "from-video.json"),
    );
    expect(out.code).toBe(0);
    const g = await loadGallery(join(work, "from-video.json"));
    expect(g.model).toBe("face-api-facerecognitionnet");
    expect(g.people[0]?.name).toBe("johnny");
    expect(g.people[0]?.descriptors.length).toBeGreaterThan(0);
  });

  describe("recognize with no students source, from a fresh folder", () => {
    const fresh = mkdtempSync(join(tmpdir(), "cli-fresh-"));

    beforeAll(() => {
      copyFileSync(join(dir, "cse546", "videos", "test_1.mp4"), join(fresh, "test_1.mp4"));
      copyFileSync(gallery, join(fresh, "g.json"));
      expect(existsSync(join(fresh, ".stack.env"))).toBe(false);
    });

    /** `recognize test_1.mp4 --gallery g.json` there, with these variables and options. */
    const recognizeThere = (extra: Record<string, string>, ...options: string[]): Promise<Run> =>
      facerec(fresh, extra, "recognize", "test_1.mp4", "--gallery", "g.json", ...options);

    it("prints the names with empty major and year, says why once, and exits 0", async () => {
      const out = await recognizeThere({});
      expect(out.stderr).toBe(
        "facerec: no students source (--students <json> or --table <name>): major and year left empty\n",
      );
      expect(out.stdout).toBe("name,major,year\r\npresident_biden,,\r\n");
      expect(out.code).toBe(0);
    });

    it("a students table asked for and unreachable fails the video, naming the table and the cause, no secret", async () => {
      const port = await closedPort();
      const secret = "s3cr3t-never-printed-0123456789";
      const out = await recognizeThere(
        {
          DYNAMODB_ENDPOINT: `http://127.0.0.1:${port}`,
          AWS_ACCESS_KEY_ID: "AKIDFRESH",
          AWS_SECRET_ACCESS_KEY: secret,
        },
        "--table",
        "students",
      );
      expect(out.code).toBe(1);
      expect(out.stdout).toBe("");
      expect(out.stderr).toBe(
        `facerec: test_1.mp4: students table "students" (DynamoDB) lookup failed: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      );
      expect(out.stderr).not.toContain(secret);
    });

    it("a students file asked for and missing is refused before any video, naming the file", async () => {
      const out = await recognizeThere({}, "--students", "missing.json");
      expect(out.code).toBe(2);
      expect(out.stdout).toBe("");
      expect(out.stderr).toBe(
        "facerec: students file missing.json cannot be used: ENOENT: no such file or directory, open 'missing.json'\n",
      );
    });
  });
});
