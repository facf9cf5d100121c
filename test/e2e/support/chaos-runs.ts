// The function's runs per upload key, counted from its own log lines across every start of the
// function: how each run ended, which content it reported, and how many runs repeat work already
// done or asked for once (duplicates), beside the faults that explain them.
import type { LogLine } from "./chaos-gateway.js";

/** One upload: the clip (cse546 video name) now at `key`, with its ETag. */
export interface Upload {
  key: string;
  clip: string;
  etag: string;
}

export type RunEnd = "done" | "superseded" | "refused" | "not found" | "abandoned" | "failed";

const ENDS: Record<string, RunEnd> = {
  "video done": "done",
  "video superseded": "superseded",
  "video refused": "refused",
  "video not found": "not found",
  "video abandoned": "abandoned",
  "video failed": "failed",
};

export interface FunctionRun {
  key: string;
  incarnation: number;
  end?: RunEnd;
  /** The clip a finished run reported (from the people it named). */
  clip?: string;
  /** No end line, and its process was killed: the run was cut off. */
  cutOff: boolean;
}

/** What the chaos test knows of one start of the function. */
export interface RunLog {
  number: number;
  lines: readonly LogLine[];
  killed: boolean;
}

/** Every run ("video started") with its end, matched by request id within one start of the function. */
export function functionRuns(logs: readonly RunLog[], clipNaming: (people: string[]) => string): FunctionRun[] {
  const runs: FunctionRun[] = [];
  for (const log of logs) {
    const open = new Map<string, FunctionRun>();
    for (const line of log.lines) {
      const id = `${String(line.requestId)}\0${String(line.videoKey)}`;
      if (line.msg === "video started") {
        const run: FunctionRun = { key: String(line.videoKey), incarnation: log.number, cutOff: false };
        open.set(id, run);
        runs.push(run);
        continue;
      }
      const end = ENDS[line.msg ?? ""];
      const run = end ? open.get(id) : undefined;
      if (!run || !end) continue;
      run.end = end;
      if (end === "done") run.clip = clipNaming((line.people as string[] | undefined) ?? []);
      open.delete(id);
    }
    for (const run of open.values()) run.cutOff = log.killed;
  }
  return runs;
}

export interface KeyRow {
  key: string;
  uploads: string;
  runs: number;
  done: string;
  superseded: number;
  cutOff: number;
  /** Runs beyond one per upload, or the same content reported more often than it was uploaded. */
  duplicates: number;
  /** Faults that hit this key: its runs cut off, and the killed trigger replica's claim on it. */
  interruptions: number;
}

const counts = (values: string[]) => {
  const map = new Map<string, number>();
  for (const v of values) map.set(v, (map.get(v) ?? 0) + 1);
  return map;
};

export function keyRows(uploads: readonly Upload[], runs: readonly FunctionRun[], heldByKilled: ReadonlySet<string>) {
  const keys = [...new Set(uploads.map((u) => u.key))];
  return keys.map((key): KeyRow => {
    const ups = uploads.filter((u) => u.key === key);
    const mine = runs.filter((r) => r.key === key);
    const uploaded = counts(ups.map((u) => u.clip));
    const done = counts(mine.filter((r) => r.end === "done").map((r) => r.clip ?? "?"));
    const repeatedContent = [...done].reduce((sum, [clip, n]) => sum + Math.max(0, n - (uploaded.get(clip) ?? 0)), 0);
    const cutOff = mine.filter((r) => r.cutOff).length;
    return {
      key,
      uploads: ups.map((u) => u.clip).join("→"),
      runs: mine.length,
      done: [...done].map(([clip, n]) => (n > 1 ? `${clip}×${n}` : clip)).join(" "),
      superseded: mine.filter((r) => r.end === "superseded").length,
      cutOff,
      duplicates: Math.max(mine.length - ups.length, repeatedContent),
      interruptions: cutOff + (heldByKilled.has(key) ? 1 : 0),
    };
  });
}

/** A fixed-width text table of the rows, with a totals line. */
export function formatRows(rows: readonly KeyRow[]): string {
  const header = ["key", "uploads", "runs", "done", "superseded", "cut off", "duplicates", "interruptions"];
  const sum = (pick: (r: KeyRow) => number) => String(rows.reduce((s, r) => s + pick(r), 0));
  const body = rows.map((r) => [
    r.key,
    r.uploads,
    String(r.runs),
    r.done,
    String(r.superseded),
    String(r.cutOff),
    String(r.duplicates),
    String(r.interruptions),
  ]);
  const total = [
    "total",
    String(rows.reduce((s, r) => s + r.uploads.split("→").length, 0)),
    sum((r) => r.runs),
    "",
    sum((r) => r.superseded),
    sum((r) => r.cutOff),
    sum((r) => r.duplicates),
    sum((r) => r.interruptions),
  ];
  const table = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] as string).length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join("  ")).join("\n");
}
