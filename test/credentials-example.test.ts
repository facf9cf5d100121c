// credentials.env.example documents each default as a commented "# NAME=value" line: setting that
// value must change nothing in the settings the trigger and the function read, or the file has
// drifted from the code.
import { describe, expect, it } from "vitest";
import { readFunctionConfig } from "../functions/face-recognition/config.js";
import { readTriggerSettings } from "../trigger/config.js";
import { parseEnvExample, read } from "./deploy/support/scan.js";

/** Commented lines that show an example value rather than the default (their comments say so). */
const EXAMPLES = new Set([
  "WORKERS", // default: the machine's cores
  "DYNAMODB_ENDPOINT",
  "STUDENTS_FILE",
  "FFMPEG_PATH",
  "MATCH_THRESHOLD", // the match rules default per gallery model
  "MATCH_MARGIN",
  "MIN_DETECTION_SCORE",
  "MIN_FACE_PX",
  "MIN_FRAMES",
  "TRIGGER_ID", // default: host name and process id
  "CALLBACK_URL", // default: the daemon's own address
  "NOTIFY_TOKEN",
]);

const documented = [...parseEnvExample(read("credentials.env.example")).values()].filter(
  (entry) => entry.commented && !EXAMPLES.has(entry.name),
);
const minimal = { S3_AWS_ACCESS_KEY_ID: "k", S3_AWS_SECRET_ACCESS_KEY: "s", GALLERY: "gallery.json" };

describe("credentials.env.example", () => {
  it("documents defaults (the list is not empty: the parser still reads the file)", () => {
    expect(documented.map((e) => e.name)).toEqual(
      expect.arrayContaining(["CLAIM_TIMEOUT_SECONDS", "MAX_ATTEMPTS", "MAX_INFLIGHT", "INVOKE_CONCURRENCY"]),
    );
  });

  it.each(documented.map((entry) => [entry.name, entry.value, entry.line] as const))(
    "%s=%s (line %i) is the code's default",
    (name, value) => {
      expect(readTriggerSettings({ ...minimal, [name]: value })).toEqual(readTriggerSettings(minimal));
      expect(readFunctionConfig({ ...minimal, [name]: value })).toEqual(readFunctionConfig(minimal));
    },
  );
});
