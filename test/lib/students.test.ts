import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { normalizeStudentYears, normalizeYear } from "../../lib/students.js";
import { requireData } from "../support/data.js";

describe("normalizeYear", () => {
  it("corrects the known misspellings", () => {
    expect(normalizeYear("freshmen")).toBe("freshman");
    expect(normalizeYear(" Freshmen ")).toBe("freshman");
    expect(normalizeYear("seniors")).toBe("senior");
  });

  it("leaves correct and unknown values as they are", () => {
    for (const year of ["freshman", "sophomore", "junior", "senior", "graduate", "", "Senior"]) {
      expect(normalizeYear(year)).toBe(year);
    }
  });
});

describe("normalizeStudentYears", () => {
  it("returns corrected copies and the corrections, without mutating the input", () => {
    const input = [
      { id: 1, name: "mr_bean", major: "lawyer", year: "freshmen" },
      { id: 2, name: "floki", major: "history", year: "junior" },
      { id: 3, name: "no_year", major: "math" },
    ];
    const { records, corrections } = normalizeStudentYears(input);
    expect(records).toEqual([
      { id: 1, name: "mr_bean", major: "lawyer", year: "freshman" },
      { id: 2, name: "floki", major: "history", year: "junior" },
      { id: 3, name: "no_year", major: "math" },
    ]);
    expect(corrections).toEqual([{ name: "mr_bean", from: "freshmen", to: "freshman" }]);
    expect(input[0]?.year).toBe("freshmen");
  });

  it("makes student_data.json agree with the grader's mapping", () => {
    const data = requireData();
    if (!data) return;
    const students = JSON.parse(readFileSync(join(data, "cse546", "student_data.json"), "utf8")) as {
      name: string;
      major: string;
      year: string;
    }[];
    const { records, corrections } = normalizeStudentYears(students);
    expect(corrections).toEqual([{ name: "mr_bean", from: "freshmen", to: "freshman" }]);
    const known = new Set(records.map((s) => `${s.major},${s.year}`));
    const expected = readFileSync(join(data, "cse546", "mapping"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.slice(line.indexOf(":") + 1).trim());
    expect(expected.length).toBeGreaterThan(0);
    for (const answer of expected) expect(known).toContain(answer);
  });
});
