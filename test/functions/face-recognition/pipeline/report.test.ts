import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  csvCell,
  DirectorySink,
  reportStem,
  toCsv,
  type VideoResult,
  writeErrorReport,
  writeReport,
} from "../../../../functions/face-recognition/pipeline/report.js";
import { videoResult } from "../../../support/fixtures.js";

describe("toCsv", () => {
  it("writes the header and one row per person", () => {
    expect(toCsv([{ name: "floki", major: "history", year: "junior" }])).toBe(
      "name,major,year\r\nfloki,history,junior\r\n",
    );
  });

  it("writes the header alone when nobody was identified", () => {
    expect(toCsv([])).toBe("name,major,year\r\n");
  });

  it("quotes per RFC 4180 and neutralises spreadsheet formulas", () => {
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-2")).toBe("'-2");
    expect(csvCell("@sum")).toBe("'@sum");
    expect(csvCell("line\nbreak")).toBe('"line\nbreak"');
  });
});

describe("reportStem", () => {
  it.each([
    ["test_0.mp4", "test_0"],
    ["class 1/test 0.mp4", "class 1/test 0"],
    ["a+b ü.mp4", "a+b ü"],
  ])("keeps the stem of a plain key: %j → %j", (key, stem) => {
    expect(reportStem(key)).toBe(stem);
  });

  it.each([
    ["class 1/test 0.MP4", "class 1/test 0"],
    ["../../etc/passwd.mp4", "etc/passwd"],
    ["./x/../y.mp4", "x/y"],
    ["noext", "noext"],
    [".mp4", ".mp4"],
    ["dir/", "dir"],
    ["a\u0000b.mp4", "ab"],
    ["x.error.mp4", "x.error"],
    ["a~1.mp4", "a~1"],
  ])("names any other key safely, with a hash of the key: %j → %j~…", (key, stem) => {
    expect(reportStem(key)).toMatch(new RegExp(`^${stem.replace(/[.+]/g, "\\$&")}~[0-9a-f]{8}$`));
  });

  it("gives every key a report of its own", () => {
    const keys = [
      "a.mp4",
      "a.MP4",
      "./a.mp4",
      " a.mp4",
      "a.mp4 ",
      "a",
      "a.mov",
      "x.mp4",
      "x.error.mp4",
      "d/a.mp4",
      "d//a.mp4",
    ];
    const names = keys.flatMap((key) => {
      const stem = reportStem(key);
      return [`${stem}.csv`, `${stem}.json`, `${stem}.error.json`];
    });
    expect(new Set(names).size).toBe(names.length);
    // Hashed stems never take the form of a plain one, whatever the key.
    expect(reportStem(`${reportStem("a.MP4")}.mp4`)).not.toBe(reportStem("a.MP4"));
  });
});

describe("writeReport", () => {
  it("writes the CSV and the full JSON result side by side", async () => {
    const dir = mkdtempSync(join(tmpdir(), "report-"));
    const result: VideoResult = {
      video: "v.mp4",
      people: [
        {
          name: "amy",
          major: "",
          year: "",
          distance: 0.3,
          firstSeen: 0,
          lastSeen: 1,
          frames: 3,
          seen: [{ from: 0, to: 1 }],
        },
      ],
      unknownFaces: 1,
      framesExamined: 3,
      backend: "wasm",
      mode: "all",
      timingsMs: { decode: 1 },
      warnings: [],
    };
    expect(await writeReport(new DirectorySink(dir), "v", result)).toEqual(["v.csv", "v.json"]);
    expect(readFileSync(join(dir, "v.csv"), "utf8")).toBe("name,major,year\r\namy,,\r\n");
    expect(JSON.parse(readFileSync(join(dir, "v.json"), "utf8"))).toEqual(result);
  });
});

describe("a new report for a key", () => {
  const result = videoResult("v.mp4");

  it("removes the error report an earlier upload left, and the reverse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "report-"));
    const sink = new DirectorySink(dir);
    expect(await writeErrorReport(sink, "v", "v.mp4", "not a video")).toBe("v.error.json");
    expect(readdirSync(dir).sort()).toEqual(["v.error.json"]);
    await writeReport(sink, "v", result);
    expect(readdirSync(dir).sort()).toEqual(["v.csv", "v.json"]);
    await writeErrorReport(sink, "v", "v.mp4", "not a video");
    expect(readdirSync(dir).sort()).toEqual(["v.error.json"]);
  });
});
