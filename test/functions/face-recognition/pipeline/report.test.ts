import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  csvCell,
  DirectorySink,
  reportStem,
  toCsv,
  type VideoResult,
  writeReport,
} from "../../../../functions/face-recognition/pipeline/report.js";

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
    ["class 1/test 0.MP4", "class 1/test 0"],
    ["a+b ü.mp4", "a+b ü"],
    ["../../etc/passwd.mp4", "etc/passwd"],
    ["./x/../y.mp4", "x/y"],
    ["noext", "noext"],
    [".mp4", ".mp4"],
    ["dir/", "dir"],
    ["a\u0000b.mp4", "ab"],
  ])("%j → %j", (key, stem) => {
    expect(reportStem(key)).toBe(stem);
  });
});

describe("writeReport", () => {
  it("writes the CSV and the full JSON result side by side", async () => {
    const dir = mkdtempSync(join(tmpdir(), "report-"));
    const result: VideoResult = {
      video: "v.mp4",
      people: [{ name: "amy", major: "", year: "", distance: 0.3, firstSeen: 0, lastSeen: 1, frames: 3 }],
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
