// Stage 6: the report. `<stem>.csv` (name,major,year; RFC 4180; spreadsheet formulas neutralised),
// and beside it `<stem>.json` with the full result. Both go to a ReportSink (S3 or a folder).
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { isNotFound, putText } from "../../../lib/s3.js";

export interface PersonReport {
  name: string;
  major: string;
  year: string;
  distance: number;
  firstSeen: number;
  lastSeen: number;
  frames: number;
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
  write(name: string, body: string, contentType: string): Promise<void>;
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

export async function writeReport(sink: ReportSink, stem: string, result: VideoResult): Promise<string[]> {
  const csvName = `${stem}.csv`;
  const jsonName = `${stem}.json`;
  await Promise.all([
    sink.write(jsonName, `${JSON.stringify(result, null, 2)}\n`, "application/json"),
    sink.write(csvName, toCsv(result.people), "text/csv"),
  ]);
  return [csvName, jsonName];
}

export async function writeErrorReport(sink: ReportSink, stem: string, video: string, reason: string): Promise<string> {
  const name = `${stem}.error.json`;
  await sink.write(
    name,
    `${JSON.stringify({ video, error: reason, time: new Date().toISOString() }, null, 2)}\n`,
    "application/json",
  );
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
}

/**
 * The report's name stem from the video's key: the key without its extension, each folder kept
 * (so two folders' test_0.mp4 do not collide), with empty, "." and ".." segments and control
 * characters removed, so a hostile key can never name anything outside the intended names.
 */
export function reportStem(key: string): string {
  const segments = key
    .split("/")
    .map((s) => stripControl(s).trim())
    .filter((s) => s !== "" && s !== "." && s !== "..");
  const last = segments.pop() ?? "";
  const dot = last.lastIndexOf(".");
  const base = dot > 0 ? last.slice(0, dot) : last;
  return [...segments, base || "video"].join("/");
}

/** Writes reports into the output bucket. */
export class S3Sink implements ReportSink {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async write(name: string, body: string, contentType: string): Promise<void> {
    await putText(this.s3, this.bucket, name, body, contentType).catch((err: unknown) => {
      // RGW's bodiless 404 reaches the SDK as "UnknownError": say what it means.
      throw isNotFound(err) ? new Error("the output bucket does not exist") : err;
    });
  }
}

function stripControl(text: string): string {
  return [...text].filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join("");
}
