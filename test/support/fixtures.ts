// Small fixtures several tests build the same way.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PersonReport, VideoResult } from "../../functions/face-recognition/pipeline/report.js";

/** A gallery file's content from the original encoding (cse546/encoding.json in the shared data). */
export function cse546Gallery(dataDir: string): string {
  const encoding = JSON.parse(readFileSync(join(dataDir, "cse546/encoding.json"), "utf8")) as {
    entries: { name: string; descriptor: number[] }[];
  };
  return JSON.stringify({
    format: "facerec-gallery",
    version: 1,
    model: "dlib-resnet",
    people: encoding.entries.map((e) => ({ name: e.name, descriptors: [e.descriptor] })),
  });
}

/** A video's result naming `names` (as seen once, close), for tests of what happens to reports. */
export function videoResult(video: string, names: string[] = []): VideoResult {
  const people: PersonReport[] = names.map((name) => ({
    name,
    major: "",
    year: "",
    distance: 0.3,
    firstSeen: 0,
    lastSeen: 0,
    frames: 1,
    seen: [{ from: 0, to: 0 }],
  }));
  return {
    video,
    people,
    unknownFaces: 0,
    framesExamined: 1,
    backend: "wasm",
    mode: "all",
    timingsMs: {},
    warnings: [],
  };
}
