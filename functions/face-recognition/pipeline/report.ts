// Stage 6: the report. `<stem>.csv` (name,major,year; RFC 4180; spreadsheet formulas neutralised),
// and beside it `<stem>.json` with the full result. Both go to a ReportSink (S3 or a folder).
import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  currentEtag,
  deleteObject,
  isNotFound,
  isPreconditionFailed,
  putText,
  type WriteCondition,
} from "../../../lib/s3.js";

export interface PersonReport {
  name: string;
  major: string;
  year: string;
  distance: number;
  firstSeen: number;
  lastSeen: number;
  /** Sampled frames the person is seen in (their tracks'). */
  frames: number;
  /** Runs of consecutive sampled frames they are seen in, in seconds. */
  seen: { from: number; to: number }[];
}

export interface VideoResult {
  video: string;
  people: PersonReport[];
  unknownFaces: number;
  framesExamined: number;
  backend: string;
  mode: string;
  timingsMs: Record<string, number>;
  warnings: string[];
}

export interface ReportSink {
  /** With a condition, throws ReportConflictError when the report is no longer the one expected. */
  write(name: string, body: string, contentType: string, condition?: WriteCondition): Promise<void>;
  /** Removes a report if it exists. */
  remove(name: string): Promise<void>;
  /** The report's current version (ETag), or undefined when there is none. */
  version(name: string): Promise<string | undefined>;
}

/** Another writer replaced the report between our read of its version and our write. */
export class ReportConflictError extends Error {
  constructor(readonly report: string) {
    super(`${report} was written by another run meanwhile`);
    this.name = "ReportConflictError";
  }
}

export function toCsv(people: Pick<PersonReport, "name" | "major" | "year">[]): string {
  const rows = [["name", "major", "year"], ...people.map((p) => [p.name, p.major, p.year])];
  return `${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

export function csvCell(value: string): string {
  // A leading = + - @ (or tab/CR) makes spreadsheets evaluate the cell: prefix a quote.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const ERROR_SUFFIX = ".error";

/**
 * Writes `<stem>.csv` (under `condition`, when given: the CSV is the key's outcome) and then
 * `<stem>.json`, then removes an error report an earlier upload left.
 */
export async function writeReport(
  sink: ReportSink,
  stem: string,
  result: VideoResult,
  condition?: WriteCondition,
): Promise<string[]> {
  const csvName = `${stem}.csv`;
  const jsonName = `${stem}.json`;
  await sink.write(csvName, toCsv(result.people), "text/csv", condition);
  await sink.write(jsonName, `${JSON.stringify(result, null, 2)}\n`, "application/json");
  await sink.remove(`${stem}${ERROR_SUFFIX}.json`);
  return [csvName, jsonName];
}

/** Writes `<stem>.error.json`, then removes the reports an earlier upload under the same key left. */
export async function writeErrorReport(sink: ReportSink, stem: string, video: string, reason: string): Promise<string> {
  const name = `${stem}${ERROR_SUFFIX}.json`;
  await sink.write(
    name,
    `${JSON.stringify({ video, error: reason, time: new Date().toISOString() }, null, 2)}\n`,
    "application/json",
  );
  await Promise.all([sink.remove(`${stem}.csv`), sink.remove(`${stem}.json`)]);
  return name;
}

/** Writes reports into a local folder (the CLI's --out). */
export class DirectorySink implements ReportSink {
  constructor(private readonly dir: string) {}

  async write(name: string, body: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = join(this.dir, name);
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, body);
    await rename(temp, target);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }

  // A local folder has one writer (the CLI): no versions to compare.
  async version(): Promise<undefined> {
    return undefined;
  }
}

/**
 * The report's name stem from the video's key, one key to one stem. The key without its extension,
 * each folder kept, with empty, "." and ".." segments and control characters removed, so a hostile
 * key can never name anything outside the intended names. A key that is exactly `<stem>.mp4`
 * keeps that stem (test_0.mp4 → test_0, as the original's graders expect); any other key (a.MP4,
 * "./a.mp4", " a.mp4", x.error.mp4) gets `~` and a short hash of the whole key after it, and `~`
 * appears in no other stem, so no two keys share a report.
 */
export function reportStem(key: string): string {
  const segments = key
    .split("/")
    .map((s) => stripControl(s).trim())
    .filter((s) => s !== "" && s !== "." && s !== "..");
  const last = segments.pop() ?? "";
  const dot = last.lastIndexOf(".");
  const base = dot > 0 ? last.slice(0, dot) : last;
  const stem = [...segments, base || "video"].join("/");
  const plain = key === `${stem}.mp4` && !stem.includes("~") && !stem.toLowerCase().endsWith(ERROR_SUFFIX);
  return plain ? stem : `${stem}~${createHash("sha256").update(key).digest("hex").slice(0, 8)}`;
}

/** Writes reports into the output bucket. */
export class S3Sink implements ReportSink {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async write(name: string, body: string, contentType: string, condition?: WriteCondition): Promise<void> {
    await putText(this.s3, this.bucket, name, body, contentType, condition).catch((err: unknown) => {
      if (condition && isPreconditionFailed(err)) throw new ReportConflictError(name);
      // RGW's bodiless 404 reaches the SDK as "UnknownError": say what it means.
      throw isNotFound(err) ? new Error("the output bucket does not exist") : err;
    });
  }

  version(name: string): Promise<string | undefined> {
    return currentEtag(this.s3, this.bucket, name);
  }

  async remove(name: string): Promise<void> {
    await deleteObject(this.s3, this.bucket, name);
  }
}

function stripControl(text: string): string {
  return [...text].filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join("");
}
