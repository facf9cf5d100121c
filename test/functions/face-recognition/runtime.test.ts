import { describe, expect, it } from "vitest";
import { readSettings } from "../../../lib/config.js";
import { readRecognitionSettings } from "../../../functions/face-recognition/config.js";
import { frameOptions } from "../../../functions/face-recognition/runtime.js";

const options = (env: Record<string, string>) => frameOptions(readSettings(env, readRecognitionSettings));

describe("frameOptions", () => {
  it("decodes full 1080p frames in all mode (small faces), and at the first pass's width in first mode", () => {
    expect(options({}).maxWidth).toBe(1920);
    expect(options({ RECOGNITION_MODE: "first" }).maxWidth).toBe(640);
    expect(options({ RECOGNITION_MODE: "first", DETECT_WIDTH: "0" }).maxWidth).toBe(1920);
    expect(options({ RECOGNITION_MODE: "first", FRAME_WIDTH: "480" }).maxWidth).toBe(480);
  });
});
