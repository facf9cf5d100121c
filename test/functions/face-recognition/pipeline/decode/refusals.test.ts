import { describe, expect, it } from "vitest";
import {
  checkInput,
  describeFfmpegFailure,
} from "../../../../../functions/face-recognition/pipeline/decode/refusals.js";

const limits = { maxSeconds: 600, maxPixels: 4096 * 2304, maxAspect: 8, maxFps: 30 };
const header = (...details: string[]) => ({ video: "h264", duration: "00:00:02.00", video_details: details });

describe("checkInput", () => {
  it("requires a video stream", () => {
    expect(checkInput({ video: "", duration: "00:00:02.00" }, limits)).toBe("the file has no video stream");
    expect(checkInput(header("h264", "yuv420p", "640x360"), limits)).toBeUndefined();
  });

  it("reads the stated size and rate as ffmpeg prints them: wide as well as tall, 29.97 fps, 2k fps", () => {
    expect(checkInput(header("h264", "yuv420p", "16384x64 [SAR 1:1 DAR 256:1]", "30 fps"), limits)).toBe(
      "the video's frames are 16384×64, an aspect ratio of 256:1, over the limit of 8:1",
    );
    expect(checkInput(header("h264", "yuv420p", "1280x160", "29.97 fps", "30 tbr"), limits)).toBeUndefined();
    expect(checkInput(header("h264", "yuv420p", "1280x720", "59.94 fps"), limits)).toBe(
      "the video runs at 59.94 frames per second, over the limit of 30",
    );
    expect(checkInput(header("h264", "yuv420p", "1280x720", "2k fps", "2k tbr"), limits)).toBe(
      "the video runs at 2000 frames per second, over the limit of 30",
    );
  });

  it("refuses a stated duration over the limit", () => {
    expect(checkInput({ ...header("h264"), duration: "00:10:00.50" }, limits)).toBe(
      "the video lasts 600.5 s, over the limit of 600 s",
    );
  });
});

describe("describeFfmpegFailure", () => {
  const failed = new Error("ffmpeg exited with code 1");

  it("names a known cause, and the frame size the decoder refused", () => {
    expect(describeFfmpegFailure(failed, ["[mov,mp4] moov atom not found", "x: Invalid data"])).toBe(
      "the MP4 is incomplete or damaged (no index: moov atom not found)",
    );
    expect(describeFfmpegFailure(failed, ["Picture size 8000x8000 exceeds specified max pixel count 9437184"])).toBe(
      "the video's frames are 8000×8000, over the limit of 9437184 pixels",
    );
  });

  it("otherwise quotes ffmpeg's last words, not its progress lines", () => {
    expect(describeFfmpegFailure(failed, ["something odd", "frame=  10 fps=0.0", "it broke"])).toBe(
      "ffmpeg could not decode the video: something odd; it broke",
    );
  });
});
